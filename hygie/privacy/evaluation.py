"""Measure the French text de-identification against the truth file of ``hygie synth``.

For each letter of ``deid-truth.jsonl``, the text is de-identified with the same context the
research build gives it (the patient's known names and identifiers, every clinician's name) and
the spans found are compared with the true spans:

- recall of a label: share of its true spans whose every non-blank character is inside a span
  found (whatever label was found: a date taken for an identifier is still removed);
- precision of a label: share of the spans found with that label that overlap a true span;
- fully redacted: share of letters whose true spans are all covered.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hygie.errors import InputError
from hygie.privacy.text.deid import PatientContext, TextDeidentifier
from hygie.privacy.text.fhir_context import patient_context, person_names
from hygie.privacy.text.patterns import Span

LABELS = ("NAME", "DATE", "NIR", "PHONE", "EMAIL", "IPP", "ADDRESS", "ZIP", "CITY")


@dataclass
class LabelScore:
    """Counts behind the recall and precision of one label."""

    true_spans: int = 0
    covered: int = 0
    found: int = 0
    found_correct: int = 0

    @property
    def recall(self) -> float:
        return self.covered / self.true_spans if self.true_spans else 1.0

    @property
    def precision(self) -> float:
        return self.found_correct / self.found if self.found else 1.0


@dataclass
class DeidEvaluation:
    """Scores of a run over a truth file."""

    notes: int = 0
    notes_fully_redacted: int = 0
    labels: dict[str, LabelScore] = field(default_factory=dict)
    missed: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)

    @property
    def fully_redacted_share(self) -> float:
        return self.notes_fully_redacted / self.notes if self.notes else 1.0

    @property
    def precision(self) -> float:
        found = sum(score.found for score in self.labels.values())
        correct = sum(score.found_correct for score in self.labels.values())
        return correct / found if found else 1.0


def _read_ndjson(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _document_text(resource: dict[str, Any]) -> str | None:
    for content in resource.get("content", []):
        data = content.get("attachment", {}).get("data")
        if isinstance(data, str):
            return base64.b64decode(data).decode("utf-8")
    return None


def _covered(span: dict[str, Any], found: list[Span], text: str) -> bool:
    for position in range(span["start"], span["end"]):
        if text[position].isspace():
            continue
        if not any(f.start <= position < f.end for f in found):
            return False
    return True


def evaluate_deid(synth_dir: Path, *, use_lexicon: bool = True) -> DeidEvaluation:
    """Score :class:`TextDeidentifier` on the letters and truth file of ``synth_dir``."""
    truth_path = synth_dir / "deid-truth.jsonl"
    if not truth_path.is_file():
        raise InputError(f"{truth_path} does not exist: generate it with `hygie synth`")
    patients = {r["id"]: r for r in _read_ndjson(synth_dir / "Patient.ndjson")}
    clinicians = [
        n for r in _read_ndjson(synth_dir / "Practitioner.ndjson") for n in person_names(r)
    ]
    documents = {r["id"]: r for r in _read_ndjson(synth_dir / "DocumentReference.ndjson")}
    deidentifier = TextDeidentifier(clinicians, use_lexicon=use_lexicon)
    result = DeidEvaluation(labels={label: LabelScore() for label in LABELS})
    contexts: dict[str, PatientContext] = {}
    for line in truth_path.read_bytes().splitlines():
        truth = orjson.loads(line)
        document = documents.get(truth["id"])
        text = _document_text(document) if document is not None else None
        if document is None or text is None:
            continue
        patient_id = document.get("subject", {}).get("reference", "").removeprefix("Patient/")
        if patient_id not in contexts and patient_id in patients:
            contexts[patient_id] = patient_context(patients[patient_id])
        found = deidentifier.find(text, contexts.get(patient_id))
        result.notes += 1
        all_covered = True
        for span in truth["spans"]:
            score = result.labels.setdefault(span["label"], LabelScore())
            score.true_spans += 1
            if _covered(span, found, text):
                score.covered += 1
            else:
                all_covered = False
                result.missed[f"{span['label']}: {span['text']}"] += 1
        result.notes_fully_redacted += all_covered
        for span in found:
            score = result.labels.setdefault(span.label, LabelScore())
            score.found += 1
            if any(span.start < t["end"] and t["start"] < span.end for t in truth["spans"]):
                score.found_correct += 1
            else:
                result.false_positives[
                    f"{span.label}/{span.rule}: {text[span.start : span.end]}"
                ] += 1
    return result
