"""Patients: French names, birth, address, contact, INS/NIR and IPP, and the Patient resource.

Ages at first contact follow the hospital's active file (``age_distribution.csv``); names,
communes and streets are drawn with the weights of their INSEE / La Poste / BAN tables.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hygie.synth import tables
from hygie.synth.datatypes import V2_0203, Resource, coding, concept, instant
from hygie.synth.identifiers import IPP_SYSTEM, NIR_SYSTEM, make_nir

SHARE_BORN_ABROAD = 0.10
"""INSEE 2022: about 10 % of people living in France were born abroad."""

SHARE_WITH_EMAIL = 0.55
"""Share of patients whose e-mail the hospital records (portal, convocations)."""

SHARE_MOBILE = 0.8
"""Share of patients whose recorded phone is a mobile (Arcep: most people give a mobile)."""

#: Blocks the Arcep set aside for fiction and documentation: synthetic numbers cannot ring anyone.
FICTION_MOBILE = ("0639 98",)
FICTION_LANDLINE = ("0199 00", "0261 91", "0353 73", "0465 71", "0536 49")

EMAIL_DOMAINS = ("orange.fr", "gmail.com", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr")


@dataclass(frozen=True)
class Person:
    """Demographics of one patient, as the letters and the Patient resource show them."""

    id: str
    index: int
    gender: str
    given: str
    family: str
    birth_date: date
    nir: str
    ipp: str
    address_line: str
    postcode: str
    city: str
    commune_code: str
    phone: str
    email: str | None

    @property
    def display(self) -> str:
        """``Jean Martin``."""
        return f"{self.given} {self.family}"


def _ascii_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isalnum() and ord(c) < 128).lower()


def _birth_place(rng: random.Random, birth_year: int) -> tuple[str, str]:
    """(département, commune) of the NIR: 99 + country code when born abroad."""
    if rng.random() < SHARE_BORN_ABROAD:
        countries = tables.birth_countries()
        return "99", rng.choices(countries.values, cum_weights=countries.cum_weights)[0]
    commune = rng.choices(tables.communes(), cum_weights=tables.birth_weights())[0]
    departement = commune.departement
    if departement in ("2A", "2B") and birth_year < 1976:
        # Corsica was one département (20) until 1976.
        departement = "20"
    return departement, commune.insee_code[2:]


def draw_person(rng: random.Random, patient_id: str, index: int, first_contact: date) -> Person:
    """Draw the demographics of one patient first seen on ``first_contact``."""
    gender = "female" if rng.random() < 0.52 else "male"
    bands, cum_shares = tables.age_distribution()
    age_min, age_max = rng.choices(bands, cum_weights=cum_shares)[0]
    age_days = rng.randint(age_min * 365, age_max * 365 + 364)
    birth_date = first_contact - timedelta(days=age_days)
    names = tables.first_names(gender)
    given = rng.choices(names.values, cum_weights=names.cum_weights)[0]
    families = tables.surnames()
    family = rng.choices(families.values, cum_weights=families.cum_weights)[0]
    departement, commune = _birth_place(rng, birth_date.year)
    nir = make_nir(
        gender, birth_date.year, birth_date.month, departement, commune, rng.randint(1, 999)
    )
    home = rng.choices(tables.communes(), cum_weights=tables.residence_weights())[0]
    street = tables.streets()
    number = rng.randint(1, 120)
    suffix = " bis" if rng.random() < 0.03 else ""
    address_line = (
        f"{number}{suffix} {rng.choices(street.values, cum_weights=street.cum_weights)[0]}"
    )
    block = rng.choice(FICTION_MOBILE if rng.random() < SHARE_MOBILE else FICTION_LANDLINE)
    digits = block.replace(" ", "") + f"{rng.randrange(10000):04d}"
    email = None
    if rng.random() < SHARE_WITH_EMAIL:
        separator = rng.choice((".", "_", ""))
        tail = rng.choice(("", str(rng.randint(1, 99)), str(birth_date.year)))
        local = f"{_ascii_lower(given)}{separator}{_ascii_lower(family)}{tail}"
        email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
    return Person(
        id=patient_id,
        index=index,
        gender=gender,
        given=given,
        family=family,
        birth_date=birth_date,
        nir=nir,
        ipp=f"{80000000 + index:08d}",
        address_line=address_line,
        postcode=home.postcode,
        city=home.name,
        commune_code=home.insee_code,
        phone=digits,
        email=email,
    )


def patient_resource(person: Person, deceased: datetime | None) -> Resource:
    """The FHIR Patient of ``person``."""
    telecom = [
        {
            "system": "phone",
            "value": person.phone,
            "use": "mobile" if person.phone.startswith("06") else "home",
        }
    ]
    if person.email is not None:
        telecom.append({"system": "email", "value": person.email})
    resource: Resource = {
        "resourceType": "Patient",
        "id": person.id,
        "identifier": [
            {
                "use": "official",
                "type": concept(coding(V2_0203, "NH", "National Health Plan Identifier")),
                "system": NIR_SYSTEM,
                "value": person.nir,
            },
            {
                "use": "usual",
                "type": concept(coding(V2_0203, "PI", "Patient internal identifier")),
                "system": IPP_SYSTEM,
                "value": person.ipp,
            },
        ],
        "name": [{"use": "official", "family": person.family, "given": [person.given]}],
        "telecom": telecom,
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "address": [
            {
                "use": "home",
                "line": [person.address_line],
                "city": person.city,
                "postalCode": person.postcode,
                "country": "FR",
            }
        ],
    }
    if deceased is not None:
        resource["deceasedDateTime"] = instant(deceased)
    else:
        resource["deceasedBoolean"] = False
    return resource
