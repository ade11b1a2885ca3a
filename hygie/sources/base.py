"""The contract every input format follows, and the records it hands to ingestion.

A source reads a path as a stream of :class:`RawItem` (bytes exactly as received, with where they
were found), and interprets each item into FHIR resources (:class:`Interpretation`). Reading never
loads a whole large file: NDJSON is read line by line, documents one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from hygie.fhir.references import ConditionalQuery
from hygie.fhir.validation import check_resource


@dataclass(slots=True)
class RawItem:
    """One input unit as received: an NDJSON line, a JSON document, a message."""

    source: str
    line_no: int | None
    byte_offset: int | None
    format: str
    content: bytes


@dataclass(slots=True)
class ReadFailure:
    """A part of an input that could not even be read (cut-off gzip, unreadable file)."""

    source: str
    line_no: int | None
    byte_offset: int | None
    reason: str
    message: str


@dataclass(slots=True)
class ResourceOut:
    """A FHIR resource ready for the care zone (``json`` is None for a delete)."""

    resource_type: str
    id: str
    json: bytes | None
    entry_index: int | None = None


@dataclass(slots=True)
class Rejection:
    """Why an item (or one entry of it) goes to quarantine."""

    reason: str
    message: str
    entry_index: int | None = None
    resource_type: str | None = None
    resource_id: str | None = None


@dataclass(slots=True)
class Interpretation:
    """What an item became: resources to store, rejections, entries that already existed."""

    resources: list[ResourceOut] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    """Types of the entries skipped because ``ifNoneExist`` matched an existing resource."""
    unresolved: list[str] = field(default_factory=list)
    """Conditional references that could not be resolved yet (the item may be retried)."""


class ReferenceLookup(Protocol):
    """Finds resources already in the warehouse (or stored earlier in this run)."""

    def find(self, query: ConditionalQuery) -> str | None:
        """Return the id of the single resource matching ``query``, or None."""


class Source(Protocol):
    """An input format."""

    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the file at ``path`` (whose first bytes are ``head``) is in this format."""

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        """Stream the items of ``path`` as received."""

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        """Turn one item into FHIR resources and rejections."""


def package_mapped(resources: list[dict[str, Any]], where: str = "") -> Interpretation:
    """Check the resources a mapper made from one item and hand them to ingestion.

    An item is stored whole or not at all: the first resource that fails the structural check
    rejects the item, its message prefixed with ``where`` (e.g. ``"line 12: "``).
    """
    out = Interpretation()
    for index, resource in enumerate(resources):
        problem = check_resource(resource)
        if problem is not None:
            rejection = Rejection(
                problem.reason,
                f"{where}{problem.message}",
                index,
                resource.get("resourceType"),
                resource.get("id"),
            )
            return Interpretation(rejections=[rejection])
        out.resources.append(
            ResourceOut(resource["resourceType"], resource["id"], orjson.dumps(resource), index)
        )
    return out
