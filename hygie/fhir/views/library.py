"""The ViewDefinitions shipped with Hygie, as JSON files in ``hygie/fhir/views_library/``."""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson

from hygie.fhir.views.view_errors import ViewDefinitionError

_PACKAGE = "hygie.fhir.views_library"


def list_library_views() -> list[str]:
    """Names of the shipped views (file names without ``.json``), sorted.

    >>> "patient_demographics" in list_library_views()
    True
    """
    folder = resources.files(_PACKAGE)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def load_library_view(name: str) -> dict[str, Any]:
    """The shipped ViewDefinition ``name`` as parsed JSON."""
    entry = resources.files(_PACKAGE).joinpath(f"{name}.json")
    if not entry.is_file():
        known = ", ".join(list_library_views())
        raise ViewDefinitionError(f"no shipped view named {name!r}; known views: {known}")
    view: dict[str, Any] = orjson.loads(entry.read_bytes())
    return view
