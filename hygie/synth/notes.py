"""French clinical letters (DocumentReference) and the truth of their identifier spans.

Letters are filled from ``note_templates.toml``. Each identifier is written in one of the forms
found in real letters (dates as 12/03/2024, 12-03-2024, 12 mars 2024 or "le 3 avril"; NIR with
or without spaces; phones as 06 12 34 56 78, +33 6 12 34 56 78, 0612345678...), and its exact
character span in the decoded text is recorded for ``deid-truth.jsonl``.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Any

from hygie.synth import tables
from hygie.synth.chart import Chart
from hygie.synth.datatypes import LOINC, Resource, coding, concept, instant
from hygie.synth.encounters import Visit

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
PLACEHOLDER = re.compile(r"\{(\w+)\}")
Segments = list[tuple[str, str | None]]

LAB_WORDING = {
    "creatinine": ("créatininémie", "µmol/L"),
    "egfr": ("DFG (CKD-EPI)", "mL/min/1,73 m²"),
    "hba1c": ("HbA1c", "%"),
    "glucose": ("glycémie", "mmol/L"),
    "potassium": ("kaliémie", "mmol/L"),
    "sodium": ("natrémie", "mmol/L"),
    "ntprobnp": ("NT-proBNP", "pg/mL"),
    "hemoglobin": ("hémoglobine", "g/dL"),
    "leukocytes": ("leucocytes", "G/L"),
    "crp": ("CRP", "mg/L"),
    "tsh": ("TSH", "mUI/L"),
    "ldl": ("LDL-cholestérol", "g/L"),
}


def format_date(day: date, style: int) -> str:
    """A date as French letters write it: 12/03/2024, 12-03-2024, 12 mars 2024, 1er mars 2024."""
    if style == 0:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if style == 1:
        return f"{day.day:02d}-{day.month:02d}-{day.year}"
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {MONTHS[day.month - 1]} {day.year}"


def format_nir(nir: str, spaced: bool) -> str:
    """NIR compact (15 characters) or grouped ``1 84 03 75 115 345 53``."""
    if not spaced:
        return nir
    return " ".join((nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:15]))


def format_phone(digits: str, style: int) -> str:
    """French phone number in one of four usual forms."""
    pairs = [digits[i : i + 2] for i in range(0, 10, 2)]
    if style == 0:
        return " ".join(pairs)
    if style == 1:
        return "+33 " + digits[1] + " " + " ".join(pairs[1:])
    if style == 2:
        return digits
    return ".".join(pairs)


def _decimal(value: float | int) -> str:
    return str(value).replace(".", ",")


def _labs_sentence(values: dict[str, float | int]) -> str:
    if not values:
        return "pas de bilan biologique récent"
    parts = [f"{LAB_WORDING[k][0]} {_decimal(v)} {LAB_WORDING[k][1]}" for k, v in values.items()]
    return ", ".join(parts)


def _list_sentence(items: list[str], empty: str) -> str:
    unique = list(dict.fromkeys(items))
    return ", ".join(unique) if unique else empty


def render(template: str, values: dict[str, Segments]) -> tuple[str, list[dict[str, Any]]]:
    """Fill ``template``; return the text and the spans of labelled segments."""
    out: list[str] = []
    spans: list[dict[str, Any]] = []
    length = 0
    position = 0
    for match in PLACEHOLDER.finditer(template):
        literal = template[position : match.start()]
        out.append(literal)
        length += len(literal)
        for text, label in values[match.group(1)]:
            if label is not None:
                spans.append(
                    {"start": length, "end": length + len(text), "label": label, "text": text}
                )
            out.append(text)
            length += len(text)
        position = match.end()
    out.append(template[position:])
    return "".join(out), spans


def _name_segments(
    chart: Chart, given: str, family: str, with_title: bool, gender: str | None
) -> Segments:
    style = chart.rng.randrange(4)
    title: Segments = []
    if with_title and gender is not None:
        title = [("M. " if gender == "male" else "Mme ", None)]
    if style == 0:
        return [*title, (f"{given} {family.upper()}", "NAME")]
    if style == 1:
        return [*title, (f"{family.upper()} {given}", "NAME")]
    if style == 2:
        return [*title, (f"{given} {family}", "NAME")]
    return [*title, (f"{given[0]}. {family}", "NAME")]


def _date_segment(chart: Chart, day: date) -> Segments:
    return [(format_date(day, chart.rng.randrange(3)), "DATE")]


def note_values(
    chart: Chart,
    visit: Visit,
    labs: dict[str, float | int],
    treatment: list[str],
    procedures: list[str],
) -> dict[str, Segments]:
    """Placeholder values of a letter for ``visit``."""
    rng = chart.rng
    person = chart.person
    if not chart.gp_name[0]:
        sex = "female" if rng.random() < 0.5 else "male"
        names, families = tables.first_names(sex), tables.surnames()
        chart.gp_name = (
            rng.choices(names.values, cum_weights=names.cum_weights)[0],
            rng.choices(families.values, cum_weights=families.cum_weights)[0],
        )
    phrases = tables.note_templates()["phrases"]
    specs = {spec.key: spec for spec in tables.condition_table()[2]}
    day = visit.start.date()
    history = [specs[c.key].display_fr.lower() for c in chart.conditions if c.onset <= day]
    if visit.episode is not None:
        reason = visit.episode.display_fr.lower()
    elif visit.condition is not None:
        reason = specs[visit.condition].display_fr.lower()
    else:
        reason = "bilan"
    diagnosis = reason if not procedures else f"{reason} ({', '.join(procedures).lower()})"
    city = person.city.upper() if rng.random() < 0.3 else person.city
    next_day = visit.end.date().toordinal() + rng.randint(20, 120)
    short = date.fromordinal(visit.start.date().toordinal() - rng.randint(0, 3))
    email: Segments = [(person.email, "EMAIL")] if person.email else [("non renseigné", None)]
    return {
        "patient_name": _name_segments(chart, person.given, person.family, True, person.gender),
        "patient_last": [
            ("M. " if person.gender == "male" else "Mme ", None),
            (person.family, "NAME"),
        ],
        "doctor_name": _name_segments(
            chart, visit.clinician.given, visit.clinician.family, False, None
        ),
        "gp_name": _name_segments(chart, chart.gp_name[0], chart.gp_name[1], False, None),
        "birth_date": _date_segment(chart, person.birth_date),
        "admission_date": _date_segment(chart, visit.start.date()),
        "discharge_date": _date_segment(chart, visit.end.date()),
        "visit_date": _date_segment(chart, visit.start.date()),
        "next_date": _date_segment(chart, date.fromordinal(next_day)),
        "short_date": [
            (f"{'1er' if short.day == 1 else short.day} {MONTHS[short.month - 1]}", "DATE")
        ],
        "nir": [(format_nir(person.nir, rng.random() < 0.5), "NIR")],
        "ipp": [(person.ipp, "IPP")],
        "phone": [(format_phone(person.phone, rng.randrange(4)), "PHONE")],
        "email": email,
        "address_line": [(person.address_line, "ADDRESS")],
        "postcode": [(person.postcode, "ZIP")],
        "city": [(city, "CITY")],
        "age": [(str(chart.age_at(day)), None)],
        "service": [(visit.service, None)],
        "hospital": [(chart.network.hospital_names[visit.hospital], None)],
        "reason": [(reason, None)],
        "diagnosis": [(diagnosis, None)],
        "history": [(_list_sentence(history, "pas d'antécédent notable"), None)],
        "treatment": [(_list_sentence(treatment, "pas de traitement au long cours"), None)],
        "labs": [(_labs_sentence(labs), None)],
        "eponym": [(rng.choice(phrases["eponyms"]), None)],
        "disposition": [(visit.disposition_fr or "retour à domicile", None)],
    }


def document_reference(
    chart: Chart,
    visit: Visit,
    encounter_id: str,
    labs: dict[str, float | int],
    treatment: list[str],
    procedures: list[str],
) -> Resource:
    """A letter for the visit; its truth spans are appended to ``chart.truth``."""
    kind = "discharge" if visit.kind == "IMP" else "consultation"
    spec = tables.note_templates()[kind]
    template = chart.rng.choice(spec["templates"])
    text, spans = render(template, note_values(chart, visit, labs, treatment, procedures))
    document_id = chart.new_id()
    written = visit.end
    chart.truth.append({"resource_type": "DocumentReference", "id": document_id, "spans": spans})
    return {
        "resourceType": "DocumentReference",
        "id": document_id,
        "status": "current",
        "docStatus": "final",
        "type": concept(coding(LOINC, spec["loinc"], spec["display"]), text=spec["title"]),
        "subject": chart.patient_ref,
        "date": instant(written),
        "author": [chart.ref("Practitioner", visit.clinician.id)],
        "custodian": chart.ref("Organization", chart.network.organization_ids[visit.hospital]),
        "description": spec["title"],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "language": "fr-FR",
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                    "title": spec["title"],
                    "creation": instant(written),
                }
            }
        ],
        "context": {
            "encounter": [chart.ref("Encounter", encounter_id)],
            "period": {"start": instant(visit.start), "end": instant(visit.end)},
        },
    }
