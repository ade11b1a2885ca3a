"""Rules for the identifiers of French clinical text: NIR, phones, e-mails, IPP, dates, places.

Each rule yields :class:`Span` objects on the original text. Sources for the formats: INSEE
(NIR: sex, year, month, birth place with 2A/2B for Corsica, order, key = 97 - number mod 97,
2A -> 19 and 2B -> 18 in the key computation); Arcep, *plan national de numérotation* (ten
digits starting with 0, or +33 without the 0); La Poste (five-digit postcodes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

LETTER = "A-Za-zÀ-ÖØ-öø-ÿŒœ"
MONTHS = (
    "janvier", "février", "fevrier", "mars", "avril", "mai", "juin", "juillet", "août", "aout",
    "septembre", "octobre", "novembre", "décembre", "decembre",
)  # fmt: skip
MONTH_NUMBER = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
}  # fmt: skip
STREET_TYPES = (
    "rue", "avenue", "av", "boulevard", "bd", "bld", "chemin", "place", "allée", "allee", "impasse",
    "route", "quai", "square", "cours", "voie", "résidence", "residence", "lotissement", "lieu-dit",
    "hameau", "rond-point", "passage", "sentier", "faubourg", "esplanade", "parvis", "promenade",
    "cité", "cite", "domaine", "villa", "mail", "carrefour", "grande rue", "grand rue", "ruelle",
    "venelle", "clos", "montée", "chaussée", "levée",
)  # fmt: skip


@dataclass(frozen=True)
class Span:
    """A piece of text to replace: [start, end) in code points, its label and the rule."""

    start: int
    end: int
    label: str
    rule: str


NIR = re.compile(
    r"(?<![\w])([1-478])[ .]?(\d{2})[ .]?(0[1-9]|1[0-2]|[2-9]\d)[ .]?(\d{2}|2[AaBb])[ .]?(\d{3})"
    r"[ .]?(\d{3})(?:[ .]?(\d{2}))?(?![\w])"
)
PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9]|0[1-9])(?:[\s.\-/]?\d{2}){4}(?!\d)"
)
EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
IDENTIFIER_CUE = re.compile(
    r"\b(?:IPP|NIP|NDA|N°\s*(?:de\s+)?(?:dossier|séjour|sejour|patient|IPP)|dossier|"
    r"identifiant|id\.?\s*patient|matricule(?:\s+INS)?|INS|NIR)\b\s*(?:n°|no|N°)?\s*[:#]?\s*"
    r"([A-Z0-9][A-Z0-9\-]{3,19})\b",
    re.IGNORECASE,
)
LONG_NUMBER = re.compile(r"(?<![\w,.])\d{7,}(?![\w,]|\.\d)")
DATE_NUMERIC = re.compile(
    r"(?<![\w/.\-])(0?[1-9]|[12]\d|3[01])([/.\-])(0?[1-9]|1[0-2])\2((?:19|20)\d{2}|\d{2})(?![\w/\-]|\.\d)"
)
DATE_ISO = re.compile(r"(?<![\w\-])((?:19|20)\d{2})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
DATE_WRITTEN = re.compile(
    r"(?<![\w])(1er|0?[1-9]|[12]\d|3[01])\s+(" + "|".join(MONTHS) + r")(?:\s+((?:19|20)\d{2}))?"
    r"(?![\w])",
    re.IGNORECASE,
)
MONTH_YEAR = re.compile(r"(?<![\w])(" + "|".join(MONTHS) + r")\s+((?:19|20)\d{2})(?![\w])", re.I)
STREET = re.compile(
    r"(?<![\w])\d{1,4}(?:\s?(?:bis|ter|[a-d])\b)?,?\s+(?:" + "|".join(STREET_TYPES) + r")\b"
    r"[^\n,;()]{0,60}?(?=\s*(?:[,;()\n]|$|\s-\s|\b\d{5}\b|\btél|\btel))",
    re.IGNORECASE,
)
CITY_WORD = rf"(?:[A-ZÀ-ÖØ-Þ][{LETTER}'’]*|(?:sur|sous|en|de|du|des|la|le|les|lès|d['’]|l['’]))"
POSTCODE_CITY = re.compile(
    rf"(?<![\w,.])(?:F-)?(\d{{5}})(?:\s+CEDEX)?\s+([A-ZÀ-ÖØ-Þ][{LETTER}'’]*(?:[ \-]{CITY_WORD})*)"
)


def nir_key_is_valid(number: str) -> bool:
    """True when the 2-digit key of a 15-character NIR matches its first 13 characters.

    >>> nir_key_is_valid("269054958815780"), nir_key_is_valid("269054958815781")
    (True, False)
    >>> nir_key_is_valid("1 84 12 2A 002 016 93")  # born in Corse-du-Sud
    True
    """
    compact = re.sub(r"[\s.]", "", number).upper()
    if len(compact) != 15 or not compact[13:].isdigit():
        return False
    body = compact[:13].replace("2A", "19").replace("2B", "18")
    if not body.isdigit():
        return False
    return 97 - int(body) % 97 == int(compact[13:])


def _nir_spans(text: str) -> Iterator[Span]:
    for match in NIR.finditer(text):
        compact = re.sub(r"[ .]", "", match[0])
        spaced = " " in match[0] or "." in match[0]
        if match[7] is None and not spaced:
            continue  # 13 bare digits: left to the long-number rule
        if match[7] is not None and (spaced or nir_key_is_valid(compact)):
            yield Span(match.start(), match.end(), "NIR", "nir")
        else:
            yield Span(match.start(), match.end(), "NIR", "nir-shape")


def _date_spans(text: str) -> Iterator[Span]:
    for pattern, rule in (
        (DATE_NUMERIC, "date-numeric"),
        (DATE_ISO, "date-iso"),
        (DATE_WRITTEN, "date-written"),
        (MONTH_YEAR, "date-month-year"),
    ):
        for match in pattern.finditer(text):
            yield Span(match.start(), match.end(), "DATE", rule)


def _place_spans(text: str) -> Iterator[Span]:
    for match in STREET.finditer(text):
        yield Span(match.start(), match.end(), "ADDRESS", "street")
    for match in POSTCODE_CITY.finditer(text):
        city = match[2]
        # The city ends before a lower-case word that is not a particle ("35000 Rennes le 3").
        yield Span(match.start(1), match.end(1), "ZIP", "postcode")
        end = match.start(2) + len(city.rstrip(" -"))
        yield Span(match.start(2), end, "CITY", "postcode-city")


def rule_spans(text: str) -> list[Span]:
    """Every span the pattern rules find in ``text`` (overlaps are resolved by the caller)."""
    spans: list[Span] = []
    spans.extend(Span(m.start(), m.end(), "EMAIL", "email") for m in EMAIL.finditer(text))
    spans.extend(_nir_spans(text))
    spans.extend(Span(m.start(), m.end(), "PHONE", "phone") for m in PHONE.finditer(text))
    spans.extend(
        Span(m.start(1), m.end(1), "IPP", "identifier-cue")
        for m in IDENTIFIER_CUE.finditer(text)
        if any(ch.isdigit() for ch in m[1])
    )
    spans.extend(Span(m.start(), m.end(), "IPP", "long-number") for m in LONG_NUMBER.finditer(text))
    spans.extend(_date_spans(text))
    spans.extend(_place_spans(text))
    return spans
