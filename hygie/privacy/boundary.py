"""The boundary of the research zone: the one place where objections are applied.

Every path that moves data from the care zone towards research (the research build, and any
future research export) reads the care zone through :func:`research_input`, which leaves out
every resource of a patient who objects. Nothing else in Hygie reads the care zone for research.
"""

from __future__ import annotations

from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements

RESEARCH_INPUT = "privacy_research_input"


def ensure_privacy_tables(engine: Engine) -> None:
    """Create the privacy and research schemas and their tables when missing."""
    statements = load_statements("hygie.privacy", "privacy.sql")
    for name in (
        "create_privacy_schema",
        "create_research_schema",
        "create_objection",
        "create_export_override",
        "create_research_build_log",
    ):
        engine.execute(statements[name])


def research_input(engine: Engine) -> str:
    """Make (on this connection) and name the relation research paths must read.

    Its columns: resource_type, id, version_id, last_updated, resource (JSON text) and
    patient_id (the patient whose dates and names apply, NULL for shared resources). Resources of
    patients with an objection in force are not in it.
    """
    statements = load_statements("hygie.privacy", "privacy.sql")
    engine.execute(statements["create_objecting_patient"])
    engine.execute(statements["create_research_boundary"])
    return RESEARCH_INPUT
