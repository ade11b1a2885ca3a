"""The privacy functions the ``hygie`` command calls, each on a warehouse.

- ``hygie keys init [--project NAME] [--force]``       -> :func:`keys_init`
- ``hygie research build [--project NAME] [--policy F]`` -> :func:`research_build`
- ``hygie objection add|remove|list``                  -> :func:`objection_add`, ...
- ``hygie privacy risk [RELATION] [--quasi C ...] [--k 5]`` -> :func:`privacy_risk`
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hygie.privacy.keys import DEFAULT_PROJECT, init_key
from hygie.privacy.objection import (
    Objection,
    add_objection,
    list_objections,
    remove_objection,
)
from hygie.privacy.research import Progress, ResearchBuildSummary, build_research_zone
from hygie.privacy.risk import (
    DEFAULT_QUASI_IDENTIFIERS,
    PATIENT_QUASI_VIEW,
    RiskReport,
    k_anonymity,
)
from hygie.warehouse.warehouse import Warehouse


def keys_init(
    warehouse: Warehouse,
    project: str = DEFAULT_PROJECT,
    key_path: Path | None = None,
    *,
    force: bool = False,
) -> Path:
    """Create the project's key file (outside the warehouse, mode 0600); returns its path."""
    return init_key(project, warehouse.path, key_path, force=force)


def research_build(
    warehouse: Warehouse,
    project: str = DEFAULT_PROJECT,
    *,
    key_path: Path | None = None,
    policy_path: Path | None = None,
    progress: Progress | None = None,
) -> ResearchBuildSummary:
    """Rebuild ``research.resource`` from the care zone (objections applied)."""
    return build_research_zone(
        warehouse, project, key_path=key_path, policy_path=policy_path, progress=progress
    )


def objection_add(
    warehouse: Warehouse, patient: str, recorded_by: str, reason: str | None = None
) -> str:
    """Record an objection (``Patient/<id>`` or ``system|value``); returns its id."""
    with warehouse.writing(create=False) as engine:
        return add_objection(engine, patient, recorded_by, reason)


def objection_remove(
    warehouse: Warehouse, patient: str, recorded_by: str, reason: str | None = None
) -> int:
    """Withdraw the objections in force for ``patient``; returns how many."""
    with warehouse.writing(create=False) as engine:
        return remove_objection(engine, patient, recorded_by, reason)


def objection_list(warehouse: Warehouse, *, include_withdrawn: bool = False) -> list[Objection]:
    """The objection registry."""
    with warehouse.reading() as engine:
        return list_objections(engine, include_withdrawn=include_withdrawn)


def privacy_risk(
    warehouse: Warehouse,
    relation: str | None = None,
    quasi_identifiers: Sequence[str] | None = None,
    k: int = 5,
) -> RiskReport:
    """k-anonymity of ``relation`` (default: the research patients' quasi-identifiers)."""
    with warehouse.reading() as engine:
        return k_anonymity(
            engine,
            relation or PATIENT_QUASI_VIEW,
            quasi_identifiers or DEFAULT_QUASI_IDENTIFIERS,
            k,
        )
