"""Authentication and authorization of each request, failing closed, and what the audit notes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from hygie.api.context import ApiContext
from hygie.api.outcome import FhirError
from hygie.api.tokens import Principal
from hygie.errors import AuthError
from hygie.fhir.validation import ID_PATTERN, r4_resource_types

INTERACTION_PERMISSION = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "history-type": "s",
    "search-type": "s",
    "create": "c",
    "update": "u",
    "delete": "d",
    "export": "r",
}
"""The SMART v2 permission letter each interaction needs."""


def audit_of(request: Request) -> dict[str, Any]:
    """The audit notes of this request (filled by handlers, written by the audit middleware)."""
    notes: dict[str, Any] = request.scope.setdefault("state", {}).setdefault("audit", {})
    return notes


def note(request: Request, **fields: Any) -> None:
    """Add to the audit notes of this request."""
    audit_of(request).update(fields)


def note_resources(request: Request, references: list[str], patients: set[str]) -> None:
    """Record the resources touched and the patients they concern (capped for size)."""
    notes = audit_of(request)
    listed: list[str] = notes.setdefault("resources", [])
    listed.extend(references[: max(0, 200 - len(listed))])
    if len(references) > 200:
        notes["resources_truncated"] = True
    known: list[str] = notes.setdefault("patients", [])
    known.extend(sorted(p for p in patients if p not in known))


def authenticate(context: ApiContext, request: Request) -> Principal:
    """The verified caller, or 401 (no token, bad or expired token, other zone)."""
    try:
        principal = context.tokens.principal(request.headers.get("authorization"))
    except AuthError as exc:
        raise FhirError(
            401,
            str(exc),
            headers={"WWW-Authenticate": 'Bearer realm="hygie", error="invalid_token"'},
        ) from exc
    note(request, client=principal.client_id)
    if principal.grant.patient_id is not None:
        note(request, token_patient=principal.grant.patient_id)
    return principal


def authorize(principal: Principal, interaction: str, resource_type: str) -> str:
    """``"all"`` or ``"compartment"`` for this interaction on this type, or 403."""
    permission = INTERACTION_PERMISSION[interaction]
    access = principal.grant.access(permission, resource_type)
    if access is None:
        raise FhirError(
            403,
            f"the token's scopes ({principal.grant.text}) do not allow {interaction} on "
            f"{resource_type} (needs '{permission}')",
        )
    return access


def checked_type(resource_type: str) -> str:
    """``resource_type`` when it is a FHIR R4 type, else 404."""
    if resource_type not in r4_resource_types():
        raise FhirError(404, f"{resource_type[:80]!r} is not a FHIR R4 resource type")
    return resource_type


def checked_id(resource_id: str) -> str:
    """``resource_id`` when it is a FHIR id, else 400."""
    if ID_PATTERN.fullmatch(resource_id) is None:
        raise FhirError(400, f"{resource_id[:80]!r} is not a FHIR id ([A-Za-z0-9-.]{{1,64}})")
    return resource_id
