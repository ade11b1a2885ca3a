"""AllergyIntolerance resources (``allergies.csv``), recorded at the first contact."""

from __future__ import annotations

from datetime import datetime

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import SNOMED, Resource, coding, concept, instant

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def allergies(chart: Chart, recorded: datetime) -> list[Resource]:
    """Allergies of the patient, drawn with the prevalence of the table."""
    rng = chart.rng
    out = []
    for row in tables.allergies():
        if rng.random() >= float(row["prevalence"]) / 100:
            continue
        if row["system"].endswith("/atc"):
            chart.allergy_atc.add(row["code"])
        confirmed = rng.random() < 0.4
        out.append(
            {
                "resourceType": "AllergyIntolerance",
                "id": chart.new_id(),
                "clinicalStatus": concept(coding(CLINICAL, "active", "Active")),
                "verificationStatus": concept(
                    coding(VERIFICATION, "confirmed", "Confirmed")
                    if confirmed
                    else coding(VERIFICATION, "unconfirmed", "Unconfirmed")
                ),
                "type": "allergy",
                "category": [row["category"]],
                "criticality": "high" if row["reaction_snomed"] == "39579001" else "low",
                "code": concept(
                    coding(row["system"], row["code"], row["display"]), text=row["display_fr"]
                ),
                "patient": chart.patient_ref,
                "recordedDate": instant(recorded),
                "reaction": [
                    {
                        "manifestation": [
                            concept(coding(SNOMED, row["reaction_snomed"], row["reaction_display"]))
                        ]
                    }
                ],
            }
        )
    return out
