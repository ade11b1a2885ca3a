"""Procedures done during visits, coded in SNOMED CT (``procedures.csv``).

Episodes bring their own procedures (``acute_episodes.toml``); follow-up consultations bring
the usual examinations of the condition (ECG and echocardiography in cardiology, spirometry in
pulmonology, chemotherapy sessions in oncology, dialysis for stage 5 kidney disease).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import SNOMED, Resource, coding, concept, instant
from hygie.synth.encounters import Visit
from hygie.synth.physiology import egfr_at

#: (procedure, probability) at a follow-up consultation, by condition.
FOLLOWUP_PROCEDURES: dict[str, tuple[tuple[str, float], ...]] = {
    "heart_failure": (("ecg", 0.6), ("echocardiography", 0.4)),
    "atrial_fibrillation": (("ecg", 0.8),),
    "coronary_disease": (("ecg", 0.7),),
    "hypertension": (("ecg", 0.3),),
    "copd": (("spirometry", 0.4),),
    "asthma": (("spirometry", 0.3),),
    "colorectal_cancer": (("chemotherapy", 0.4), ("colonoscopy", 0.1)),
    "lung_cancer": (("chemotherapy", 0.5),),
    "breast_cancer": (("chemotherapy", 0.1),),
}


@cache
def procedure_concept(key: str) -> Resource:
    """SNOMED CT CodeableConcept of a procedure, with its French wording."""
    row = tables.procedures()[key]
    return concept(coding(SNOMED, row["snomed"], row["display"]), text=row["display_fr"])


def visit_procedures(
    chart: Chart, visit: Visit, encounter_id: str
) -> tuple[list[Resource], list[str]]:
    """Procedures of a visit and their French names (for the letters)."""
    if visit.kind == "VR":
        return [], []
    rng = chart.rng
    keys: list[str] = []
    if visit.episode is not None:
        keys += [k for k in visit.episode.procedures if rng.random() < 0.8]
    if visit.condition is not None:
        keys += [k for k, p in FOLLOWUP_PROCEDURES.get(visit.condition, ()) if rng.random() < p]
        if visit.condition == "ckd" and egfr_at(chart, visit.start.date()) < 15:
            keys.append("hemodialysis")
    out = []
    for position, key in enumerate(keys):
        when = min(visit.start + timedelta(minutes=30 + 20 * position), visit.end)
        resource: Resource = {
            "resourceType": "Procedure",
            "id": chart.new_id(),
            "status": "completed",
            "code": procedure_concept(key),
            "subject": chart.patient_ref,
            "encounter": chart.ref("Encounter", encounter_id),
            "performedDateTime": instant(when),
            "performer": [{"actor": chart.ref("Practitioner", visit.clinician.id)}],
            "location": chart.ref(
                "Location", chart.network.location_ids[(visit.hospital, visit.service)]
            ),
        }
        if visit.condition is not None and visit.condition in chart.condition_ids:
            resource["reasonReference"] = [
                chart.ref("Condition", chart.condition_ids[visit.condition])
            ]
        out.append(resource)
    return out, [tables.procedures()[k]["display_fr"] for k in keys]
