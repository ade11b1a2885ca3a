"""Reading the zone: one resource, one version, histories and search pages, as SQL.

Each function takes a cursor (see :meth:`ApiContext.reader`) and the zone; view names come from
the zone's definition, every value is a bound parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hygie.api.compartment import compartment_clause, path_values, patients_of
from hygie.api.context import CachedResource
from hygie.api.reference_index import QUERIES, reference_candidates
from hygie.api.search import Include, SearchRequest, values_list, where_clause
from hygie.api.serving import RENDERED
from hygie.api.zones import Zone
from hygie.warehouse.engine import Engine

MAX_INCLUDED = 1000


@dataclass(frozen=True)
class Confinement:
    """How far a request may see: everything, or the compartments of some patients."""

    patient_ids: list[str] | None = None

    @property
    def confined(self) -> bool:
        return self.patient_ids is not None

    def clause(self, resource_type: str) -> tuple[str, list[Any]]:
        if self.patient_ids is None:
            return "true", []
        return compartment_clause(resource_type, self.patient_ids)

    def allows(self, patients: frozenset[str] | set[str]) -> bool:
        return self.patient_ids is None or bool(patients & set(self.patient_ids))


EVERYTHING = Confinement()


def stored_json(body: bytes) -> Any:
    """A stored resource's JSON as Python values. Stored JSON is valid, but may hold a number
    beyond a double (``1e999``, accepted at ingestion as RFC 8259 allows), which orjson refuses:
    the standard library reads those (as infinity) instead of failing the request."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def read_current(
    cursor: Engine, zone: Zone, resource_type: str, resource_id: str, root: Path | None = None
) -> CachedResource | None:
    """The current version of a resource, rendered, or None.

    With the warehouse ``root``, the locator names the one Parquet file holding the resource
    (a key lookup, then one file read); otherwise, or for a resource it has not located, the
    zone's view answers (a join over every file).
    """
    key = {"resource_type": resource_type, "id": resource_id}
    located = cursor.fetchall(QUERIES["locate"], key) if root is not None else []
    if located and root is not None:
        version_id, last_updated, file = located[0]
        rows = cursor.fetchall(
            f"SELECT version_id, {RENDERED} FROM (SELECT version_id, "
            "CAST(? AS TIMESTAMPTZ) AS last_updated, CAST(resource AS JSON) AS resource "
            "FROM read_parquet(?) WHERE resource_type = ? AND id = ? AND version_id = ?)",
            [last_updated, str(root / file), resource_type, resource_id, version_id],
        )
    else:
        rows = cursor.fetchall(
            f"SELECT version_id, {RENDERED} FROM {zone.current_view} "
            "WHERE resource_type = ? AND id = ?",
            [resource_type, resource_id],
        )
    if not rows:
        return None
    version_id, text = rows[0]
    body = text.encode()
    patients = frozenset(patients_of(resource_type, stored_json(body)))
    return CachedResource(int(version_id), body, patients)


def version_state(
    cursor: Engine, zone: Zone, resource_type: str, resource_id: str
) -> tuple[int, bool] | None:
    """(latest version, deleted) of a resource, or None when it never existed."""
    rows = cursor.fetchall(
        f"SELECT version_id, deleted FROM {zone.history_view} "
        "WHERE resource_type = ? AND id = ? ORDER BY version_id DESC LIMIT 1",
        [resource_type, resource_id],
    )
    return (int(rows[0][0]), bool(rows[0][1])) if rows else None


def read_version(
    cursor: Engine, zone: Zone, resource_type: str, resource_id: str, version_id: int
) -> tuple[bool, bytes | None] | None:
    """(deleted, rendered JSON) of one version, or None."""
    rows = cursor.fetchall(
        f"SELECT deleted, {RENDERED} FROM {zone.history_view} "
        "WHERE resource_type = ? AND id = ? AND version_id = ?",
        [resource_type, resource_id, version_id],
    )
    if not rows:
        return None
    return bool(rows[0][0]), rows[0][1].encode() if rows[0][1] is not None else None


@dataclass(frozen=True)
class HistoryRow:
    """One version in a history bundle."""

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: bytes | None


