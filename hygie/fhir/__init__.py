"""The canonical model: FHIR R4 validation, references, FHIRPath and SQL-on-FHIR views."""
