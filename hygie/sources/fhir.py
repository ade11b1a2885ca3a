"""FHIR R4 JSON documents: Bundles of every type and single resources (NDJSON: fhir_ndjson.py).

Bundle entries are unpacked into resources; ``urn:uuid:`` fullUrls and conditional references
(``Organization?identifier=system|value``) are rewritten to ``Type/id``; ``ifNoneExist`` on batch
and transaction entries skips resources that already exist.
"""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from hygie.fhir.references import (
    CONDITIONAL_REFERENCE,
    LITERAL_REFERENCE,
    ConditionalQuery,
    UnsupportedQueryError,
    identifiers_of,
    parse_conditional,
    rewrite_references,
)
from hygie.fhir.validation import check_resource, is_valid_id
from hygie.sources.base import (
    Interpretation,
    RawItem,
    ReadFailure,
    ReferenceLookup,
    Rejection,
    ResourceOut,
)

GZIP_MAGIC = b"\x1f\x8b"
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
"""A single JSON document larger than this is refused: bulk data belongs in NDJSON."""
ID_NAMESPACE = uuid.UUID("6f1d3a52-45f0-4d8e-9a55-2b0c6b1e7a10")
"""Namespace of the ids Hygie derives for bundle entries that come without one."""


def open_binary(path: Path) -> Any:
    """Open ``path`` for binary reading, decompressing it when it is gzip (by content)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rb")
    return path.open("rb", buffering=1 << 20)


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the (decompressed) content of ``path``; empty if unreadable."""
    try:
        with open_binary(path) as handle:
            head: bytes = handle.read(size)
            return head
    except (OSError, EOFError, zlib.error):
        return b""


