"""The French text de-identification pipeline: find identifier spans, replace them.

>>> deid = TextDeidentifier(clinician_names=["Hélène Robert"])
>>> deid.deidentify("Vu le 12/03/2024 par le Dr Hélène Robert, tél 06 39 98 12 34.")
'Vu le <DATE> par le Dr <NOM>, tél <TEL>.'
>>> deid.deidentify("Pas de signe de Babinski.")
'Pas de signe de Babinski.'

Spans come from the pattern rules (``patterns.py``), the values known for the patient (names,
identifiers, address, phone, e-mail from the care zone) and the name finder (``names.py``).
Where two spans overlap, the label earlier in :data:`PRIORITY` wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from hygie.privacy.text.names import (
    EMPTY_LEXICON,
    NameLexicon,
    default_lexicon,
    find_names,
    fold,
    name_parts,
)
from hygie.privacy.text.patterns import (
    DATE_ISO,
    DATE_NUMERIC,
    DATE_WRITTEN,
    MONTH_NUMBER,
    Span,
    rule_spans,
)

PRIORITY = ("EMAIL", "NIR", "PHONE", "IPP", "ADDRESS", "DATE", "ZIP", "CITY", "NAME")
PLACEHOLDERS = {
    "NAME": "<NOM>",
    "DATE": "<DATE>",
    "NIR": "<NIR>",
    "PHONE": "<TEL>",
    "EMAIL": "<EMAIL>",
    "IPP": "<IPP>",
    "ADDRESS": "<ADRESSE>",
    "ZIP": "<CODE_POSTAL>",
    "CITY": "<VILLE>",
}
FRENCH_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip


@dataclass(frozen=True)
class PatientContext:
    """What the care zone knows about the patient a text belongs to."""

    names: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address_lines: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    postcodes: tuple[str, ...] = ()
    shift_days: int = 0
    known_names: frozenset[str] = field(default=frozenset(), compare=False)

    def with_known_names(self) -> PatientContext:
        """A copy whose ``known_names`` holds the folded words of ``names``."""
        return PatientContext(
            self.names, self.identifiers, self.phones, self.emails, self.address_lines,
            self.cities, self.postcodes, self.shift_days, name_parts(self.names),
        )  # fmt: skip


def _folded_values(values: Iterable[str]) -> tuple[str, ...]:
    """Known words and phrases, folded, with single spaces; the short ones are ignored."""
    found = {" ".join(fold(v).split()) for v in values if v and len(v.strip()) >= 3}
    return tuple(sorted(found, key=len, reverse=True))


def _digit_values(values: Iterable[str]) -> frozenset[str]:
    """Known numbers (identifiers, phones, postcodes) as bare digits, 5 digits or more."""
    return frozenset(d for d in (re.sub(r"\D", "", v) for v in values) if len(d) >= 5)


DIGIT_RUN = re.compile(r"(?<![\w])\+?\d(?:[\s.\-]?\d)*(?![\w])")


def _word_bounded(folded: str, start: int, end: int) -> bool:
    before = folded[start - 1] if start > 0 else " "
    after = folded[end] if end < len(folded) else " "
    return not (before.isalnum() or after.isalnum())


@dataclass(frozen=True)
class _KnownValues:
    """A patient's known values prepared for fast matching."""

    digits: dict[str, frozenset[str]]
    phrases: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, patient: PatientContext) -> _KnownValues:
        return cls(
            digits={
                "IPP": _digit_values(patient.identifiers),
                "PHONE": _digit_values(patient.phones),
                "ZIP": _digit_values(patient.postcodes),
            },
            phrases={
                "IPP": _folded_values(v for v in patient.identifiers if not v.isdigit()),
                "EMAIL": _folded_values(patient.emails),
                "ADDRESS": _folded_values(patient.address_lines),
                "CITY": _folded_values(patient.cities),
            },
        )

    def spans(self, text: str, folded: str) -> list[Span]:
        found: list[Span] = []
        if any(self.digits.values()):
            for match in DIGIT_RUN.finditer(text):
                digits = re.sub(r"\D", "", match[0])
                for label, values in self.digits.items():
                    if digits in values or (label == "PHONE" and "0" + digits[2:] in values):
                        found.append(Span(match.start(), match.end(), label, "known-value"))
        normalized = folded
        for label, phrases in self.phrases.items():
            for phrase in phrases:
                start = normalized.find(phrase)
                while start >= 0:
                    end = start + len(phrase)
                    if _word_bounded(normalized, start, end) and (
                        label != "CITY" or text[start].isupper()
                    ):
                        found.append(Span(start, end, label, "known-value"))
                    start = normalized.find(phrase, end)
        return found

    def occurs_in(self, folded: str) -> bool:
        return any(p in folded for phrases in self.phrases.values() for p in phrases)


