"""SMART App Launch v2 scopes: parsing, granting against a client's registration, checking.

Syntax (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
``<context>/<resourceType or *>.<permissions>`` with context ``patient``, ``user`` or ``system``
and permissions a subset of ``cruds`` in that order (create, read, update, delete, search). The
v1 forms ``.read`` (= ``rs``), ``.write`` (= ``cud``) and ``.*`` (= ``cruds``) are accepted.
Scopes with a query part (``?category=...``) are not granted: Hygie cannot enforce them yet, and
what cannot be enforced is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hygie.fhir.validation import r4_resource_types

CONTEXTS = ("patient", "user", "system")
PERMISSION_ORDER = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
SCOPE_PATTERN = re.compile(
    r"(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<permissions>[a-z*]+)"
)
NON_RESOURCE_SCOPES = frozenset(
    {"openid", "fhirUser", "launch", "launch/patient", "offline_access"}
)


@dataclass(frozen=True)
class Scope:
    """One resource scope: context, resource type (or ``*``) and permission letters."""

    context: str
    resource_type: str
    permissions: frozenset[str]

    @property
    def text(self) -> str:
        letters = "".join(p for p in PERMISSION_ORDER if p in self.permissions)
        return f"{self.context}/{self.resource_type}.{letters}"

    def covers(self, other: Scope) -> bool:
        """True when this scope allows everything ``other`` asks for."""
        return (
            self.context == other.context
            and self.resource_type in ("*", other.resource_type)
            and other.permissions <= self.permissions
        )


class ScopeSyntaxError(ValueError):
    """A scope string that is not SMART v2 (nor v1) resource-scope syntax."""


def parse_scope(text: str) -> Scope:
    """Parse one resource scope.

    >>> parse_scope("system/Observation.rs").text
    'system/Observation.rs'
    >>> parse_scope("patient/*.read").text
    'patient/*.rs'
    """
    match = SCOPE_PATTERN.fullmatch(text)
    if match is None:
        raise ScopeSyntaxError(
            f"scope {text[:100]!r} is not <patient|user|system>/<Type|*>.<cruds|read|write|*>"
        )
    resource_type = match["type"]
    if resource_type != "*" and resource_type not in r4_resource_types():
        raise ScopeSyntaxError(f"scope {text!r} names {resource_type!r}, not a FHIR R4 type")
    letters = V1_PERMISSIONS.get(match["permissions"], match["permissions"])
    if not _in_order(letters):
        raise ScopeSyntaxError(
            f"scope {text!r}: permissions must be letters of 'cruds' in that order"
        )
    return Scope(match["context"], resource_type, frozenset(letters))


def _in_order(letters: str) -> bool:
    positions = [PERMISSION_ORDER.find(letter) for letter in letters]
    return bool(letters) and -1 not in positions and positions == sorted(set(positions))


def parse_scopes(text: str) -> list[Scope]:
    """Parse a space-separated list of resource scopes (other known scopes are skipped)."""
    return [parse_scope(s) for s in text.split() if s not in NON_RESOURCE_SCOPES]


def grant_scopes(requested: str, allowed: list[Scope], *, patient_bound: bool) -> list[Scope]:
    """The requested scopes the client's registration covers.

    A patient-bound client only gets ``patient/`` scopes; a client without a patient never gets
    them (there is no patient context to confine them to). Unknown or malformed scopes are not
    granted.
    """
    granted: list[Scope] = []
    for text in requested.split():
        if text in NON_RESOURCE_SCOPES:
            continue
        try:
            scope = parse_scope(text)
        except ScopeSyntaxError:
            continue
        if (scope.context == "patient") != patient_bound:
            continue
        if any(a.covers(scope) for a in allowed) and scope not in granted:
            granted.append(scope)
    return granted


@dataclass(frozen=True)
class Grant:
    """What a token allows: its scopes and, for patient scopes, the patient they confine to."""

    scopes: tuple[Scope, ...]
    patient_id: str | None

    def access(self, permission: str, resource_type: str) -> str | None:
        """``"all"``, ``"compartment"`` (only the patient's compartment) or None (refused)."""
        confined = False
        for scope in self.scopes:
            if permission in scope.permissions and scope.resource_type in ("*", resource_type):
                if scope.context in ("system", "user"):
                    return "all"
                confined = True
        if confined and self.patient_id is not None:
            return "compartment"
        return None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.scopes)
