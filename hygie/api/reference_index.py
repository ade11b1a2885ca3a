"""The reference index (api_reference: which resources point to which ``Type/id``) and the
locator (api_locator: where the current version of each resource is stored).

Searches on reference parameters and patient compartments first ask the index for candidate ids,
then run their exact JSON predicates on those candidates only, instead of parsing the JSON of
every resource of the type. The index is brought up to date set-based when the server starts
(resources ingested meanwhile by files) and for the resources each API write touched. The
server is the only writer while it runs, so both stay exact.
"""

from __future__ import annotations

from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

QUERIES = load_statements("hygie.api", "queries.sql")


def sync_reference_index(engine: Engine, ids: list[str] | None = None) -> None:
    """Index the current versions not indexed yet (all, or those of ``ids``)."""
    params = {"ids": ids}
    engine.execute("BEGIN TRANSACTION")
    try:
        engine.execute(QUERIES["prune_reference_index"], params)
        engine.execute(QUERIES["prune_locator"], params)
        engine.execute(QUERIES["index_references"], params)
        engine.execute(QUERIES["locate_current"], params)
        engine.execute("COMMIT")
    except BaseException:
        engine.execute("ROLLBACK")
        raise


def reference_candidates(cursor: Engine, resource_type: str, targets: list[str]) -> set[str]:
    """Ids of the resources of ``resource_type`` that reference one of ``targets``."""
    rows = cursor.fetchall(
        QUERIES["reference_candidates"], {"resource_type": resource_type, "targets": targets}
    )
    return {row[0] for row in rows}
