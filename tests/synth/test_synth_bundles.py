"""The bundles format: one transaction Bundle per patient plus a shared bundle."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from hygie.synth import SynthOptions, generate

from .helpers import R4_RESOURCE_TYPES, references


def test_bundles_are_valid_transactions(tmp_path: Path) -> None:
    out = tmp_path / "bundles"
    summary = generate(SynthOptions(patients=25, seed=11, out_dir=out, format="bundles"))
    shared = orjson.loads((out / "00-shared.json").read_bytes())
    assert shared["resourceType"] == "Bundle" and shared["type"] == "transaction"
    shared_refs = set()
    for entry in shared["entry"]:
        resource = entry["resource"]
        assert entry["request"] == {
            "method": "PUT",
            "url": f"{resource['resourceType']}/{resource['id']}",
        }
        shared_refs.add(f"{resource['resourceType']}/{resource['id']}")
    patient_files = sorted(out.glob("patient-*.json"))
    assert len(patient_files) == 25
    assert sorted(p.name for p in summary.files)[0] == "00-shared.json"
    total = 0
    for path in patient_files:
        bundle = orjson.loads(path.read_bytes())
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        full_urls = set()
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert resource["resourceType"] in R4_RESOURCE_TYPES
            assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", resource["id"])
            assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
            assert entry["request"] == {"method": "POST", "url": resource["resourceType"]}
            full_urls.add(entry["fullUrl"])
        assert sum(e["resource"]["resourceType"] == "Patient" for e in bundle["entry"]) == 1
        for entry in bundle["entry"]:
            for ref in references(entry["resource"]):
                if ref.startswith("#"):
                    continue
                assert ref in full_urls or ref in shared_refs, ref
        total += len(bundle["entry"])
    assert total + len(shared["entry"]) == sum(summary.resources_by_type.values())
    assert (out / "deid-truth.jsonl").exists()
