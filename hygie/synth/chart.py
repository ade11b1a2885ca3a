"""The chart of one patient while it is generated: random streams, ids, references, output.

Each patient gets its own ``random.Random`` seeded from ``(seed, patient index)`` so that the
output does not depend on how patients are split between worker processes. A second stream
draws resource ids, a third one the messiness, so that turning messiness on changes nothing else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from hygie.synth.datatypes import Resource
from hygie.synth.identifiers import random_uuid
from hygie.synth.organizations import Network
from hygie.synth.population import Person

#: Resource types shared by all patients; they keep ``Type/id`` references in bundles.
SHARED_TYPES = frozenset({"Organization", "Location", "Practitioner"})


@dataclass(frozen=True)
class ChronicCondition:
    """A chronic condition of the patient and its onset."""

    key: str
    onset: date


@dataclass
class Chart:
    """Everything known about one patient during generation, and the resources made so far."""

    index: int
    seed: int
    start: date
    end: date
    network: Network
    bundle_references: bool
    rng: random.Random = field(init=False)
    id_rng: random.Random = field(init=False)
    person: Person = field(init=False)
    first_contact: date = field(init=False)
    death: datetime | None = None
    conditions: list[ChronicCondition] = field(default_factory=list)
    condition_ids: dict[str, str] = field(default_factory=dict)
    home_hospital: str = ""
    gp_name: tuple[str, str] = ("", "")
    resources: list[Resource] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)
    medications: dict[str, list[str]] = field(default_factory=dict)
    allergy_atc: set[str] = field(default_factory=set)
    state: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"hygie-synth:{self.seed}:patient:{self.index}")
        self.id_rng = random.Random(f"hygie-synth:{self.seed}:ids:{self.index}")

    def new_id(self) -> str:
        """A fresh deterministic UUID for a resource of this patient."""
        return random_uuid(self.id_rng)

    def ref(self, resource_type: str, resource_id: str) -> dict[str, str]:
        """A Reference; inside a patient bundle, ``urn:uuid:`` for the patient's own resources."""
        if self.bundle_references and resource_type not in SHARED_TYPES:
            return {"reference": f"urn:uuid:{resource_id}"}
        return {"reference": f"{resource_type}/{resource_id}"}

    @property
    def patient_ref(self) -> dict[str, str]:
        """Reference to the patient."""
        return self.ref("Patient", self.person.id)

    @property
    def followup_end(self) -> datetime:
        """End of the observed period: death or the end of the generated period."""
        if self.death is not None:
            return self.death
        return datetime(self.end.year, self.end.month, self.end.day, 23, 0)

    def has(self, key: str, when: date | None = None) -> bool:
        """True when the patient has chronic condition ``key`` (at ``when`` if given)."""
        return any(c.key == key and (when is None or c.onset <= when) for c in self.conditions)

    def age_at(self, when: date) -> int:
        """Age in whole years on ``when``."""
        birth = self.person.birth_date
        return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))
