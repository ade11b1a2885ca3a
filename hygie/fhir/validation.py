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
