"""Read interactions: read, vread, history (instance and type) and search."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hygie.api import reads
from hygie.api.access import authenticate, authorize, checked_id, checked_type, note, note_resources
from hygie.api.compartment import patients_of
from hygie.api.context import ApiContext, CachedResource
from hygie.api.outcome import FhirError, fhir_response, operation_outcome
from hygie.api.reads import EVERYTHING, Confinement
from hygie.api.search import DEFAULT_COUNT, MAX_COUNT, SearchRequest, date_range, parse_search
from hygie.api.tokens import Principal

router = APIRouter()
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}


def context_of(request: Request) -> ApiContext:
    """The server state the app was made with."""
    context: ApiContext = request.app.state.context
    return context


def admit(
    request: Request, interaction: str, resource_type: str, resource_id: str | None = None
) -> tuple[ApiContext, Principal, str]:
    """Open an interaction on one type, failing closed in this order: note it for the audit,
    check the type (and the id when given), authenticate, authorize.

    Returns the server state, the caller and its access (``"all"`` or ``"compartment"``).
    """
    context = context_of(request)
    note(request, interaction=interaction, resource_type=resource_type)
    checked_type(resource_type)
    if resource_id is not None:
        checked_id(resource_id)
    principal = authenticate(context, request)
    return context, principal, authorize(principal, interaction, resource_type)


def confinement_for(access: str, patient_id: str | None) -> Confinement:
    """All data, or the compartment of the token's patient."""
    if access == "all":
        return EVERYTHING
    if patient_id is None:  # a confined grant without a patient: see nothing
        raise FhirError(403, "the token's patient scopes name no patient")
    return Confinement([patient_id])


def strict_handling(request: Request) -> bool:
    """True when the client asked ``Prefer: handling=strict``."""
    prefer = request.headers.get("prefer", "")
    return any(p.strip() == "handling=strict" for p in prefer.split(";") + prefer.split(","))


@router.get("/{resource_type}/_history")
async def history_type(request: Request, resource_type: str) -> Response:
    """Every version of every resource of a type, newest first."""
    return await _history(request, resource_type, None)


@router.get("/{resource_type}/{resource_id}")
async def read(request: Request, resource_type: str, resource_id: str) -> Response:
    """Read the current version of a resource (served from a cache kept exact by writes)."""
    context, principal, access = admit(request, "read", resource_type, resource_id)
    key = (resource_type, resource_id)
    found = context.cache.get(key)
    if found is None:
        generation = context.generation
        found = await run_in_threadpool(_load, context, resource_type, resource_id)
        context.cache.put(key, found, generation, context.generation)
    confinement = confinement_for(access, principal.grant.patient_id)
    if not confinement.allows(found.patients):
        raise FhirError(
            403, f"{resource_type}/{resource_id} is outside the token's patient compartment"
        )
    note_resources(request, [f"{resource_type}/{resource_id}"], set(found.patients))
    return fhir_response(found.body, headers={"ETag": f'W/"{found.version_id}"'})


def _load(context: ApiContext, resource_type: str, resource_id: str) -> CachedResource:
    serving = context.serving
    if serving is not None:
        served = serving.get(resource_type, resource_id)
        if served is not None:
            version_id, body = served
            patients = frozenset(patients_of(resource_type, reads.stored_json(body)))
            return CachedResource(version_id, body, patients)
    cursor = context.reader()
    found = reads.read_current(cursor, context.zone, resource_type, resource_id, context.root)
    if found is not None:
        return found
    state = reads.version_state(cursor, context.zone, resource_type, resource_id)
    if state is not None and state[1]:
        raise FhirError(410, f"{resource_type}/{resource_id} was deleted (version {state[0]})")
    raise FhirError(404, f"no {resource_type}/{resource_id} in the {context.zone.name} zone")


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
async def vread(
    request: Request, resource_type: str, resource_id: str, version_id: str
) -> Response:
    """Read one version of a resource."""
    context, principal, access = admit(request, "vread", resource_type, resource_id)
    if not version_id.isdigit() or len(version_id) > 9:
        raise FhirError(404, f"version {version_id[:20]!r} does not exist (versions are 1, 2…)")

    def load() -> tuple[bool, bytes | None] | None:
        return reads.read_version(
            context.reader(), context.zone, resource_type, resource_id, int(version_id)
        )

    found = await run_in_threadpool(load)
    reference = f"{resource_type}/{resource_id}/_history/{version_id}"
    if found is None:
        raise FhirError(404, f"no {reference}")
    deleted, body = found
    if deleted or body is None:
        raise FhirError(410, f"{reference} is a delete")
    patients = patients_of(resource_type, reads.stored_json(body))
    if not confinement_for(access, principal.grant.patient_id).allows(patients):
        raise FhirError(403, f"{reference} is outside the token's patient compartment")
    note_resources(request, [f"{resource_type}/{resource_id}"], patients)
    return fhir_response(body, headers={"ETag": f'W/"{version_id}"'})