def history(
    cursor: Engine,
    zone: Zone,
    resource_type: str,
    resource_id: str | None,
    since: datetime | None,
    confinement: Confinement,
    count: int,
    offset: int,
) -> tuple[int, list[HistoryRow]]:
    """(total, page) of the versions of one resource or of a type, newest first.

    A confined request sees only versions in its compartments (deletes carry no content to check
    and are left out).
    """
    where = ["resource_type = ?"]
    params: list[Any] = [resource_type]
    if resource_id is not None:
        where.append("id = ?")
        params.append(resource_id)
    if since is not None:
        where.append("last_updated >= ?")
        params.append(since)
    if confinement.confined:
        clause, values = confinement.clause(resource_type)
        where.append(f"NOT deleted AND {clause}")
        params.extend(values)
    rows = cursor.fetchall(
        f"SELECT resource_type, id, version_id, last_updated, deleted, {RENDERED}, "
        f"COUNT(*) OVER () FROM {zone.history_view} WHERE {' AND '.join(where)} "
        "ORDER BY last_updated DESC, id, version_id DESC LIMIT ? OFFSET ?",
        [*params, count, offset],
    )
    total = int(rows[0][6]) if rows else 0
    page = [
        HistoryRow(r[0], r[1], int(r[2]), r[3], bool(r[4]), r[5].encode() if r[5] else None)
        for r in rows
    ]
    return total, page


def count_history(cursor: Engine, zone: Zone, resource_type: str, resource_id: str) -> int:
    """How many versions a resource has, whoever may see them."""
    rows = cursor.fetchall(
        f"SELECT COUNT(*) FROM {zone.history_view} WHERE resource_type = ? AND id = ?",
        [resource_type, resource_id],
    )
    return int(rows[0][0])


@dataclass
class SearchPage:
    """The matches of a search page and the resources its includes brought."""

    total: int
    matches: list[tuple[str, str, bytes]]
    included: list[tuple[str, str, bytes]]
    truncated_includes: bool = False


def search(
    cursor: Engine,
    zone: Zone,
    request: SearchRequest,
    confinement: Confinement,
    include_confinement: dict[str, Confinement],
    root: Path | None = None,
) -> SearchPage:
    """Run a search: a count only, or a page with its includes.

    When references narrow the search (reference parameters, a patient compartment), the
    candidates come from the reference index and, with the warehouse ``root``, only the files
    the locator names for them are read.
    """
    where, params = where_clause(request)
    clause, values = confinement.clause(request.resource_type)
    where, params = f"{where} AND {clause}", [*params, *values]
    source: str = zone.current_view
    source_params: list[Any] = []
    candidates = _candidates(cursor, request, confinement)
    if candidates is not None:
        if not candidates:
            return SearchPage(0, [], [])
        source, source_params = located_source(
            cursor, zone, request.resource_type, sorted(candidates), root
        )
    if request.summary_count:
        rows = cursor.fetchall(
            f"SELECT COUNT(*) FROM {source} WHERE {where}", [*source_params, *params]
        )
        return SearchPage(int(rows[0][0]), [], [])
    rows = cursor.fetchall(
        f"SELECT resource_type, id, {RENDERED}, COUNT(*) OVER () FROM {source} "
        f"WHERE {where} ORDER BY id LIMIT ? OFFSET ?",
        [*source_params, *params, request.count, request.offset],
    )
    if rows:
        total = int(rows[0][3])
    else:
        total = int(
            cursor.fetchall(
                f"SELECT COUNT(*) FROM {source} WHERE {where}", [*source_params, *params]
            )[0][0]
        )
    matches = [(r[0], r[1], r[2].encode()) for r in rows]
    page = SearchPage(total, matches, [])
    seen = {(t, i) for t, i, _ in matches}
    for include in request.includes:
        _include(cursor, zone, include, matches, include_confinement, page, seen, root)
    for include in request.revincludes:
        _revinclude(cursor, zone, include, matches, include_confinement, page, seen, root)
    return page


