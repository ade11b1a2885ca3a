"""The patient's path through the hospital: follow-up consultations, emergencies, stays.

Visits are planned first (dates, service, clinician, reason), then each one is filled with its
resources by :mod:`hygie.synth.record`. Chronic conditions bring follow-up consultations at the
interval of ``conditions.toml``; acute episodes (``acute_episodes.toml``) bring emergency visits,
some followed by a stay; about half of deaths happen in hospital (INSEE, lieux de décès: 53 % in
2019 in hospital or clinic), at the end of a last stay.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.conditions import band_index
from hygie.synth.datatypes import ACT_CODE, ICD10, SNOMED, Resource, coding, concept, instant
from hygie.synth.organizations import SERVICE_SPECIALTY, Clinician

ENCOUNTER_CLASSES = {
    "IMP": coding(ACT_CODE, "IMP", "inpatient encounter"),
    "EMER": coding(ACT_CODE, "EMER", "emergency"),
    "AMB": coding(ACT_CODE, "AMB", "ambulatory"),
    "VR": coding(ACT_CODE, "VR", "virtual"),
}
DISCHARGE = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ATTENDER = [concept(coding(PARTICIPATION, "ATND", "attender"))]

SHARE_IN_HOSPITAL_DEATH = 0.53
TELECONSULTATION_FROM = date(2020, 3, 15)
"""Teleconsultations became common (and reimbursed without restriction) in March 2020."""
SHARE_TELECONSULTATION = 0.2

#: Discharge dispositions after a stay (code, French wording) and their weights.
DISPOSITIONS = (
    ("home", "retour à domicile", 70.0),
    ("home", "retour à domicile avec passage infirmier", 10.0),
    ("rehab", "transfert en soins médicaux et de réadaptation", 12.0),
    ("long", "retour en EHPAD", 8.0),
)
_DISPOSITION_WEIGHTS = tuple(w for *_, w in DISPOSITIONS)


@dataclass
class Visit:
    """One planned encounter."""

    kind: str
    start: datetime
    end: datetime
    service: str
    hospital: str
    clinician: Clinician
    condition: str | None = None
    episode: tables.EpisodeSpec | None = None
    disposition: str | None = None
    disposition_fr: str = ""
    from_emergency: bool = False
    id: str = ""


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def home_hospital(chart: Chart) -> str:
    """The establishment the patient goes to first (by commune of residence)."""
    for hospital in tables.hospitals():
        if chart.person.commune_code in hospital.serves:
            return hospital.key
    return tables.hospitals()[0].key


def _clinician(
    chart: Chart, hospital: str, service: str, keep: dict[tuple[str, str], Clinician]
) -> Clinician:
    # Patients keep their physician in a service, as in real follow-up.
    key = (hospital, service)
    if key not in keep:
        keep[key] = chart.rng.choice(chart.network.clinicians[key])
    return keep[key]


def _at(day: date, rng: random.Random, first_hour: int, last_hour: int) -> datetime:
    return datetime(
        day.year,
        day.month,
        day.day,
        rng.randint(first_hour, last_hour),
        rng.choice((0, 15, 30, 45)),
    )


def _followups(chart: Chart, keep: dict[tuple[str, str], Clinician]) -> list[Visit]:
    rng = chart.rng
    visits = []
    specs = {spec.key: spec for spec in tables.condition_table()[2]}
    end = chart.followup_end
    for condition in chart.conditions:
        spec = specs[condition.key]
        if rng.random() >= spec.followup_share:
            continue
        hospital = chart.network.hospital_for(chart.home_hospital, spec.followup_service)
        day = max(condition.onset + timedelta(days=rng.randint(7, 60)), chart.first_contact)
        interval = spec.followup_months * 30.4
        while True:
            start = _at(day, rng, 8, 17)
            stop = start + timedelta(minutes=rng.choice((20, 30, 45)))
            if stop >= end:
                break
            kind = "AMB"
            if day >= TELECONSULTATION_FROM and rng.random() < SHARE_TELECONSULTATION:
                kind = "VR"
            visits.append(
                Visit(
                    kind=kind,
                    start=start,
                    end=stop,
                    service=spec.followup_service,
                    hospital=hospital,
                    clinician=_clinician(chart, hospital, spec.followup_service, keep),
                    condition=condition.key,
                )
            )
            day += timedelta(days=int(interval * rng.uniform(0.8, 1.2)))
    return visits


def _episode_rate(chart: Chart, episode: tables.EpisodeSpec, day: date) -> float:
    if episode.requires and not any(chart.has(key, day) for key in episode.requires):
        return 0.0
    age = chart.age_at(day)
    if episode.max_age is not None and age >= episode.max_age:
        return 0.0
    if (episode.start and day < episode.start) or (episode.until and day > episode.until):
        return 0.0
    rate = episode.rate[band_index(age)]
    for key, factor in episode.risk.items():
        if chart.has(key, day):
            rate *= factor
    return rate


def _episode_visits(chart: Chart, keep: dict[tuple[str, str], Clinician]) -> list[Visit]:
    rng = chart.rng
    visits: list[Visit] = []
    end = chart.followup_end
    day = chart.first_contact
    while day < end.date():
        span = min(365, (end.date() - day).days)
        for episode in tables.episodes():
            for _ in range(_poisson(rng, _episode_rate(chart, episode, day) * span / 365)):
                when = day + timedelta(days=rng.randint(0, max(span - 1, 0)))
                visits.extend(_emergency(chart, episode, when, keep))
        day += timedelta(days=365)
    return visits


def _emergency(
    chart: Chart, episode: tables.EpisodeSpec, day: date, keep: dict[tuple[str, str], Clinician]
) -> list[Visit]:
    rng = chart.rng
    end = chart.followup_end
    arrival = _at(day, rng, 0, 23)
    leave = arrival + timedelta(minutes=rng.randint(90, 480))
    if leave >= end:
        return []
    er_hospital = chart.home_hospital
    visits = [
        Visit(
            kind="EMER",
            start=arrival,
            end=leave,
            service="urgences",
            hospital=er_hospital,
            clinician=_clinician(chart, er_hospital, "urgences", keep),
            episode=episode,
        )
    ]
    admit = min(1.0, episode.admit * (1.3 if chart.age_at(day) >= 75 else 1.0))
    if rng.random() >= admit:
        return visits
    service = episode.service if episode.service != "urgences" else "médecine interne"
    if service == "médecine interne" and chart.age_at(day) >= 75:
        service = "gériatrie"
    if service in ("médecine interne", "gériatrie") and chart.age_at(day) < 16:
        service = "pédiatrie"
    hospital = chart.network.hospital_for(chart.home_hospital, service)
    discharge = leave + timedelta(days=rng.randint(*episode.los), hours=rng.randint(1, 8))
    code, wording, _ = rng.choices(DISPOSITIONS, weights=_DISPOSITION_WEIGHTS)[0]
    if discharge >= end:
        if chart.death is None:
            return visits
        discharge, code, wording = end, "exp", "décès"
    visits.append(
        Visit(
            kind="IMP",
            start=leave,
            end=discharge,
            service=service,
            hospital=hospital,
            clinician=_clinician(chart, hospital, service, keep),
            episode=episode,
            disposition=code,
            disposition_fr=wording,
            from_emergency=True,
        )
    )
    return visits


def _terminal_stay(chart: Chart, keep: dict[tuple[str, str], Clinician]) -> Visit | None:
    assert chart.death is not None
    rng = chart.rng
    start = chart.death - timedelta(days=rng.randint(2, 15), hours=rng.randint(0, 12))
    if start.date() < chart.first_contact:
        return None
    service = "gériatrie" if chart.age_at(start.date()) >= 75 else "médecine interne"
    for key, candidate in (
        ("heart_failure", "cardiologie"),
        ("lung_cancer", "oncologie"),
        ("colorectal_cancer", "oncologie"),
    ):
        if chart.has(key, start.date()):
            service = candidate
    if chart.age_at(start.date()) < 16:
        service = "pédiatrie"
    hospital = chart.network.hospital_for(chart.home_hospital, service)
    return Visit(
        kind="IMP",
        start=start,
        end=chart.death,
        service=service,
        hospital=hospital,
        clinician=_clinician(chart, hospital, service, keep),
        disposition="exp",
        disposition_fr="décès",
    )


def plan_visits(chart: Chart) -> list[Visit]:
    """All visits of the patient between first contact and the end of follow-up, in order."""
    keep: dict[tuple[str, str], Clinician] = {}
    chart.home_hospital = home_hospital(chart)
    visits = _followups(chart, keep) + _episode_visits(chart, keep)
    in_hospital = chart.death is not None and chart.rng.random() < SHARE_IN_HOSPITAL_DEATH
    if in_hospital and not any(v.disposition == "exp" for v in visits):
        terminal = _terminal_stay(chart, keep)
        if terminal is not None:
            visits = [v for v in visits if v.end <= terminal.start] + [terminal]
    if not visits:
        service = "pédiatrie" if chart.age_at(chart.first_contact) < 16 else "médecine interne"
        hospital = chart.network.hospital_for(chart.home_hospital, service)
        start = _at(chart.first_contact, chart.rng, 8, 17)
        if start + timedelta(minutes=30) < chart.followup_end:
            visits.append(
                Visit(
                    kind="AMB",
                    start=start,
                    end=start + timedelta(minutes=30),
                    service=service,
                    hospital=hospital,
                    clinician=_clinician(chart, hospital, service, keep),
                )
            )
    visits.sort(key=lambda v: (v.start, v.kind))
    return visits


def reason_concept(visit: Visit) -> Resource | None:
    """ICD-10 + SNOMED CT reason of the visit, if any."""
    if visit.episode is not None:
        e = visit.episode
        return concept(
            coding(ICD10, e.icd10), coding(SNOMED, e.snomed, e.snomed_display), text=e.display_fr
        )
    if visit.condition is not None:
        spec = next(s for s in tables.condition_table()[2] if s.key == visit.condition)
        return concept(
            coding(ICD10, spec.icd10),
            coding(SNOMED, spec.snomed, spec.snomed_display),
            text=spec.display_fr,
        )
    return None


def encounter_resource(chart: Chart, visit: Visit) -> Resource:
    """The Encounter of a visit."""
    network = chart.network
    specialty = SERVICE_SPECIALTY[visit.service]
    resource: Resource = {
        "resourceType": "Encounter",
        "id": visit.id,
        "identifier": [{"system": "urn:oid:1.2.250.1.999.1.2", "value": visit.id[:8].upper()}],
        "status": "finished",
        "class": ENCOUNTER_CLASSES[visit.kind],
        "serviceType": concept(coding(SNOMED, specialty[0], specialty[1]), text=visit.service),
        "subject": chart.patient_ref,
        "participant": [
            {"type": ATTENDER, "individual": chart.ref("Practitioner", visit.clinician.id)}
        ],
        "period": {"start": instant(visit.start), "end": instant(visit.end)},
    }
    reason = reason_concept(visit)
    if reason is not None:
        resource["reasonCode"] = [reason]
    if visit.kind == "IMP":
        resource["hospitalization"] = {
            "admitSource": concept(
                coding(ADMIT_SOURCE, "emd", "From accident/emergency department")
                if visit.from_emergency
                else coding(ADMIT_SOURCE, "other", "Other")
            ),
            "dischargeDisposition": concept(
                coding(DISCHARGE, visit.disposition or "home"), text=visit.disposition_fr
            ),
        }
    resource["location"] = [
        {
            "location": chart.ref(
                "Location", network.location_ids[(visit.hospital, visit.service)]
            ),
            "status": "completed",
        }
    ]
    resource["serviceProvider"] = chart.ref(
        "Organization", network.organization_ids[visit.hospital]
    )
    return resource
