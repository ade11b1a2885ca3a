"""Input formats, one module each, turned into FHIR R4 resources.

The registry below is explicit: a new format is a module with a class following
:class:`hygie.sources.base.Source`, added to :data:`SOURCES`.
"""

from __future__ import annotations

from hygie.sources.base import Source
from hygie.sources.fhir import FhirJsonSource, FhirNdjsonSource

SOURCES: dict[str, Source] = {
    "fhir-ndjson": FhirNdjsonSource(),
    "fhir-json": FhirJsonSource(),
}
