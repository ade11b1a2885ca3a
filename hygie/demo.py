"""`hygie demo`: a warehouse built from a synthetic population, and what to try next."""

from __future__ import annotations

import time
from pathlib import Path

from hygie.config import Settings
from hygie.synth import SynthOptions, generate
from hygie.terminal import console, table
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse

EXAMPLE_QUERIES = (
    (
        "Patients by sex",
        "SELECT json_extract_string(resource, '$.gender') AS gender, COUNT(*) AS patients "
        "FROM resource WHERE resource_type = 'Patient' GROUP BY 1 ORDER BY 2 DESC",
    ),
    (
        "Most frequent lab and vital-sign codes (LOINC)",
        "SELECT json_extract_string(resource, '$.code.coding[0].code') AS loinc, "
        "json_extract_string(resource, '$.code.coding[0].display') AS display, COUNT(*) AS n "
        "FROM resource WHERE resource_type = 'Observation' GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 5",
    ),
    (
        "Most frequent diagnoses (ICD-10)",
        "SELECT json_extract_string(resource, '$.code.coding[0].code') AS icd10, "
        "json_extract_string(resource, '$.code.text') AS label, COUNT(*) AS n "
        "FROM resource WHERE resource_type = 'Condition' GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 5",
    ),
)


def run_demo(directory: Path, *, patients: int = 200, seed: int = 1) -> None:
    """Generate ``patients`` synthetic patients, ingest them, and show the warehouse."""
    started = time.monotonic()
    data = directory / "synthetic-fhir"
    warehouse = Warehouse(Settings(warehouse=directory / "warehouse"))
    console.print(f"[bold]Hygie demo[/bold] in {directory}")
    console.print(f"1. Generating {patients} synthetic French patients (FHIR R4 NDJSON) …")
    synth = generate(SynthOptions(patients=patients, seed=seed, out_dir=data))
    console.print(
        f"   {sum(synth.resources_by_type.values()):,} resources in {synth.seconds:.1f} s → {data}"
    )
    console.print("2. Ingesting them into the warehouse (raw zone → care zone) …")
    report = ingest(warehouse, [str(data)], command="demo").summary()
    console.print(
        f"   {report['resources_read']:,} resources stored in {report['seconds']:.1f} s, "
        f"{report['quarantined']} quarantined"
    )
    console.print("3. What the warehouse holds:")
    with warehouse.reading() as engine:
        by_type = engine.fetchall(
            "SELECT resource_type, COUNT(*) FROM resource GROUP BY 1 ORDER BY 2 DESC"
        )
        console.print(table("Resources by type", ["resourceType", "count"], by_type))
        for title, query in EXAMPLE_QUERIES:
            result = engine.fetch_arrow(query)
            rows = [tuple(r.values()) for r in result.to_pylist()]
            console.print(table(title, result.column_names, rows))
    console.print(f"Done in {time.monotonic() - started:.1f} s. Try next:")
    console.print(f"  hygie --warehouse {warehouse.path} status")
    console.print(f'  hygie --warehouse {warehouse.path} sql "{EXAMPLE_QUERIES[0][1]}"')
    console.print(f"  hygie --warehouse {warehouse.path} quarantine")
