"""SQL on FHIR v2 views: ViewDefinitions compiled into one SQL SELECT run by the engine.

>>> from hygie.fhir.views import compile_view
>>> view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
>>> print(compile_view(view).sql.splitlines()[0])
SELECT view_value1 AS "id"
"""

from __future__ import annotations

from hygie.fhir.views.compiler import CompiledView, ViewColumn, compile_view
from hygie.fhir.views.library import list_library_views, load_library_view
from hygie.fhir.views.runner import materialize_view, run_view
from hygie.fhir.views.view_errors import ViewDefinitionError

__all__ = [
    "CompiledView",
    "ViewColumn",
    "ViewDefinitionError",
    "compile_view",
    "list_library_views",
    "load_library_view",
    "materialize_view",
    "run_view",
]
