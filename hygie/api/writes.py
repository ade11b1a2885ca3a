"""Writes through the ingestion path: every change is a transaction Bundle ingested as one item.

Each request becomes one raw item (source ``api:<client>``), so the raw zone and the version
history are shared with file ingestion. The Bundle gets a fresh id and timestamp, so two equal
requests are two raw items (a re-create after a delete is never mistaken for a duplicate).
Before anything is stored the Bundle is interpreted once without storing (a dry run): any
rejected or unresolved entry refuses the whole request. One item is one ingestion batch, which
is one database transaction: a transaction Bundle is stored whole or not at all.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from hygie.api.compartment import patients_of
from hygie.api.context import ApiContext
from hygie.api.outcome import FhirError
from hygie.api.reads import Confinement, read_current, search, version_state
from hygie.api.reference_index import sync_reference_index
from hygie.api.search import parse_search
from hygie.fhir.references import ConditionalQuery
from hygie.fhir.validation import check_resource
from hygie.sources import SOURCES
from hygie.sources.base import Interpretation, RawItem
from hygie.warehouse.engine import Engine
from hygie.warehouse.ingest import ingest_items
from hygie.warehouse.sql import load_statements

QUERIES = load_statements("hygie.api", "queries.sql")

logger = logging.getLogger("hygie.api")


def parse_json(body: bytes) -> Any:
    """The parsed body, or 400 saying why it is not JSON (encoding, syntax, depth)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise FhirError(
                400, f"the body is not UTF-8 (byte {bad.start}); FHIR JSON is UTF-8"
            ) from exc
        raise FhirError(400, f"the body is not valid JSON: {exc.msg} at char {exc.pos}") from exc


def checked_resource(body: bytes, resource_type: str) -> dict[str, Any]:
    """The body as a resource of ``resource_type`` that passes the structural checks."""
    resource = parse_json(body)
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        raise FhirError(400, f"the body must be a {resource_type} resource (resourceType)")
    problem = check_resource(resource, id_required=False)
    if problem is not None:
        raise FhirError(400, f"{problem.reason}: {problem.message}")
    return resource


def parse_version(tag: str) -> int:
    """The version number of an ETag (``W/"3"`` or ``"3"``), or 400."""
    text = tag.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise FhirError(400, f'If-Match {tag[:40]!r} is not a version ETag like W/"3"')
    return int(text)


class WarehouseSearchLookup:
    """Resolves conditional references and ifNoneExist against the zone, by identifier."""

    def __init__(self, context: ApiContext, cursor: Engine) -> None:
        self.context = context
        self.cursor = cursor

    def find(self, query: ConditionalQuery) -> str | None:
        items = [
            ("identifier", f"{system}|{value}" if system is not None else value)
            for system, value in query.identifiers
        ]
        request = parse_search(query.resource_type, items, strict=True)
        request.count = 2
        page = search(self.cursor, self.context.zone, request, Confinement(), {}, self.context.root)
        return page.matches[0][1] if page.total == 1 else None


@dataclass
class Stored:
    """What a committed request changed, per entry: (type, id, version before, version after)."""

    interpretation: Interpretation
    before: dict[tuple[str, str], tuple[int, bool] | None]
    after: dict[tuple[str, str], tuple[int, bool] | None]


def request_bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle wrapping the entries of one request (unique per request)."""
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "transaction",
        "timestamp": datetime.now(UTC).isoformat(),
        "entry": entries,
    }


def dry_run(context: ApiContext, cursor: Engine, content: bytes) -> Interpretation:
    """Interpret a request Bundle without storing it; 400/422 with every problem found."""
    item = RawItem("api-check", None, None, "fhir-json", content)
    interpretation = SOURCES["fhir-json"].interpret(item, WarehouseSearchLookup(context, cursor))
    problems = [
        (f"entry {r.entry_index}: " if r.entry_index is not None else "") + r.message
        for r in interpretation.rejections
    ]
    problems += [f"unresolved reference {r}" for r in interpretation.unresolved]
    if problems:
        raise FhirError(
            422 if interpretation.unresolved else 400,
            "nothing was stored: " + "; ".join(problems[:20]),
        )
    return interpretation


def commit(
    context: ApiContext, client_id: str, bundle: dict[str, Any], confinement: Confinement
) -> Stored:
    """Check and store one request Bundle; the caller holds the write lock."""
    cursor = context.reader()
    content = orjson.dumps(bundle)
    interpretation = dry_run(context, cursor, content)
    keys = [(r.resource_type, r.id) for r in interpretation.resources]
    before = {key: version_state(cursor, context.zone, *key) for key in keys}
    if confinement.confined:
        for resource in interpretation.resources:
            key = (resource.resource_type, resource.id)
            if resource.json is not None:
                new = patients_of(resource.resource_type, orjson.loads(resource.json))
                if not confinement.allows(new):
                    raise FhirError(
                        403, f"{key[0]}/{key[1]} would be outside the token's patient compartment"
                    )
            current = read_current(cursor, context.zone, *key, context.root)
            if current is not None and not confinement.allows(current.patients):
                raise FhirError(
                    403, f"{key[0]}/{key[1]} is outside the token's patient compartment"
                )
    item = RawItem(f"api:{client_id}", None, None, "fhir-json", content)
    try:
        report = ingest_items(context.warehouse, context.engine, [item], command="api")
        touched_ids = sorted({key[1] for key in keys})
        sync_reference_index(context.engine, touched_ids)
        if context.serving is not None:
            try:
                context.serving.catch_up(context.engine, context.root, touched_ids)
            except Exception:
                # A store that could not follow the write must not answer reads any more: the
                # engine path stays exact (the store is rebuilt at the next start).
                logger.exception("the serving store could not follow a write; reads use the engine")
                context.serving = None
    finally:
        context.written(keys)
    if report.counts.totals()["quarantined"]:
        reasons = ", ".join(sorted(report.counts.quarantined))
        raise FhirError(422, f"the request was quarantined ({reasons}); see `hygie quarantine`")
    cursor = context.reader()
    after = {key: version_state(cursor, context.zone, *key) for key in keys}
    return Stored(interpretation, before, after)


def conditional_match(
    context: ApiContext, resource_type: str, condition: str, confinement: Confinement
) -> tuple[str | None, str]:
    """The id matching an If-None-Exist condition (None when nothing matches), and the
    normalized condition; 412 when several match."""
    items = sorted(parse_qsl(condition, keep_blank_values=True))
    if not items:
        raise FhirError(400, "If-None-Exist holds no search parameter")
    request = parse_search(resource_type, items, strict=True)
    request.count, request.offset, request.includes, request.revincludes = 2, 0, [], []
    page = search(context.reader(), context.zone, request, confinement, {}, context.root)
    if page.total > 1:
        raise FhirError(412, f"If-None-Exist matches {page.total} {resource_type} resources")
    return (page.matches[0][1] if page.matches else None), urlencode(items)


def claim(context: ApiContext, resource_type: str, condition: str, resource_id: str) -> str:
    """Claim a conditional create in the database; return the id that holds the claim."""
    params = {"resource_type": resource_type, "condition": condition}
    context.engine.execute(QUERIES["release_stale_claim"], params)
    rows = context.engine.fetchall(
        QUERIES["claim_conditional_create"],
        {**params, "id": resource_id, "now": datetime.now(UTC)},
    )
    if rows:
        return str(rows[0][0])
    held = context.engine.fetchall(QUERIES["claim_holder"], params)
    return str(held[0][0])