@router.get("/{resource_type}/{resource_id}/_history")
async def history_instance(request: Request, resource_type: str, resource_id: str) -> Response:
    """Every version of one resource, newest first."""
    return await _history(request, resource_type, checked_id(resource_id))


async def _history(request: Request, resource_type: str, resource_id: str | None) -> Response:
    interaction = "history-type" if resource_id is None else "history-instance"
    context, principal, access = admit(request, interaction, resource_type)
    confinement = confinement_for(access, principal.grant.patient_id)
    count, offset, since = _history_params(request)

    def load() -> tuple[int, list[reads.HistoryRow], int]:
        cursor = context.reader()
        total, rows = reads.history(
            cursor, context.zone, resource_type, resource_id, since, confinement, count, offset
        )
        every = 0
        if resource_id is not None and total == 0:
            every = reads.count_history(cursor, context.zone, resource_type, resource_id)
        return total, rows, every

    total, rows, every = await run_in_threadpool(load)
    if resource_id is not None and total == 0:
        if every:
            raise FhirError(
                403, f"{resource_type}/{resource_id} is outside the token's patient compartment"
            )
        if since is None:
            raise FhirError(404, f"no {resource_type}/{resource_id}")
    entries: list[dict[str, Any]] = []
    references: list[str] = []
    patients: set[str] = set()
    for row in rows:
        url = f"{context.base_url}/{row.resource_type}/{row.id}"
        entry: dict[str, Any] = {"fullUrl": url}
        if row.body is not None:
            resource = reads.stored_json(row.body)
            patients |= patients_of(row.resource_type, resource)
            entry["resource"] = orjson.Fragment(row.body)
        method = "DELETE" if row.deleted else ("POST" if row.version_id == 1 else "PUT")
        entry["request"] = {"method": method, "url": f"{row.resource_type}/{row.id}"}
        entry["response"] = {
            "status": "204" if row.deleted else ("201" if row.version_id == 1 else "200"),
            "etag": f'W/"{row.version_id}"',
            "lastModified": row.last_updated.isoformat(),
        }
        entries.append(entry)
        references.append(f"{row.resource_type}/{row.id}")
    note_resources(request, sorted(set(references)), patients)
    path = f"/{resource_type}" + (f"/{resource_id}" if resource_id else "") + "/_history"
    bundle = {
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": _links(context, request, path, offset, count, total),
        "entry": entries,
    }
    return fhir_response(bundle)


def _history_params(request: Request) -> tuple[int, int, datetime | None]:
    count, offset, since = DEFAULT_COUNT, 0, None
    for name, value in request.query_params.multi_items():
        if name == "_count":
            if not value.isdigit() or int(value) > MAX_COUNT:
                raise FhirError(400, f"_count must be a whole number from 0 to {MAX_COUNT}")
            count = int(value)
        elif name == "_offset":
            if not value.isdigit() or len(value) > 9:
                raise FhirError(400, "_offset must be a whole number")
            offset = int(value)
        elif name == "_since":
            _, since, _ = date_range("_since", value)
        elif strict_handling(request):
            raise FhirError(400, f"history parameter {name[:80]!r} is not supported")
    return count, offset, since


