"""ViewDefinitions shipped with Hygie (SQL on FHIR v2 JSON files)."""
