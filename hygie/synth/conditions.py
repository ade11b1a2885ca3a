"""Chronic conditions and their Condition resources; survival and death.

Conditions are drawn with the prevalence of ``conditions.toml`` for the patient's sex and age,
multiplied by the hospital enrichment and by the risks of conditions already drawn. Death is
drawn year by year from the INSEE life table times the mortality factors of the conditions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hygie.synth import tables
from hygie.synth.chart import Chart, ChronicCondition
from hygie.synth.datatypes import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    ICD10,
    SNOMED,
    Resource,
    coding,
    concept,
    instant,
)

MAX_RISK = 3.0
"""Cap on the product of risk multipliers, so that comorbidity does not compound unchecked."""

ACTIVE = concept(coding(CONDITION_CLINICAL, "active", "Active"))
RESOLVED = concept(coding(CONDITION_CLINICAL, "resolved", "Resolved"))
CONFIRMED = concept(coding(CONDITION_VERIFICATION, "confirmed", "Confirmed"))
PROBLEM_LIST = [concept(coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))]
ENCOUNTER_DIAGNOSIS = [
    concept(coding(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis"))
]


def band_index(age: int) -> int:
    """Index of ``age`` in the age bands of ``conditions.toml``."""
    bands = tables.condition_table()[0]
    index = 0
    for position, lower in enumerate(bands):
        if age >= lower:
            index = position
    return index


def draw_chronic_conditions(chart: Chart) -> None:
    """Draw the chronic conditions of the patient into ``chart.conditions``."""
    rng = chart.rng
    _, enrichment, specs = tables.condition_table()
    span = (chart.end - chart.first_contact).days
    reference = chart.first_contact + timedelta(days=span // 2)
    age = chart.age_at(reference)
    band = band_index(age)
    birth = chart.person.birth_date
    drawn: set[str] = set()
    for spec in specs:
        if any(other in drawn for other in spec.excludes) or age < spec.onset_min_age:
            continue
        prevalence = (spec.male if chart.person.gender == "male" else spec.female)[band] / 100
        risk = 1.0
        for other, factor in spec.risk.items():
            if other in drawn:
                risk *= factor
        probability = prevalence * enrichment * min(risk, MAX_RISK)
        if rng.random() >= min(probability, 0.95):
            continue
        earliest = max(
            date(birth.year + spec.onset_min_age, birth.month, min(birth.day, 28)),
            reference - timedelta(days=15 * 365),
        )
        days = max((reference - earliest).days, 0)
        onset = earliest + timedelta(days=rng.randint(0, days))
        drawn.add(spec.key)
        chart.conditions.append(ChronicCondition(spec.key, onset))


def annual_death_probability(chart: Chart, when: date) -> float:
    """Death probability over the next year, from the life table and the conditions."""
    age = chart.age_at(when)
    probability = 0.0
    for age_min, male, female in tables.mortality():
        if age >= age_min:
            probability = male if chart.person.gender == "male" else female
    specs = {spec.key: spec for spec in tables.condition_table()[2]}
    for condition in chart.conditions:
        if condition.onset <= when:
            probability *= specs[condition.key].mortality_factor
    return min(probability, 0.9)


def draw_death(chart: Chart) -> None:
    """Draw the date of death, if it falls in the generated period, into ``chart.death``."""
    rng = chart.rng
    when = chart.first_contact + timedelta(days=30)
    while when < chart.end:
        if rng.random() < annual_death_probability(chart, when):
            day = when + timedelta(days=rng.randint(0, 364))
            if day < chart.end:
                chart.death = datetime(
                    day.year, day.month, day.day, rng.randint(0, 23), rng.randint(0, 59)
                )
            return
        when += timedelta(days=365)


def _codes(icd10: str, snomed: str, snomed_display: str, text: str) -> Resource:
    return concept(coding(ICD10, icd10), coding(SNOMED, snomed, snomed_display), text=text)


def chronic_condition_resource(
    chart: Chart, condition: ChronicCondition, recorded: datetime, encounter_id: str
) -> Resource:
    """Condition resource of a chronic condition, recorded at the encounter that found it."""
    spec = next(s for s in tables.condition_table()[2] if s.key == condition.key)
    condition_id = chart.new_id()
    chart.condition_ids[condition.key] = condition_id
    return {
        "resourceType": "Condition",
        "id": condition_id,
        "clinicalStatus": ACTIVE,
        "verificationStatus": CONFIRMED,
        "category": PROBLEM_LIST,
        "code": _codes(spec.icd10, spec.snomed, spec.snomed_display, spec.display_fr),
        "subject": chart.patient_ref,
        "encounter": chart.ref("Encounter", encounter_id),
        "onsetDateTime": condition.onset.isoformat(),
        "recordedDate": instant(recorded),
    }


def derived_condition_resource(
    chart: Chart, key: str, onset: datetime, encounter_id: str
) -> Resource:
    """Condition resource of a condition derived from measurements (obesity)."""
    spec = tables.derived_conditions()[key]
    condition_id = chart.new_id()
    chart.condition_ids[key] = condition_id
    return {
        "resourceType": "Condition",
        "id": condition_id,
        "clinicalStatus": ACTIVE,
        "verificationStatus": CONFIRMED,
        "category": PROBLEM_LIST,
        "code": _codes(spec["icd10"], spec["snomed"], spec["snomed_display"], spec["display_fr"]),
        "subject": chart.patient_ref,
        "encounter": chart.ref("Encounter", encounter_id),
        "onsetDateTime": instant(onset),
        "recordedDate": instant(onset),
    }


def episode_condition_resource(
    chart: Chart, episode: tables.EpisodeSpec, start: datetime, end: datetime, encounter_id: str
) -> Resource:
    """Condition resource of an acute episode, resolved some days after the encounter."""
    abatement = end + timedelta(days=chart.rng.randint(3, 21))
    resource: Resource = {
        "resourceType": "Condition",
        "id": chart.new_id(),
        "clinicalStatus": RESOLVED if abatement < chart.followup_end else ACTIVE,
        "verificationStatus": CONFIRMED,
        "category": ENCOUNTER_DIAGNOSIS,
        "code": _codes(episode.icd10, episode.snomed, episode.snomed_display, episode.display_fr),
        "subject": chart.patient_ref,
        "encounter": chart.ref("Encounter", encounter_id),
        "onsetDateTime": instant(start),
        "recordedDate": instant(start),
    }
    if abatement < chart.followup_end:
        resource["abatementDateTime"] = instant(abatement)
    return resource