def _links(
    context: ApiContext, request: Request, path: str, offset: int, count: int, total: int
) -> list[dict[str, str]]:
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
    base = f"{context.base_url}{path}"
    links = [{"relation": "self", "url": f"{base}?{urlencode([*items, ('_offset', offset)])}"}]
    if count and offset + count < total:
        links.append(
            {
                "relation": "next",
                "url": f"{base}?{urlencode([*items, ('_offset', offset + count)])}",
            }
        )
    if offset > 0:
        previous = max(0, offset - max(count, 1))
        links.append(
            {"relation": "previous", "url": f"{base}?{urlencode([*items, ('_offset', previous)])}"}
        )
    return links


@router.get("/{resource_type}")
async def search_type(request: Request, resource_type: str) -> Response:
    """Search one type; unknown parameters per ``Prefer: handling`` (lenient by default)."""
    context, principal, access = admit(request, "search-type", resource_type)
    items = request.query_params.multi_items()
    note(request, parameters=sorted({name for name, _ in items}))
    search = parse_search(resource_type, items, strict=strict_handling(request))
    confinement = confinement_for(access, principal.grant.patient_id)
    if confinement.confined:
        _refuse_other_patients(search, confinement)
    include_confinement: dict[str, Confinement] = {}
    for include in search.includes:
        for target in include.target_types:
            include_confinement[target] = confinement_for(
                authorize(principal, "read", target), principal.grant.patient_id
            )
    for include in search.revincludes:
        include_confinement[include.source_type] = confinement_for(
            authorize(principal, "search-type", include.source_type), principal.grant.patient_id
        )

    def run() -> reads.SearchPage:
        return reads.search(
            context.reader(), context.zone, search, confinement, include_confinement, context.root
        )

    page = await run_in_threadpool(run)
    return fhir_response(_search_bundle(context, request, search, page))


def _refuse_other_patients(search: SearchRequest, confinement: Confinement) -> None:
    allowed = {f"Patient/{p}" for p in confinement.patient_ids or ()}
    for name, values in search.references.items():
        others = [v for v in values if v.startswith("Patient/") and v not in allowed]
        if others:
            raise FhirError(403, f"{name}: the token only reaches its own patient's compartment")
    if search.resource_type == "Patient":
        for parameter, _, values in search.filters:
            if parameter.type == "id" and not set(values) <= set(confinement.patient_ids or ()):
                raise FhirError(403, "_id: the token only reaches its own patient")


def _search_bundle(
    context: ApiContext, request: Request, search: SearchRequest, page: reads.SearchPage
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    references: list[str] = []
    patients: set[str] = set()
    for mode, rows in (("match", page.matches), ("include", page.included)):
        for resource_type, resource_id, body in rows:
            resource = reads.stored_json(body)
            patients |= patients_of(resource_type, resource)
            references.append(f"{resource_type}/{resource_id}")
            content: Any = orjson.Fragment(body)
            if search.elements is not None and mode == "match":
                content = _subset(resource, search.elements)
            entries.append(
                {
                    "fullUrl": f"{context.base_url}/{resource_type}/{resource_id}",
                    "resource": content,
                    "search": {"mode": mode},
                }
            )
    warnings = [
        f"ignored unsupported search parameters: {', '.join(search.ignored)}"
        if search.ignored
        else "",
        "some included resources were left out (over 1000 per include)"
        if page.truncated_includes
        else "",
    ]
    for warning in filter(None, warnings):
        entries.append(
            {
                "resource": operation_outcome(warning, code="not-supported", severity="warning"),
                "search": {"mode": "outcome"},
            }
        )
    note_resources(request, references, patients)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": page.total}
    if not search.summary_count:
        bundle["link"] = _links(
            context, request, f"/{search.resource_type}", search.offset, search.count, page.total
        )
    bundle["entry"] = entries
    return bundle


def _subset(resource: dict[str, Any], elements: list[str]) -> dict[str, Any]:
    kept = {k: v for k, v in resource.items() if k in ("resourceType", "id", "meta", *elements)}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept
