"""Write interactions: create (conditional too), update (If-Match), delete, transaction, batch."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hygie.api import writes
from hygie.api.access import authenticate, authorize, checked_type, note, note_resources
from hygie.api.compartment import patients_of
from hygie.api.context import ApiContext
from hygie.api.outcome import FhirError, fhir_response, operation_outcome
from hygie.api.reads import Confinement, read_current, version_state
from hygie.api.routes_read import admit, confinement_for, context_of
from hygie.api.tokens import Principal
from hygie.fhir.references import LITERAL_REFERENCE
from hygie.fhir.validation import check_resource

router = APIRouter()
METHOD_INTERACTION = {"POST": "create", "PUT": "update", "DELETE": "delete"}


async def read_body(request: Request, context: ApiContext) -> bytes:
    """The request body, refused with 413 beyond the size limit (checked while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > context.max_body_bytes:
        raise FhirError(413, f"the body is over {context.max_body_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > context.max_body_bytes:
            raise FhirError(413, f"the body is over {context.max_body_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _written_response(
    context: ApiContext, resource_type: str, resource_id: str, status: int
) -> Response:
    current = read_current(context.reader(), context.zone, resource_type, resource_id, context.root)
    if current is None:
        raise FhirError(500, f"{resource_type}/{resource_id} was stored but cannot be read back")
    location = f"{context.base_url}/{resource_type}/{resource_id}/_history/{current.version_id}"
    return fhir_response(
        current.body, status, {"ETag": f'W/"{current.version_id}"', "Location": location}
    )


@router.post("/{resource_type}")
async def create(request: Request, resource_type: str) -> Response:
    """Create a resource (a new id is assigned); ``If-None-Exist`` makes it conditional."""
    context, principal, access = admit(request, "create", resource_type)
    confinement = confinement_for(access, principal.grant.patient_id)
    resource = writes.checked_resource(await read_body(request, context), resource_type)
    resource["id"] = str(uuid.uuid4())
    condition = request.headers.get("if-none-exist")

    def run() -> Response:
        with context.write_lock:
            if condition is not None:
                existing, normalized = writes.conditional_match(
                    context, resource_type, condition, confinement
                )
                if existing is not None:
                    note_resources(request, [f"{resource_type}/{existing}"], set())
                    return _written_response(context, resource_type, existing, 200)
                writes.claim(context, resource_type, normalized, resource["id"])
            entry = {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": resource,
                "request": {"method": "POST", "url": resource_type},
            }
            stored = writes.commit(
                context, principal.client_id, writes.request_bundle([entry]), confinement
            )
            _note_stored(request, stored)
            return _written_response(context, resource_type, resource["id"], 201)

    return await run_in_threadpool(run)


@router.put("/{resource_type}/{resource_id}")
async def update(request: Request, resource_type: str, resource_id: str) -> Response:
    """Update (or create with a client id); ``If-Match`` refuses a stale version with 412."""
    context, principal, access = admit(request, "update", resource_type, resource_id)
    confinement = confinement_for(access, principal.grant.patient_id)
    resource = writes.checked_resource(await read_body(request, context), resource_type)
    if resource.get("id") != resource_id:
        raise FhirError(400, f"the body's id must be {resource_id!r}, the id in the URL")
    if_match = request.headers.get("if-match")
    expected = writes.parse_version(if_match) if if_match is not None else None

    def run() -> Response:
        with context.write_lock:
            _check_version(context, resource_type, resource_id, expected)
            entry = {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"},
            }
            stored = writes.commit(
                context, principal.client_id, writes.request_bundle([entry]), confinement
            )
            _note_stored(request, stored)
            before = stored.before.get((resource_type, resource_id))
            created = before is None or before[1]
            return _written_response(context, resource_type, resource_id, 201 if created else 200)

    return await run_in_threadpool(run)


def _check_version(
    context: ApiContext, resource_type: str, resource_id: str, expected: int | None
) -> None:
    if expected is None:
        return
    state = version_state(context.reader(), context.zone, resource_type, resource_id)
    if state is None or state[1] or state[0] != expected:
        found = "absent" if state is None else ("deleted" if state[1] else f"version {state[0]}")
        raise FhirError(
            412,
            f"If-Match expects version {expected}, {resource_type}/"
            f"{resource_id} is {found}: read it again and retry",
        )


@router.delete("/{resource_type}/{resource_id}")
async def delete(request: Request, resource_type: str, resource_id: str) -> Response:
    """Delete (a new, deleted version); deleting what is absent or deleted changes nothing."""
    context, principal, access = admit(request, "delete", resource_type, resource_id)
    confinement = confinement_for(access, principal.grant.patient_id)
    if_match = request.headers.get("if-match")
    expected = writes.parse_version(if_match) if if_match is not None else None

    def run() -> Response:
        with context.write_lock:
            _check_version(context, resource_type, resource_id, expected)
            current = read_current(
                context.reader(), context.zone, resource_type, resource_id, context.root
            )
            if current is None:
                return Response(status_code=204)
            entry = {"request": {"method": "DELETE", "url": f"{resource_type}/{resource_id}"}}
            writes.commit(context, principal.client_id, writes.request_bundle([entry]), confinement)
            note_resources(request, [f"{resource_type}/{resource_id}"], set(current.patients))
            return Response(status_code=204)

    return await run_in_threadpool(run)


def _note_stored(request: Request, stored: writes.Stored) -> None:
    patients: set[str] = set()
    for resource in stored.interpretation.resources:
        if resource.json is not None:
            patients |= patients_of(resource.resource_type, orjson.loads(resource.json))
    note_resources(
        request, [f"{r.resource_type}/{r.id}" for r in stored.interpretation.resources], patients
    )


@router.post("/")
async def transaction_or_batch(request: Request) -> Response:
    """A transaction (all entries or none) or a batch (each entry on its own) Bundle."""
    context = context_of(request)
    note(request, interaction="transaction")
    principal = authenticate(context, request)
    bundle = writes.parse_json(await read_body(request, context))
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "POST to the base takes a Bundle of type transaction or batch")
    kind = bundle.get("type")
    entries = bundle.get("entry") or []
    if kind not in ("transaction", "batch") or not isinstance(entries, list):
        raise FhirError(400, "Bundle.type must be transaction or batch, with a list of entries")
    note(request, interaction=kind)
    if kind == "transaction":
        prepared, confinement = _prepare(principal, entries)
        body = await run_in_threadpool(
            _run_transaction, context, request, principal, prepared, confinement
        )
        return fhir_response(body)
    responses: list[dict[str, Any]] = []
    for entry in entries:
        try:
            prepared, confinement = _prepare(principal, [entry])
            result = await run_in_threadpool(
                _run_transaction, context, request, principal, prepared, confinement
            )
            responses.extend(result["entry"])
        except FhirError as error:
            responses.append(
                {
                    "response": {
                        "status": str(error.status),
                        "outcome": operation_outcome(error.diagnostics, code=error.code),
                    }
                }
            )
    return fhir_response({"resourceType": "Bundle", "type": "batch-response", "entry": responses})


def _prepare(principal: Principal, entries: list[Any]) -> tuple[list[dict[str, Any]], Confinement]:
    """Check each entry's shape and the token's right to it; give POSTs fresh ids."""
    prepared: list[dict[str, Any]] = []
    confinements: list[Confinement] = []
    for index, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            raise FhirError(400, f"entry {index}: no request")
        method = str(request.get("method", "")).upper()
        if method not in METHOD_INTERACTION:
            raise FhirError(
                400,
                f"entry {index}: method {method[:10]!r} is not supported here (POST, PUT, DELETE)",
            )
        url = str(request.get("url", ""))
        if method == "POST":
            resource = entry.get("resource")
            problem = check_resource(resource, id_required=False)
            if problem is not None:
                raise FhirError(400, f"entry {index}: {problem.message}")
            resource_type = resource["resourceType"]
            entry = {**entry, "resource": {**resource, "id": str(uuid.uuid4())}}
        else:
            target = LITERAL_REFERENCE.fullmatch(url.split("?")[0])
            if target is None or target["base"] or target["version"]:
                raise FhirError(400, f"entry {index}: {method} url must be Type/id")
            resource_type = target["type"]
            checked_type(resource_type)
        access = authorize(principal, METHOD_INTERACTION[method], resource_type)
        confinements.append(confinement_for(access, principal.grant.patient_id))
        prepared.append(entry)
    confined = [c for c in confinements if c.confined]
    return prepared, (confined[0] if confined else Confinement())


def _run_transaction(
    context: ApiContext,
    request: Request,
    principal: Principal,
    entries: list[dict[str, Any]],
    confinement: Confinement,
) -> dict[str, Any]:
    with context.write_lock:
        for entry in entries:
            if_match = entry["request"].get("ifMatch")
            if if_match is not None:
                target = LITERAL_REFERENCE.fullmatch(str(entry["request"].get("url", "")))
                assert target is not None
                _check_version(
                    context, target["type"], target["id"], writes.parse_version(str(if_match))
                )
        stored = writes.commit(
            context, principal.client_id, writes.request_bundle(entries), confinement
        )
    _note_stored(request, stored)
    by_index = {r.entry_index: r for r in stored.interpretation.resources}
    responses: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        resource = by_index.get(index)
        if resource is None:  # ifNoneExist matched an existing resource
            responses.append({"response": {"status": "200 OK"}})
            continue
        key = (resource.resource_type, resource.id)
        before, after = stored.before.get(key), stored.after.get(key)
        method = entry["request"]["method"].upper()
        if method == "DELETE":
            responses.append({"response": {"status": "204 No Content"}})
            continue
        created = before is None or before[1]
        version = after[0] if after else 0
        responses.append(
            {
                "fullUrl": f"{context.base_url}/{key[0]}/{key[1]}",
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "location": f"{key[0]}/{key[1]}/_history/{version}",
                    "etag": f'W/"{version}"',
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
