"""Medicines: MedicationRequest, MedicationDispense (with lot) and MedicationAdministration.

Long-term treatments are chosen once per patient and condition (``medications.csv``,
probability per indication) and prescribed again at each follow-up consultation. Stays get the
treatments of their episode and of any stay (paracetamol, thromboprophylaxis), given once a day
and recorded as MedicationAdministration. Prescriptions handed out by the hospital pharmacy get
a MedicationDispense.

Lot numbers: a dispense carries a *contained* Medication with ``batch.lotNumber`` and
``batch.expirationDate`` (FHIR R4 Medication.batch), referenced as ``#med``. Lots are shared
between patients: a product has three lots a month, named from its pack code and the month of
manufacture, so that one lot can be traced to every patient who received it (recalls).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from functools import cache

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import ATC, CIP13, SNOMED, Resource, coding, concept, instant, quantity
from hygie.synth.encounters import Visit

ROUTES = {
    "oral": coding(SNOMED, "26643006", "Oral route"),
    "subcutaneous": coding(SNOMED, "34206005", "Subcutaneous route"),
    "intravenous": coding(SNOMED, "47625008", "Intravenous route"),
    "inhalation": coding(SNOMED, "447694001", "Respiratory tract route"),
}
SHARE_DISPENSED_BY_HOSPITAL = 0.35
"""Share of prescriptions dispensed by the hospital pharmacy (rétrocession, sortie d'hôpital)."""
ALLERGY_CLASHES = {"J01CA04": ("J01CA04", "J01CR02")}
"""An amoxicillin allergy rules out amoxicillin and amoxicillin/clavulanate."""


@cache
def medication_concept(key: str) -> Resource:
    """ATC + CIP13 CodeableConcept of a medicine, with its French name."""
    spec = _spec(key)
    return concept(coding(ATC, spec.atc), coding(CIP13, spec.cip13), text=spec.name_fr)


@cache
def _spec(key: str) -> tables.MedicationSpec:
    return next(m for m in tables.medications() if m.key == key)


@cache
def dosage(key: str) -> list[Resource]:
    """dosageInstruction of a medicine."""
    spec = _spec(key)
    amount = int(spec.dose_value) if spec.dose_value.is_integer() else spec.dose_value
    text = f"{amount} {spec.dose_unit} {spec.per_day} fois par {'semaine' if spec.period_days == 7 else 'jour' if spec.period_days == 1 else f'{spec.period_days} jours'}"
    return [
        {
            "text": text,
            "timing": {
                "repeat": {
                    "frequency": spec.per_day,
                    "period": spec.period_days,
                    "periodUnit": "d",
                }
            },
            "route": concept(ROUTES[spec.route]),
            "doseAndRate": [{"doseQuantity": quantity(amount, spec.dose_unit)}],
        }
    ]


def _allowed(chart: Chart, spec: tables.MedicationSpec, day: date) -> bool:
    if spec.since is not None and day < spec.since:
        return False
    return not any(spec.atc in ALLERGY_CLASHES.get(atc, ()) for atc in chart.allergy_atc)


def choose_treatment(chart: Chart, condition: str, day: date) -> list[str]:
    """Long-term medicines for ``condition`` (drawn once per patient and condition)."""
    if condition not in chart.medications:
        chart.medications[condition] = [
            m.key
            for m in tables.medications()
            if m.indication == condition
            and _allowed(chart, m, day)
            and chart.rng.random() < m.probability
        ]
    return chart.medications[condition]


def lot_of(cip13: str, made: date, rank: int) -> tuple[str, str]:
    """(lot number, expiry date) of the ``rank``-th lot of a product made in ``made``'s month."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    prefix = letters[int(cip13[5:8]) % len(letters)] + letters[int(cip13[8:11]) % len(letters)]
    lot = f"{prefix}{made.year % 100:02d}{made.month:02d}{'ABC'[rank]}{cip13[-3:]}"
    year, month = made.year + 3, made.month
    expiry = date(year, month, calendar.monthrange(year, month)[1])
    return lot, expiry.isoformat()


def _request(
    chart: Chart, key: str, visit: Visit, encounter_id: str, condition: str | None, days: int
) -> Resource:
    authored = visit.end if visit.kind != "IMP" else visit.start + timedelta(hours=2)
    validity_end = authored + timedelta(days=days)
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": chart.new_id(),
        "status": "completed" if validity_end < chart.followup_end else "active",
        "intent": "order",
        "medicationCodeableConcept": medication_concept(key),
        "subject": chart.patient_ref,
        "encounter": chart.ref("Encounter", encounter_id),
        "authoredOn": instant(authored),
        "requester": chart.ref("Practitioner", visit.clinician.id),
        "dosageInstruction": dosage(key),
        "dispenseRequest": {
            "validityPeriod": {
                "start": authored.date().isoformat(),
                "end": validity_end.date().isoformat(),
            },
            "numberOfRepeatsAllowed": 2 if days > 30 else 0,
        },
    }
    if condition is not None and condition in chart.condition_ids:
        resource["reasonReference"] = [chart.ref("Condition", chart.condition_ids[condition])]
    return resource


def _dispense(chart: Chart, request: Resource, key: str, handed: datetime, days: int) -> Resource:
    spec = _spec(key)
    rng = chart.rng
    made = handed.date() - timedelta(days=rng.randint(30, 300))
    lot, expiry = lot_of(spec.cip13, made, rng.randrange(3))
    boxes = max(1, days // 28)
    return {
        "resourceType": "MedicationDispense",
        "id": chart.new_id(),
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": medication_concept(key),
                "batch": {"lotNumber": lot, "expirationDate": expiry},
            }
        ],
        "status": "completed",
        "medicationReference": {"reference": "#med"},
        "subject": chart.patient_ref,
        "authorizingPrescription": [chart.ref("MedicationRequest", request["id"])],
        "quantity": {"value": boxes, "unit": "boîte"},
        "daysSupply": {
            "value": days,
            "unit": "day",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        },
        "whenHandedOver": instant(handed),
        "dosageInstruction": dosage(key),
    }


def consultation_medications(
    chart: Chart, visit: Visit, encounter_id: str
) -> tuple[list[Resource], list[str]]:
    """Prescriptions (and hospital dispenses) of a follow-up consultation."""
    if visit.condition is None:
        return [], []
    out: list[Resource] = []
    keys = choose_treatment(chart, visit.condition, visit.start.date())
    rng = chart.rng
    for key in keys:
        spec = _spec(key)
        if spec.route == "intravenous" and visit.kind == "AMB":
            out.append(
                _administration(
                    chart, key, visit, encounter_id, visit.start + timedelta(minutes=10), None
                )
            )
            continue
        request = _request(chart, key, visit, encounter_id, visit.condition, 90)
        out.append(request)
        handed = visit.end + timedelta(minutes=rng.randint(10, 90))
        if rng.random() < SHARE_DISPENSED_BY_HOSPITAL and handed < chart.followup_end:
            out.append(_dispense(chart, request, key, handed, 90))
    return out, [_spec(k).name_fr for k in keys]


def _administration(
    chart: Chart, key: str, visit: Visit, encounter_id: str, when: datetime, request_id: str | None
) -> Resource:
    spec = _spec(key)
    amount = int(spec.dose_value) if spec.dose_value.is_integer() else spec.dose_value
    resource: Resource = {
        "resourceType": "MedicationAdministration",
        "id": chart.new_id(),
        "status": "completed",
        "medicationCodeableConcept": medication_concept(key),
        "subject": chart.patient_ref,
        "context": chart.ref("Encounter", encounter_id),
        "effectiveDateTime": instant(when),
        "performer": [{"actor": chart.ref("Practitioner", visit.clinician.id)}],
        "dosage": {"route": concept(ROUTES[spec.route]), "dose": quantity(amount, spec.dose_unit)},
    }
    if request_id is not None:
        resource["request"] = chart.ref("MedicationRequest", request_id)
    return resource


MAX_ADMINISTRATION_DAYS = 10


def stay_medications(
    chart: Chart, visit: Visit, encounter_id: str
) -> tuple[list[Resource], list[str]]:
    """Orders and daily administrations of a stay, then the discharge prescriptions."""
    rng = chart.rng
    day = visit.start.date()
    indications = {"inpatient"}
    if visit.episode is not None:
        indications.add(f"episode:{visit.episode.key}")
    keys = [
        m.key
        for m in tables.medications()
        if m.indication in indications and _allowed(chart, m, day) and rng.random() < m.probability
    ]
    out: list[Resource] = []
    for key in keys:
        request = _request(
            chart, key, visit, encounter_id, None, max((visit.end - visit.start).days, 1)
        )
        out.append(request)
        when = visit.start + timedelta(hours=3)
        for _ in range(MAX_ADMINISTRATION_DAYS):
            if when >= visit.end:
                break
            out.append(_administration(chart, key, visit, encounter_id, when, request["id"]))
            when += timedelta(days=1)
    treatment = []
    if visit.disposition != "exp":
        for condition in chart.conditions:
            if condition.onset <= day and condition.key in chart.medications:
                treatment += [_spec(k).name_fr for k in chart.medications[condition.key]]
    return out, treatment
