"""Minimal structural validation of FHIR R4 resources, cheap enough to run on every resource.

What is checked: the item is a JSON object, ``resourceType`` names a concrete R4 resource type,
``id`` (when present) matches the FHIR id pattern, and the top-level elements that R4 makes
mandatory for common types (``required_elements.toml``) are there. Deeper validation (profiles,
terminology) belongs to the quality stage, in set-based SQL.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import msgspec

ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}")
"""The R4 ``id`` datatype: https://hl7.org/fhir/R4/datatypes.html#id"""


@dataclass(frozen=True)
class Problem:
    """Why an item cannot enter the care zone: a stable reason code and a human message."""

    reason: str
    message: str


@cache
def r4_resource_types() -> frozenset[str]:
    """The concrete resource types of FHIR R4."""
    text = resources.files("hygie.fhir").joinpath("r4_resource_types.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@cache
def required_elements() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Per resource type, the required top-level elements (each a tuple of accepted choices)."""
    text = resources.files("hygie.fhir").joinpath("required_elements.toml").read_text("utf-8")
    table = tomllib.loads(text)["required"]
    return {
        resource_type: tuple(tuple(key.split("|")) for key in keys)
        for resource_type, keys in table.items()
    }


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a string matching the FHIR R4 id pattern."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def check_resource(resource: Any, *, id_required: bool = True) -> Problem | None:
    """Return the first structural problem of ``resource``, or None when it may be stored.

    >>> check_resource({"resourceType": "Patient", "id": "p1"}) is None
    True
    >>> check_resource({"resourceType": "Patient", "id": "a b"}).reason
    'invalid-id'
    """
    if not isinstance(resource, dict):
        return Problem("not-an-object", f"expected a JSON object, found {type(resource).__name__}")
    resource_type = resource.get("resourceType")
    if resource_type is None:
        return Problem("missing-resource-type", "the JSON object has no resourceType")
    if not isinstance(resource_type, str) or resource_type not in r4_resource_types():
        shown = str(resource_type)[:80]
        return Problem("unknown-resource-type", f"resourceType {shown!r} is not a FHIR R4 type")
    resource_id = resource.get("id")
    if resource_id is None:
        if id_required:
            return Problem("missing-id", f"{resource_type} has no id")
    elif not is_valid_id(resource_id):
        shown = str(resource_id)[:80]
        return Problem(
            "invalid-id",
            f"{resource_type} id {shown!r} does not match [A-Za-z0-9-.]{{1,64}}",
        )
    for choices in required_elements().get(resource_type, ()):
        # Presence of the element is checked (a loop, not any(): this runs for every resource).
        for choice in choices:
            if choice in resource:
                break
        else:
            return Problem(
                "missing-required-element",
                f"{resource_type}/{resource_id} lacks required element {'|'.join(choices)}",
            )
    return None


class PlainChecker:
    """:func:`check_resource`'s verdict on raw JSON bytes, without building the resource.

    For the bulk of an NDJSON file: the JSON is parsed in full (malformed JSON is refused) but
    only ``resourceType``, ``id`` and the presence of the required elements are kept, which is
    about three times cheaper than making Python objects of every element. Bytes must be valid
    UTF-8 already (the caller checks a whole block at once). :meth:`head` returns (type, id) when
    ``check_resource`` would accept the resource, else None: the caller then takes the ordinary
    path, which parses the JSON again and says exactly what is wrong.

    One known difference with the ordinary path's parser (orjson): a number too large for a
    double (``1e999``) is valid JSON here, as RFC 8259 and the engine's JSON reader have it, where
    orjson refuses it; such a line is stored, and the same resource inside a Bundle quarantined.
    """

    def __init__(self) -> None:
        names = sorted({n for keys in required_elements().values() for k in keys for n in k})
        fields = [f"e{number}" for number in range(len(names))]
        spec: list[tuple[str, Any, Any]] = [("id", str | None, None)]
        spec += [(field, msgspec.Raw, msgspec.Raw()) for field in fields]
        self.head_type = msgspec.defstruct(
            "ResourceHead",
            [("resource_type", str), *spec],
            rename={"resource_type": "resourceType", **dict(zip(fields, names, strict=True))},
        )
        self.decoder = msgspec.json.Decoder(self.head_type)
        field_of = dict(zip(names, fields, strict=True))
        self.requirements: dict[str, tuple[tuple[str, ...], ...]] = {
            resource_type: tuple(
                tuple(field_of[name] for name in choices)
                for choices in required_elements().get(resource_type, ())
            )
            for resource_type in r4_resource_types()
            if resource_type != "Bundle"
        }

    def head(self, line: bytes) -> tuple[str, str] | None:
        """(resourceType, id) of a resource that may be stored as it is, else None (Bundles,
        and anything that the ordinary path should look at)."""
        try:
            head: Any = self.decoder.decode(line)
        except (msgspec.MsgspecError, RecursionError):  # nested too deep: the ordinary path says
            return None
        requirements = self.requirements.get(head.resource_type)
        resource_id = head.id
        if requirements is None or resource_id is None or ID_PATTERN.fullmatch(resource_id) is None:
            return None
        for choices in requirements:
            for field in choices:
                if len(getattr(head, field)):
                    break
            else:
                return None
        return head.resource_type, resource_id