def json_problem(content: bytes) -> Rejection:
    """Explain why ``content`` is not a JSON document, telling encoding errors apart."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = content[exc.start : exc.start + 1].hex()
        return Rejection(
            "invalid-encoding",
            f"not UTF-8 (byte 0x{bad} at offset {exc.start}); FHIR JSON must be UTF-8",
        )
    try:
        orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1:
            return Rejection("truncated-json", f"JSON ends before it is complete: {exc.msg}")
        return Rejection(
            "invalid-json", f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        )
    return Rejection("invalid-json", "unreadable JSON")


class FhirJsonSource:
    """One JSON document per file: a resource or a Bundle (``.json``, ``.json.gz``)."""

    name = "fhir-json"

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.lstrip().startswith(b"{") or path.name.lower().endswith((".json", ".json.gz"))

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        source = str(path)
        try:
            with open_binary(path) as handle:
                content: bytes = handle.read(MAX_DOCUMENT_BYTES + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield ReadFailure(source, None, None, "truncated-gzip", f"compressed file cut: {exc}")
            return
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")
            return
        if len(content) > MAX_DOCUMENT_BYTES:
            yield ReadFailure(
                source,
                None,
                0,
                "document-too-large",
                f"a single JSON document over {MAX_DOCUMENT_BYTES // 2**20} MiB; "
                "split it or export it as NDJSON",
            )
            return
        if not content.strip():
            yield ReadFailure(source, None, 0, "empty-file", "the file holds no FHIR resource")
            return
        yield RawItem(source, 1, 0, self.name, content.removeprefix(b"\xef\xbb\xbf"))

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        return interpret_json(item, lookup)


def interpret_json(item: RawItem, lookup: ReferenceLookup) -> Interpretation:
    """Parse one JSON item into resources: a single resource, or the entries of a Bundle."""
    try:
        parsed = orjson.loads(item.content)
    except orjson.JSONDecodeError:
        return Interpretation(rejections=[json_problem(item.content)])
    if isinstance(parsed, dict) and parsed.get("resourceType") == "Bundle":
        return interpret_bundle(parsed, item, lookup)
    problem = check_resource(parsed)
    if problem is not None:
        rejected = parsed if isinstance(parsed, dict) else {}
        return Interpretation(
            rejections=[
                Rejection(
                    problem.reason,
                    problem.message,
                    resource_type=_text(rejected.get("resourceType")),
                    resource_id=_text(rejected.get("id")),
                )
            ]
        )
    out = Interpretation()
    content = item.content
    if b"urn:uuid:" in content or b"?identifier=" in content:
        # Conditional or uuid references in a lone resource: resolve against the warehouse.
        unresolved = rewrite_references(parsed, lambda ref: _resolve_outside(ref, lookup, out))
        if unresolved:
            out.rejections.append(_unresolved(unresolved, parsed["resourceType"], parsed["id"]))
            return out
        content = orjson.dumps(parsed)
    out.resources.append(ResourceOut(parsed["resourceType"], parsed["id"], content))
    return out


def interpret_bundle(
    bundle: dict[str, Any], item: RawItem, lookup: ReferenceLookup
) -> Interpretation:
    """Unpack a Bundle's entries, resolving in-bundle and conditional references."""
    out = Interpretation()
    bundle_type = bundle.get("type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        out.rejections.append(Rejection("invalid-bundle", "Bundle.entry is not a list"))
        return out
    is_request_bundle = bundle_type in ("transaction", "batch")
    full_urls: dict[str, str] = {}
    planned: list[tuple[int, dict[str, Any], str, str]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            out.rejections.append(Rejection("invalid-bundle", "entry is not an object", index))
            continue
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        assert isinstance(request, dict)
        method = str(request.get("method") or ("POST" if is_request_bundle else "")).upper()
        if method == "DELETE":
            target = LITERAL_REFERENCE.fullmatch(str(request.get("url", "")))
            if target is None:
                out.rejections.append(
                    Rejection("invalid-request", "DELETE entry without a Type/id url", index)
                )
            else:
                out.resources.append(ResourceOut(target["type"], target["id"], None, index))
            continue
        resource = entry.get("resource")
        problem = check_resource(resource, id_required=False)
        if problem is not None:
            out.rejections.append(Rejection(problem.reason, problem.message, index))
            continue
        assert isinstance(resource, dict)
        resource_type: str = resource["resourceType"]
        resource_id = _entry_id(resource, entry, request, method, item, index)
        if resource_id is None:
            out.rejections.append(
                Rejection(
                    "invalid-request",
                    f"PUT url {request.get('url')!r} does not name this {resource_type}",
                    index,
                    resource_type,
                )
            )
            continue
        full_url = entry.get("fullUrl")
        if_none_exist = request.get("ifNoneExist") if method == "POST" else None
        if isinstance(if_none_exist, str) and if_none_exist:
            try:
                query = parse_conditional(resource_type, if_none_exist)
            except UnsupportedQueryError as exc:
                out.rejections.append(Rejection("unsupported-condition", str(exc), index))
                continue
            existing = lookup.find(query)
            if existing is not None:
                out.already_present.append(resource_type)
                if isinstance(full_url, str):
                    full_urls[full_url] = f"{resource_type}/{existing}"
                continue
        resource["id"] = resource_id
        if isinstance(full_url, str):
            full_urls[full_url] = f"{resource_type}/{resource_id}"
        planned.append((index, resource, resource_type, resource_id))

    in_bundle: dict[tuple[str, str | None, str], set[str]] | None = None

    def find_in_bundle(query: ConditionalQuery) -> str | None:
        nonlocal in_bundle
        if in_bundle is None:
            in_bundle = {}
            for _, resource, resource_type, resource_id in planned:
                for system, value in identifiers_of(resource):
                    in_bundle.setdefault((resource_type, system, value), set()).add(resource_id)
                    in_bundle.setdefault((resource_type, None, value), set()).add(resource_id)
        found: set[str] | None = None
        for system, value in query.identifiers:
            ids = in_bundle.get((query.resource_type, system, value), set())
            found = ids if found is None else found & ids
        return next(iter(found)) if found is not None and len(found) == 1 else None

    def resolve(reference: str) -> str | None:
        if reference in full_urls:
            return full_urls[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None
        conditional = CONDITIONAL_REFERENCE.fullmatch(reference)
        if conditional is not None:
            try:
                query = parse_conditional(conditional["type"], conditional["query"])
            except UnsupportedQueryError:
                return None
            found = find_in_bundle(query) or lookup.find(query)
            if found is None:
                out.unresolved.append(reference)
                return None
            return f"{query.resource_type}/{found}"
        return reference

    for index, resource, resource_type, resource_id in planned:
        unresolved = rewrite_references(resource, resolve)
        if unresolved:
            out.rejections.append(_unresolved(unresolved, resource_type, resource_id, index))
            continue
        out.resources.append(ResourceOut(resource_type, resource_id, orjson.dumps(resource), index))
    return out


def _entry_id(
    resource: dict[str, Any],
    entry: dict[str, Any],
    request: dict[str, Any],
    method: str,
    item: RawItem,
    index: int,
) -> str | None:
    """The id an entry is stored under: PUT url, then resource.id, then fullUrl, then derived."""
    if method == "PUT":
        target = LITERAL_REFERENCE.fullmatch(str(request.get("url", "")).split("?")[0])
        if target is None or target["type"] != resource["resourceType"]:
            return None
        return target["id"]
    if is_valid_id(resource.get("id")):
        return str(resource["id"])
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str):
        tail = full_url.removeprefix("urn:uuid:").rsplit("/", 1)[-1]
        if is_valid_id(tail):
            return tail
    return str(uuid.uuid5(ID_NAMESPACE, f"{item.source}:{item.line_no}:{index}"))


def _resolve_outside(reference: str, lookup: ReferenceLookup, out: Interpretation) -> str | None:
    """Resolve a reference found outside any bundle: only conditional ones can be resolved."""
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        return None
    conditional = CONDITIONAL_REFERENCE.fullmatch(reference)
    if conditional is None:
        return reference
    try:
        query: ConditionalQuery = parse_conditional(conditional["type"], conditional["query"])
    except UnsupportedQueryError:
        return None
    found = lookup.find(query)
    if found is None:
        out.unresolved.append(reference)
        return None
    return f"{query.resource_type}/{found}"


def _unresolved(
    references: list[str], resource_type: str, resource_id: str, index: int | None = None
) -> Rejection:
    shown = ", ".join(sorted(set(references))[:5])
    return Rejection(
        "unresolved-reference",
        f"{resource_type}/{resource_id} points to what is neither in its bundle nor in the "
        f"warehouse: {shown}",
        index,
        resource_type,
        resource_id,
    )


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None