def located_source(
    cursor: Engine, zone: Zone, resource_type: str, ids: list[str], root: Path | None
) -> tuple[str, list[Any]]:
    """A FROM clause with the current versions of ``ids`` (columns of the zone's view).

    With the warehouse ``root``, it reads only the Parquet files the locator names for them;
    without it (or without any location), the zone's view restricted to the ids.
    """
    files = []
    if root is not None:
        rows = cursor.fetchall(QUERIES["files_of"], {"resource_type": resource_type, "ids": ids})
        files = [str(root / row[0]) for row in rows]
    if not files:
        return (
            f"(SELECT * FROM {zone.current_view} WHERE resource_type = ? "
            "AND list_contains(?, id)) AS located",
            [resource_type, ids],
        )
    return (
        # Filters on the file scan itself let the reader skip the JSON of other rows.
        "(SELECT l.resource_type, l.id, l.version_id, l.last_updated, "
        "CAST(c.resource AS JSON) AS resource FROM (SELECT resource_type, id, version_id, "
        "resource FROM read_parquet(?) WHERE resource_type = ? AND list_contains(?, id)) AS c "
        "JOIN api_locator AS l ON l.resource_type = c.resource_type AND l.id = c.id "
        "AND l.version_id = c.version_id) AS located",
        [files, resource_type, ids],
    )


def _candidates(
    cursor: Engine, request: SearchRequest, confinement: Confinement
) -> set[str] | None:
    """Ids the reference index allows (None: no reference narrows this search)."""
    target_sets = [values for name, values in request.references.items()]
    if confinement.patient_ids is not None and request.resource_type != "Patient":
        target_sets.append([f"Patient/{p}" for p in confinement.patient_ids])
    found: set[str] | None = None
    for targets in target_sets:
        ids = reference_candidates(cursor, request.resource_type, targets)
        found = ids if found is None else found & ids
    return found


def _include(
    cursor: Engine,
    zone: Zone,
    include: Include,
    matches: list[tuple[str, str, bytes]],
    confinements: dict[str, Confinement],
    page: SearchPage,
    seen: set[tuple[str, str]],
    root: Path | None,
) -> None:
    wanted: dict[str, set[str]] = {}
    for _, _, body in matches:
        resource = stored_json(body)
        for path in include.parameter.paths:
            for value in path_values(resource, path):
                if isinstance(value, str) and "/" in value:
                    target_type, _, target_id = value.rpartition("/")
                    target_type = target_type.rpartition("/")[2]
                    if target_type in include.target_types:
                        wanted.setdefault(target_type, set()).add(target_id)
    for target_type, ids in sorted(wanted.items()):
        clause, values = confinements[target_type].clause(target_type)
        source, source_params = located_source(cursor, zone, target_type, sorted(ids), root)
        rows = cursor.fetchall(
            f"SELECT resource_type, id, {RENDERED} FROM {source} "
            f"WHERE {clause} ORDER BY id LIMIT ?",
            [*source_params, *values, MAX_INCLUDED + 1],
        )
        _add_included(page, rows, seen)


def _revinclude(
    cursor: Engine,
    zone: Zone,
    include: Include,
    matches: list[tuple[str, str, bytes]],
    confinements: dict[str, Confinement],
    page: SearchPage,
    seen: set[tuple[str, str]],
    root: Path | None,
) -> None:
    references = [f"{t}/{i}" for t, i, _ in matches]
    candidates = reference_candidates(cursor, include.source_type, references)
    if not references or not candidates:
        return
    clause, values = confinements[include.source_type].clause(include.source_type)
    source, source_params = located_source(
        cursor, zone, include.source_type, sorted(candidates), root
    )
    rows = cursor.fetchall(
        f"SELECT resource_type, id, {RENDERED} FROM {source} "
        f"WHERE list_has_any({values_list(include.parameter.paths)}, ?) "
        f"AND {clause} ORDER BY id LIMIT ?",
        [*source_params, references, *values, MAX_INCLUDED + 1],
    )
    _add_included(page, rows, seen)


def _add_included(
    page: SearchPage, rows: list[tuple[Any, ...]], seen: set[tuple[str, str]]
) -> None:
    if len(rows) > MAX_INCLUDED:
        page.truncated_includes = True
        rows = rows[:MAX_INCLUDED]
    for resource_type, resource_id, text in rows:
        if (resource_type, resource_id) not in seen:
            seen.add((resource_type, resource_id))
            page.included.append((resource_type, resource_id, text.encode()))
