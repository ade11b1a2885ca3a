"""One patient's whole record: demographics, course, visits and everything they produce.

:func:`build_record` is a pure function of ``(seed, index, period)``: it is what makes the
output identical whatever the number of worker processes.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from hygie.synth.allergies import allergies
from hygie.synth.chart import Chart
from hygie.synth.conditions import (
    chronic_condition_resource,
    derived_condition_resource,
    draw_chronic_conditions,
    draw_death,
    episode_condition_resource,
)
from hygie.synth.datatypes import Resource
from hygie.synth.encounters import Visit, encounter_resource, plan_visits
from hygie.synth.immunizations import immunizations
from hygie.synth.medications import consultation_medications, stay_medications
from hygie.synth.notes import document_reference
from hygie.synth.observations import laboratory, panels_for, vital_signs
from hygie.synth.organizations import Network
from hygie.synth.physiology import init_physiology
from hygie.synth.population import draw_person, patient_resource
from hygie.synth.procedures import visit_procedures
from hygie.synth.telemonitoring import continuous_glucose_monitoring, heart_failure_telemonitoring

#: Probability that a visit of each kind produces a letter (DocumentReference).
LETTER_SHARE = {"IMP": 0.9, "AMB": 0.35, "VR": 0.25, "EMER": 0.0}
#: Minimum follow-up: the first contact leaves at least this many days before the period's end.
MIN_FOLLOWUP_DAYS = 30


def _bounded(visit: Visit, minutes: int) -> datetime:
    return min(visit.start + timedelta(minutes=minutes), visit.end)


def _visit_resources(chart: Chart, visit: Visit, recorded: set[str]) -> list[Resource]:
    rng = chart.rng
    visit.id = chart.new_id()
    out = [encounter_resource(chart, visit)]
    day = visit.start.date()
    for condition in chart.conditions:
        if condition.key not in recorded and condition.onset <= day:
            recorded.add(condition.key)
            out.append(chronic_condition_resource(chart, condition, visit.start, visit.id))
    adult = chart.age_at(day) >= 18
    if "obesity" not in recorded and adult and chart.state["bmi"] >= 30.0 and visit.kind != "VR":
        recorded.add("obesity")
        out.append(derived_condition_resource(chart, "obesity", visit.start, visit.id))
    if visit.episode is not None and visit.kind == "EMER":
        out.append(
            episode_condition_resource(chart, visit.episode, visit.start, visit.end, visit.id)
        )
    if visit.kind != "VR":
        out += vital_signs(chart, visit, _bounded(visit, 10), visit.id)
    labs, reported = laboratory(
        chart, visit, _bounded(visit, 30), visit.id, panels_for(chart, visit)
    )
    out += labs
    procedures, procedure_names = visit_procedures(chart, visit, visit.id)
    out += procedures
    treatment: list[str] = []
    if visit.kind in ("AMB", "VR"):
        medications, treatment = consultation_medications(chart, visit, visit.id)
        out += medications
    elif visit.kind == "IMP":
        medications, treatment = stay_medications(chart, visit, visit.id)
        out += medications
    if rng.random() < LETTER_SHARE[visit.kind]:
        out.append(document_reference(chart, visit, visit.id, reported, treatment, procedure_names))
    return out


def build_record(
    index: int, seed: int, start: date, end: date, network: Network, bundle_references: bool
) -> Chart:
    """Generate patient ``index``; its resources are in ``chart.resources`` in writing order."""
    chart = Chart(
        index=index,
        seed=seed,
        start=start,
        end=end,
        network=network,
        bundle_references=bundle_references,
    )
    rng: random.Random = chart.rng
    patient_id = chart.new_id()
    span = max((end - start).days - MIN_FOLLOWUP_DAYS, 1)
    chart.first_contact = start + timedelta(days=rng.randint(0, span))
    chart.person = draw_person(rng, patient_id, index, chart.first_contact)
    draw_chronic_conditions(chart)
    init_physiology(chart)
    draw_death(chart)
    visits = plan_visits(chart)
    resources = chart.resources
    resources.append(patient_resource(chart.person, chart.death))
    first = visits[0].start if visits else datetime(start.year, start.month, start.day, 9, 0)
    resources += allergies(
        chart, max(first, datetime.combine(chart.first_contact, datetime.min.time()))
    )
    recorded: set[str] = set()
    for visit in visits:
        resources += _visit_resources(chart, visit, recorded)
    resources += immunizations(chart)
    resources += heart_failure_telemonitoring(chart)
    resources += continuous_glucose_monitoring(chart)
    return chart
