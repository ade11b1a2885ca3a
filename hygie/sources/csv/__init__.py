"""CSV extracts (lab results, pharmacy dispensing, ...) turned into FHIR by a YAML mapping."""

from __future__ import annotations

from hygie.sources.csv.mapping import CsvMapping, load_mapping
from hygie.sources.csv.source import CsvMappingSource

__all__ = ["CsvMapping", "CsvMappingSource", "load_mapping"]
