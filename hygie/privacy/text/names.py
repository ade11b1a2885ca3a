"""Person names in French clinical text.

Four cues, strongest first:

1. a title right before (``M.``, ``Mme``, ``Mlle``, ``Dr``, ``Pr``, ``Docteur``...): the
   capitalized words and initials that follow on the same line are a name;
2. the names known from the care zone: the patient's own names and every clinician's names
   (capitalized words only, so that ``Petit`` the physician does not erase "petit épanchement");
3. the lexicon (INSEE first names and surnames, ``data/*.txt``): a first name next to a
   capitalized or upper-case word, an initial before a surname or an upper-case word;
4. a capitalized word next to a name already found, when it is in the lexicon or in upper case.

Medical eponyms (``data/eponyms.toml``: *signe de Babinski*, *maladie de Parkinson*...) are not
names unless a title stands right before them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from hygie.privacy.text.patterns import LETTER, Span

TOKEN = re.compile(rf"[{LETTER}]+(?:['’\-][{LETTER}]+)*")
TITLES = frozenset(
    {"m", "mme", "mlle", "mr", "dr", "pr", "docteur", "professeur", "monsieur", "madame",
     "mademoiselle", "drs", "mmes"}
)  # fmt: skip
DOTTED_TITLES = frozenset({"m"})
PARTICLES = frozenset({"de", "du", "des", "le", "la", "van", "von", "di", "da", "d", "l", "ben"})
ACRONYMS = frozenset(
    {"chu", "ch", "ipp", "ins", "nir", "nda", "crp", "tsh", "hta", "bpco", "irc", "ecg", "irm",
     "dfg", "ssr", "smr", "ehpad", "smur", "samu", "has", "nyha", "covid", "avc", "fa", "idm",
     "ldl", "hdl", "inr", "vih", "vhc", "vhb", "tdm", "rx", "uro", "ira", "ic", "ald", "cr",
     "compte", "rendu", "hospitalisation", "consultation", "service", "mail", "tel", "tél"}
)  # fmt: skip
COMMON_WORDS = frozenset(
    {"pas", "le", "la", "les", "un", "une", "des", "pour", "avec", "sans", "petit", "blanc",
     "roux", "brun", "rose", "claire", "marine", "pierre", "france", "roy", "rey", "page",
     "biologie", "traitement", "patient", "patiente", "antécédents", "bilan", "date", "adresse",
     "conclusion", "diagnostic", "devenir", "copie", "suivi", "signe", "maladie", "syndrome",
     "service", "centre", "hôpital", "hospitalier", "universitaire", "cher", "chère", "mon",
     "ma", "nous", "je", "il", "elle", "domicile", "motif", "examens", "ordonnance", "mode",
     "nom", "prénom", "né", "née", "mail", "courriel", "téléphone", "tél", "histoire", "saint"}
)  # fmt: skip

FOLD = str.maketrans(
    "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖòóôõöÙÚÛÜùúûüÝýÿŸ’",
    "aaaaaaaaaaaacceeeeeeeeiiiiiiiinnoooooooooouuuuuuuuyyyy'",
)


def fold(text: str) -> str:
    """Lower case without accents, same length as ``text`` (offsets stay valid)."""
    folded = text.translate(FOLD)
    lowered = folded.lower()
    return lowered if len(lowered) == len(folded) else folded


@dataclass(frozen=True)
class NameLexicon:
    """First names, surnames and eponyms, folded."""

    first_names: frozenset[str]
    surnames: frozenset[str]
    eponyms: frozenset[str]
    eponym_triggers: frozenset[str]


def _data_lines(name: str) -> list[str]:
    text = resources.files("hygie.privacy.text").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


@cache
def default_lexicon() -> NameLexicon:
    """The lexicon shipped in ``hygie/privacy/text/data``."""
    eponyms = tomllib.loads(
        resources.files("hygie.privacy.text").joinpath("data", "eponyms.toml").read_text("utf-8")
    )
    return NameLexicon(
        first_names=frozenset(fold(n) for n in _data_lines("first_names.txt")),
        surnames=frozenset(
            part for n in _data_lines("surnames.txt") for part in fold(n).split() if len(part) > 2
        ),
        eponyms=frozenset(fold(n) for n in eponyms["names"]),
        eponym_triggers=frozenset(fold(n) for n in eponyms["triggers"]),
    )


EMPTY_LEXICON = NameLexicon(frozenset(), frozenset(), frozenset(), frozenset())


def name_parts(names: Iterable[str]) -> frozenset[str]:
    """The folded words of ``names`` usable as known names (no particles, no initials)."""
    parts: set[str] = set()
    for name in names:
        for match in TOKEN.finditer(fold(name)):
            word = match[0]
            if len(word) > 1 and word not in PARTICLES:
                parts.add(word)
                parts.update(p for p in re.split(r"[-']", word) if len(p) > 2)
    return frozenset(parts)


@dataclass
class _Token:
    start: int
    end: int
    text: str
    folded: str
    capitalized: bool
    upper: bool
    initial: bool


def _tokens(text: str) -> list[_Token]:
    tokens = []
    folded_text = fold(text)
    for match in TOKEN.finditer(text):
        word = match[0]
        letters = [c for c in word if c.isalpha()]
        tokens.append(
            _Token(
                start=match.start(),
                end=match.end(),
                text=word,
                folded=folded_text[match.start() : match.end()],
                capitalized=word[0].isupper(),
                upper=len(letters) >= 2 and all(c.isupper() for c in letters),
                initial=len(word) == 1
                and word.isupper()
                and text[match.end() : match.end() + 1] == ".",
            )
        )
    return tokens


def _adjacent(text: str, left: _Token, right: _Token) -> bool:
    """Same line, separated only by spaces (and the dot of an initial)."""
    gap = text[left.end : right.start]
    return len(gap) <= 3 and gap.strip(" .") == "" and "\n" not in gap


def find_names(
    text: str,
    known: frozenset[str] = frozenset(),
    lexicon: NameLexicon = EMPTY_LEXICON,
) -> list[Span]:
    """NAME spans of ``text``; ``known`` holds the folded names known for this text."""
    tokens = _tokens(text)
    count = len(tokens)
    is_name = [False] * count
    protected = [False] * count
    titled = [False] * count

    for i, token in enumerate(tokens):
        if token.folded in lexicon.eponyms and token.capitalized:
            protected[i] = True
        if token.folded in lexicon.eponym_triggers and i + 1 < count:
            j = i + 1
            while j < count and tokens[j].folded in PARTICLES:
                j += 1
            if j < count and tokens[j].capitalized and _adjacent(text, tokens[j - 1], tokens[j]):
                protected[j] = True

    for i, token in enumerate(tokens):
        if token.folded not in TITLES or (not token.capitalized):
            continue
        if token.folded in DOTTED_TITLES and text[token.end : token.end + 1] != ".":
            continue
        j, taken, previous = i + 1, 0, token
        while j < count and taken < 4 and _adjacent(text, previous, tokens[j]):
            candidate = tokens[j]
            if candidate.folded in PARTICLES and not candidate.capitalized:
                if j + 1 < count and tokens[j + 1].capitalized:
                    is_name[j] = titled[j] = True
                    previous, j = candidate, j + 1
                    continue
                break
            if not (candidate.capitalized or candidate.initial):
                break
            if candidate.folded in TITLES and not candidate.initial:
                break
            is_name[j] = titled[j] = True
            taken += 1
            previous, j = candidate, j + 1

    def plausible(token: _Token) -> bool:
        return token.capitalized and token.folded not in ACRONYMS

    for i, token in enumerate(tokens):
        if protected[i] or not plausible(token):
            continue
        if token.folded in known and token.folded not in COMMON_WORDS:
            is_name[i] = True

    changed = True
    while changed:
        changed = False
        for i, token in enumerate(tokens):
            if is_name[i] or protected[i] or not plausible(token):
                continue
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < count]
            for j in neighbours:
                other = tokens[j]
                left, right = (other, token) if j < i else (token, other)
                if not _adjacent(text, left, right) or protected[j]:
                    continue
                in_lexicon = (
                    token.folded in lexicon.first_names
                    or token.folded in lexicon.surnames
                    or token.folded in known
                )
                if is_name[j] and (in_lexicon or token.upper or token.initial):
                    is_name[i] = changed = True
                    break
                if not plausible(other) or other.folded in COMMON_WORDS:
                    continue
                first = token.folded in lexicon.first_names
                other_first = other.folded in lexicon.first_names
                if (first and (other.upper or other.folded in lexicon.surnames or other_first)) or (
                    token.initial
                    and j == i + 1
                    and (other.upper or other.folded in lexicon.surnames or other.folded in known)
                ):
                    is_name[i] = is_name[j] = changed = True
                    break
                if token.upper and other_first and token.folded not in COMMON_WORDS:
                    is_name[i] = is_name[j] = changed = True
                    break

    spans: list[Span] = []
    i = 0
    while i < count:
        if not is_name[i]:
            i += 1
            continue
        j = i
        while j + 1 < count and is_name[j + 1] and _adjacent(text, tokens[j], tokens[j + 1]):
            j += 1
        rule = "name-title" if titled[i] else "name"
        spans.append(Span(tokens[i].start, tokens[j].end, "NAME", rule))
        i = j + 1
    return spans
