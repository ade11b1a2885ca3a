"""French letters: the truth file's spans match the decoded text exactly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from hygie.synth import SynthSummary
from hygie.synth.identifiers import NIR_SYSTEM, is_valid_nir

from .helpers import note_text

LABELS = {"NAME", "DATE", "NIR", "PHONE", "EMAIL", "IPP", "ADDRESS", "ZIP", "CITY"}


def _truth(out: Path) -> dict[str, list[dict[str, Any]]]:
    lines = (out / "deid-truth.jsonl").read_bytes().splitlines()
    return {entry["id"]: entry["spans"] for entry in map(orjson.loads, lines)}


def test_truth_spans_match_text_exactly(
    clean_run: tuple[SynthSummary, Path], resources: dict[str, list[dict[str, Any]]]
) -> None:
    truth = _truth(clean_run[1])
    documents = resources["DocumentReference"]
    assert len(documents) > 50 and set(truth) == {d["id"] for d in documents}
    seen_labels = set()
    for document in documents:
        attachment = document["content"][0]["attachment"]
        assert attachment["contentType"] == "text/plain; charset=utf-8"
        text = note_text(document)
        spans = truth[document["id"]]
        previous_end = 0
        for span in spans:
            assert span["label"] in LABELS
            assert text[span["start"] : span["end"]] == span["text"]
            assert span["start"] >= previous_end
            previous_end = span["end"]
            seen_labels.add(span["label"])
        assert {"NAME", "DATE"} <= {s["label"] for s in spans}
    assert seen_labels == LABELS


def test_identifiers_in_notes_are_the_patients_own(
    clean_run: tuple[SynthSummary, Path],
    resources: dict[str, list[dict[str, Any]]],
    patients: dict[str, dict[str, Any]],
) -> None:
    truth = _truth(clean_run[1])
    formats = {"spaced": 0, "compact": 0}
    for document in resources["DocumentReference"]:
        patient = patients[document["subject"]["reference"].split("/")[1]]
        nir = next(i["value"] for i in patient["identifier"] if i["system"] == NIR_SYSTEM)
        for span in truth[document["id"]]:
            if span["label"] == "NIR":
                compact = span["text"].replace(" ", "")
                assert compact == nir and is_valid_nir(compact)
                formats["spaced" if " " in span["text"] else "compact"] += 1
            if span["label"] == "PHONE":
                digits = (
                    re.sub(r"\D", "", span["text"]).replace("33", "0", 1)
                    if span["text"].startswith("+33")
                    else re.sub(r"\D", "", span["text"])
                )
                assert digits == patient["telecom"][0]["value"]
            if span["label"] == "ZIP":
                assert span["text"] == patient["address"][0]["postalCode"]
    assert formats["spaced"] and formats["compact"]


def test_date_formats_vary_and_eponyms_are_not_spans(
    clean_run: tuple[SynthSummary, Path], resources: dict[str, list[dict[str, Any]]]
) -> None:
    truth = _truth(clean_run[1])
    dates = [s["text"] for spans in truth.values() for s in spans if s["label"] == "DATE"]
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", d) for d in dates)
    assert any(re.fullmatch(r"\d\d-\d\d-\d{4}", d) for d in dates)
    assert any(re.fullmatch(r"(1er|\d{1,2}) [a-zéû]+ \d{4}", d) for d in dates)
    assert any(re.fullmatch(r"(1er|\d{1,2}) [a-zéû]+", d) for d in dates)
    eponyms = 0
    for document in resources["DocumentReference"]:
        text = note_text(document)
        for match in re.finditer(
            r"Babinski|Parkinson|Murphy|Valsalva|Romberg|Lasègue|Hashimoto|Cushing|Alzheimer", text
        ):
            eponyms += 1
            for span in truth[document["id"]]:
                assert not (span["start"] <= match.start() < span["end"])
    assert eponyms > 10
