"""The hospital network: Organization (establishments), Location (services), Practitioner.

The network depends on the seed only, so every worker process rebuilds the same one; patients
refer to it with plain ``Type/id`` references (in bundles it is the shared bundle, written first).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from hygie.synth import tables
from hygie.synth.datatypes import SNOMED, V2_0203, Resource, coding, concept
from hygie.synth.identifiers import (
    FINESS_SYSTEM,
    RPPS_SYSTEM,
    luhn_check_digit,
    random_uuid,
)

ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"

#: SNOMED CT "medical specialty" concepts of the services, for Practitioner qualifications.
SERVICE_SPECIALTY = {
    "urgences": ("773568002", "Emergency medicine"),
    "cardiologie": ("394579002", "Cardiology"),
    "néphrologie": ("394589003", "Nephrology"),
    "endocrinologie": ("394583002", "Endocrinology"),
    "médecine interne": ("419192003", "Internal medicine"),
    "pneumologie": ("418112009", "Pulmonary medicine"),
    "oncologie": ("394593009", "Medical oncology"),
    "neurologie": ("394591006", "Neurology"),
    "orthopédie": ("394801008", "Trauma and orthopedics"),
    "pédiatrie": ("394537008", "Pediatric specialty"),
    "maladies infectieuses": ("394807007", "Infectious diseases"),
    "gériatrie": ("394811001", "Geriatric medicine"),
}


@dataclass(frozen=True)
class Clinician:
    """A practitioner of a service: id and the name written in letters."""

    id: str
    given: str
    family: str

    @property
    def display(self) -> str:
        """``Sophie Bernard``."""
        return f"{self.given} {self.family}"


@dataclass
class Network:
    """Resources of the network and look-ups used while generating patients."""

    resources: list[Resource] = field(default_factory=list)
    organization_ids: dict[str, str] = field(default_factory=dict)
    hospital_names: dict[str, str] = field(default_factory=dict)
    location_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    clinicians: dict[tuple[str, str], tuple[Clinician, ...]] = field(default_factory=dict)
    services: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def hospital_for(self, preferred: str, service: str) -> str:
        """The preferred hospital if it has ``service``, else the first one that has it."""
        if service in self.services[preferred]:
            return preferred
        for key, services in self.services.items():
            if service in services:
                return key
        raise KeyError(service)


def _rpps(rng: random.Random) -> str:
    head = "10" + f"{rng.randrange(10**8):08d}"
    return head + str(luhn_check_digit(head))


def _finess(rng: random.Random, departement: str) -> str:
    head = departement + f"{rng.randrange(10**6):06d}"
    return head + str(luhn_check_digit(head))


@cache
def build_network(seed: int) -> Network:
    """Build the network for ``seed`` (cached per process)."""
    rng = random.Random(f"hygie-synth:{seed}:network")
    network = Network()
    male, female, families = (
        tables.first_names("male"),
        tables.first_names("female"),
        tables.surnames(),
    )
    for hospital in tables.hospitals():
        org_id = random_uuid(rng)
        network.organization_ids[hospital.key] = org_id
        network.hospital_names[hospital.key] = hospital.name
        network.services[hospital.key] = hospital.services
        network.resources.append(
            {
                "resourceType": "Organization",
                "id": org_id,
                "identifier": [
                    {"system": FINESS_SYSTEM, "value": _finess(rng, hospital.departement)}
                ],
                "active": True,
                "type": [concept(coding(ORGANIZATION_TYPE, "prov", "Healthcare Provider"))],
                "name": hospital.name,
                "address": [
                    {
                        "line": [hospital.street],
                        "city": hospital.city,
                        "postalCode": hospital.postcode,
                        "country": "FR",
                    }
                ],
            }
        )
        for service in hospital.services:
            location_id = random_uuid(rng)
            network.location_ids[(hospital.key, service)] = location_id
            network.resources.append(
                {
                    "resourceType": "Location",
                    "id": location_id,
                    "status": "active",
                    "name": f"Service de {service}",
                    "mode": "instance",
                    "physicalType": concept(coding(LOCATION_PHYSICAL_TYPE, "wa", "Ward")),
                    "managingOrganization": {"reference": f"Organization/{org_id}"},
                }
            )
            staff = []
            for _ in range(hospital.practitioners):
                sex = "female" if rng.random() < 0.5 else "male"
                names = female if sex == "female" else male
                clinician = Clinician(
                    id=random_uuid(rng),
                    given=rng.choices(names.values, cum_weights=names.cum_weights)[0],
                    family=rng.choices(families.values, cum_weights=families.cum_weights)[0],
                )
                staff.append(clinician)
                specialty = SERVICE_SPECIALTY[service]
                network.resources.append(
                    {
                        "resourceType": "Practitioner",
                        "id": clinician.id,
                        "identifier": [
                            {
                                "type": concept(coding(V2_0203, "PRN", "Provider number")),
                                "system": RPPS_SYSTEM,
                                "value": _rpps(rng),
                            }
                        ],
                        "active": True,
                        "name": [
                            {
                                "family": clinician.family,
                                "given": [clinician.given],
                                "prefix": ["Dr"],
                            }
                        ],
                        "gender": sex,
                        "qualification": [
                            {
                                "code": concept(
                                    coding(SNOMED, specialty[0], specialty[1]), text=service
                                )
                            }
                        ],
                    }
                )
            network.clinicians[(hospital.key, service)] = tuple(staff)
    return network
