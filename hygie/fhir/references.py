"""FHIR references: finding them in a resource and rewriting them to canonical ``Type/id`` form.

Bundles from other systems point between entries with ``urn:uuid:`` fullUrls and with conditional
references (``Organization?identifier=system|value``). The care zone stores only ``Type/id``
references, so these are resolved at ingestion; what cannot be resolved is reported, never kept
silently dangling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

LITERAL_REFERENCE = re.compile(
    r"(?:(?P<base>https?://[^\s]*?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?"
)
CONDITIONAL_REFERENCE = re.compile(r"(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)")


@dataclass(frozen=True)
class ConditionalQuery:
    """A search that identifies one resource, e.g. ``Patient?identifier=system|value``."""

    resource_type: str
    identifiers: tuple[tuple[str | None, str], ...]
    """(system, value) pairs; system None means any system."""


class UnsupportedQueryError(ValueError):
    """A conditional search uses a parameter Hygie cannot resolve at ingestion."""


def parse_conditional(resource_type: str, query: str) -> ConditionalQuery:
    """Parse the search part of a conditional reference or ``ifNoneExist``.

    Only ``identifier`` (with or without ``system|``) is supported: it is what bulk exports and
    batch bundles use to point at shared resources.

    >>> parse_conditional("Patient", "identifier=urn:oid:1.2|123").identifiers
    (('urn:oid:1.2', '123'),)
    """
    pairs: list[tuple[str | None, str]] = []
    for name, raw in parse_qsl(query, keep_blank_values=True):
        if name != "identifier":
            raise UnsupportedQueryError(
                f"conditional search parameter {name!r} is not supported (only identifier)"
            )
        system, sep, value = raw.rpartition("|")
        pairs.append((system if sep else None, value))
    if not pairs:
        raise UnsupportedQueryError(f"empty conditional search in {resource_type}?{query}")
    return ConditionalQuery(resource_type, tuple(pairs))


def iter_reference_holders(node: Any) -> Iterator[dict[str, Any]]:
    """Yield every JSON object in ``node`` that has a string ``reference`` element."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            if isinstance(current.get("reference"), str):
                yield current
            stack.extend(v for v in current.values() if isinstance(v, dict | list))
        elif isinstance(current, list):
            stack.extend(v for v in current if isinstance(v, dict | list))


def rewrite_references(resource: dict[str, Any], resolve: Callable[[str], str | None]) -> list[str]:
    """Replace each reference for which ``resolve`` returns a new value; return the unresolved.

    ``resolve`` receives the reference string and returns its canonical ``Type/id`` form, the same
    string when it is already fine, or None when it cannot be resolved.
    """
    unresolved: list[str] = []
    for holder in iter_reference_holders(resource):
        reference = holder["reference"]
        resolved = resolve(reference)
        if resolved is None:
            unresolved.append(reference)
        elif resolved != reference:
            holder["reference"] = resolved
    return unresolved


def identifiers_of(resource: dict[str, Any]) -> list[tuple[str | None, str]]:
    """The (system, value) identifiers of a resource, as used by conditional searches."""
    found: list[tuple[str | None, str]] = []
    identifiers = resource.get("identifier")
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    if isinstance(identifiers, list):
        for identifier in identifiers:
            if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                system = identifier.get("system")
                found.append((system if isinstance(system, str) else None, identifier["value"]))
    return found
