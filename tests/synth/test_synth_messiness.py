"""Messiness injects each defect of the catalogue; messiness 0 injects none."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from hygie.synth import SynthOptions, generate
from hygie.synth.identifiers import NIR_SYSTEM, is_valid_nir
from hygie.synth.messiness import LOCAL_CODE_SYSTEM

from .helpers import references


def _lines(out: Path) -> dict[str, list[bytes]]:
    return {p.name.split(".")[0]: p.read_bytes().splitlines() for p in out.glob("*.ndjson")}


def test_messiness_injects_every_defect(tmp_path: Path) -> None:
    out = tmp_path / "messy"
    generate(SynthOptions(patients=150, seed=5, out_dir=out, messiness=1.0))
    malformed, duplicates, changed = 0, 0, 0
    parsed: dict[str, list[dict[str, object]]] = {}
    for kind, lines in _lines(out).items():
        good = []
        for line in lines:
            try:
                good.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                malformed += 1
        parsed[kind] = good
        ids = Counter(str(r["id"]) for r in good)
        duplicates += sum(n - 1 for n in ids.values())
        changed += sum(1 for r in good if r.get("meta") == {"versionId": "2"})
    assert malformed > 0 and duplicates > 0 and changed > 0
    observations = parsed["Observation"]
    assert any("valueQuantity" in o and "unit" not in o["valueQuantity"] for o in observations)  # type: ignore[operator]
    assert any(o["code"]["coding"][0]["system"] == LOCAL_CODE_SYSTEM for o in observations)  # type: ignore[index]
    assert any(
        "valueQuantity" in o
        and o["code"]["coding"][0]["code"] == "29463-7"
        and o["valueQuantity"]["value"] > 350  # type: ignore[index, operator]
        for o in observations
    ) or any("valueQuantity" in o and o["valueQuantity"]["value"] > 70000 for o in observations)  # type: ignore[index, operator]
    assert any(str(o.get("effectiveDateTime", "0"))[:4] > "2026" for o in observations)
    written = {f"{k}/{r['id']}" for k, rs in parsed.items() for r in rs}
    assert any(
        ref not in written
        for rs in parsed.values()
        for r in rs
        for ref in references(r)
        if not ref.startswith("#")
    )
    nirs = [
        next(i["value"] for i in p["identifier"] if i["system"] == NIR_SYSTEM)
        for p in parsed["Patient"]
    ]  # type: ignore[attr-defined]
    assert any(not is_valid_nir(n) for n in nirs)


def test_messiness_keeps_clean_content_otherwise(tmp_path: Path) -> None:
    generate(SynthOptions(patients=30, seed=5, out_dir=tmp_path / "clean"))
    generate(SynthOptions(patients=30, seed=5, out_dir=tmp_path / "light", messiness=0.05))
    clean = _lines(tmp_path / "clean")
    light = _lines(tmp_path / "light")
    assert clean["Encounter"] != light["Encounter"] or clean["Observation"] != light["Observation"]
    same = len(set(clean["Observation"]) & set(light["Observation"]))
    assert same > 0.8 * len(clean["Observation"])
