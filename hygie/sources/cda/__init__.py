"""CDA R2 documents (C-CDA and French CI-SIS) → FHIR R4."""

from __future__ import annotations

from hygie.sources.cda.source import CdaSource, map_document

__all__ = ["CdaSource", "map_document"]