class TextDeidentifier:
    """Finds and replaces the identifiers of French clinical text.

    ``clinician_names``: every clinician name of the care zone (found wherever capitalized);
    ``use_lexicon``: use the INSEE first-name and surname lexicon (on by default);
    ``text_dates``: ``placeholder`` (``<DATE>``) or ``shift`` (moved by the patient's shift).
    """

    def __init__(
        self,
        clinician_names: Iterable[str] = (),
        *,
        use_lexicon: bool = True,
        lexicon: NameLexicon | None = None,
        text_dates: str = "placeholder",
    ) -> None:
        base = lexicon if lexicon is not None else default_lexicon()
        if not use_lexicon:
            base = NameLexicon(frozenset(), frozenset(), base.eponyms, base.eponym_triggers)
        self.lexicon = base if base is not None else EMPTY_LEXICON
        self.clinician_names = name_parts(clinician_names)
        self.text_dates = text_dates
        self._known_values: dict[PatientContext, _KnownValues] = {}

    def _known(self, patient: PatientContext) -> _KnownValues:
        found = self._known_values.get(patient)
        if found is None:
            found = _KnownValues.of(patient)
            if len(self._known_values) > 10_000:
                self._known_values.clear()
            self._known_values[patient] = found
        return found

    def depends_on_patient(self, text: str, patient: PatientContext | None) -> bool:
        """True when the patient's known values may change how ``text`` is de-identified.

        Texts without digits that hold none of the patient's names and known phrases come out
        the same for every patient (the research build caches them once).
        """
        if patient is None:
            return False
        if any(c.isdigit() for c in text):
            return True
        folded = fold(text)
        words = set(re.findall(r"[\w'-]+", folded))
        return bool(words & patient.known_names) or self._known(patient).occurs_in(folded)

    def find(self, text: str, patient: PatientContext | None = None) -> list[Span]:
        """The spans to replace in ``text``, sorted, without overlaps."""
        has_digits = any(c.isdigit() for c in text)
        candidates = rule_spans(text) if has_digits or "@" in text else []
        known = self.clinician_names
        if patient is not None:
            known = known | (patient.known_names or name_parts(patient.names))
            candidates.extend(self._known(patient).spans(text, fold(text)))
        candidates.extend(find_names(text, known, self.lexicon))
        return resolve_overlaps(candidates)

    def deidentify(self, text: str, patient: PatientContext | None = None) -> str:
        """``text`` with every span found replaced by its placeholder (or shifted date)."""
        spans = self.find(text, patient)
        if not spans:
            return text
        out: list[str] = []
        position = 0
        for span in spans:
            out.append(text[position : span.start])
            replacement = PLACEHOLDERS[span.label]
            if span.label == "DATE" and self.text_dates == "shift" and patient is not None:
                replacement = shift_written_date(text[span.start : span.end], patient.shift_days)
            out.append(replacement)
            position = span.end
        out.append(text[position:])
        return "".join(out)


def resolve_overlaps(candidates: list[Span]) -> list[Span]:
    """Keep, among overlapping spans, the one whose label comes first in PRIORITY (then longest)."""
    rank = {label: n for n, label in enumerate(PRIORITY)}
    ordered = sorted(candidates, key=lambda s: (rank[s.label], s.start - s.end, s.start))
    taken: list[Span] = []
    occupied: list[tuple[int, int]] = []
    for span in ordered:
        if span.end <= span.start:
            continue
        if any(span.start < end and start < span.end for start, end in occupied):
            continue
        taken.append(span)
        occupied.append((span.start, span.end))
    return sorted(taken, key=lambda s: s.start)


def shift_written_date(value: str, days: int) -> str:
    """A date of a French text moved by ``days`` in the same style; ``<DATE>`` without a year.

    >>> shift_written_date("1er mars 2024", 2), shift_written_date("28/02/2024", 2)
    ('3 mars 2024', '01/03/2024')
    """
    day: date | None = None
    try:
        if match := DATE_NUMERIC.fullmatch(value):
            year = int(match[4]) if len(match[4]) == 4 else 2000 + int(match[4])
            day = date(year, int(match[3]), int(match[1]))
            moved = day + timedelta(days=days)
            sep = match[2]
            return f"{moved.day:02d}{sep}{moved.month:02d}{sep}{moved.year}"
        if match := DATE_ISO.fullmatch(value):
            moved = date(int(match[1]), int(match[2]), int(match[3])) + timedelta(days=days)
            return moved.isoformat()
        if (match := DATE_WRITTEN.fullmatch(value)) and match[3]:
            number = 1 if match[1].lower() == "1er" else int(match[1])
            day = date(int(match[3]), MONTH_NUMBER[match[2].lower()], number)
            moved = day + timedelta(days=days)
            first = "1er" if moved.day == 1 else str(moved.day)
            return f"{first} {FRENCH_MONTHS[moved.month - 1]} {moved.year}"
    except ValueError:
        pass
    return PLACEHOLDERS["DATE"]
