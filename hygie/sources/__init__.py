"""Input formats, one module each, turned into FHIR R4 resources.

The registry below is explicit: a new format is a module with a class following
:class:`hygie.sources.base.Source`, added to :data:`SOURCES`.
"""

from __future__ import annotations

from hygie.sources.base import Source
from hygie.sources.cda import CdaSource
from hygie.sources.dicom import DicomSource
from hygie.sources.fhir import FhirJsonSource
from hygie.sources.fhir_ndjson import FhirNdjsonSource
from hygie.sources.hl7v2 import Hl7v2Source

SOURCES: dict[str, Source] = {
    "hl7v2": Hl7v2Source(),
    "cda": CdaSource(),
    "dicom": DicomSource(),
    "fhir-ndjson": FhirNdjsonSource(),
    "fhir-json": FhirJsonSource(),
}
