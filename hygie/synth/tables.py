"""Reference tables of the generator, read once from the data files under ``data/``.

Every table is a small CSV or TOML file whose header comment cites its source; this module only
parses them into typed records. Nothing here draws random numbers.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Weighted:
    """Values with cumulative weights, ready for ``random.Random.choices``."""

    values: tuple[str, ...]
    cum_weights: tuple[float, ...]


@dataclass(frozen=True)
class Commune:
    """A commune: INSEE code (NIR birth place), name, postcode, population weights."""

    insee_code: str
    name: str
    postcode: str
    population_k: float
    catchment: bool

    @property
    def departement(self) -> str:
        """Two-character département of the INSEE code (``35``, ``2A``)."""
        return self.insee_code[:2]


@dataclass(frozen=True)
class ConditionSpec:
    """A chronic condition of ``conditions.toml``."""

    key: str
    display_fr: str
    icd10: str
    snomed: str
    snomed_display: str
    male: tuple[float, ...]
    female: tuple[float, ...]
    onset_min_age: int
    mortality_factor: float
    risk: dict[str, float]
    excludes: tuple[str, ...]
    followup_service: str
    followup_months: int
    followup_share: float


@dataclass(frozen=True)
class EpisodeSpec:
    """An acute episode of ``acute_episodes.toml``."""

    key: str
    display_fr: str
    icd10: str
    snomed: str
    snomed_display: str
    rate: tuple[float, ...]
    risk: dict[str, float]
    requires: tuple[str, ...]
    admit: float
    los: tuple[int, int]
    service: str
    infection: bool
    procedures: tuple[str, ...]
    max_age: int | None
    start: date | None
    until: date | None


@dataclass(frozen=True)
class MeasureSpec:
    """A vital sign or laboratory test of ``observations.toml``."""

    key: str
    loinc: str
    display: str
    unit: str
    decimals: int
    limits: tuple[float, float]
    range: tuple[float | None, float | None]
    range_female: tuple[float | None, float | None] | None
    range_elderly: tuple[float | None, float | None] | None


@dataclass(frozen=True)
class PanelSpec:
    """A laboratory panel reported as one DiagnosticReport."""

    key: str
    loinc: str
    display: str
    labs: tuple[str, ...]


@dataclass(frozen=True)
class MedicationSpec:
    """A medicine of ``medications.csv``."""

    key: str
    indication: str
    atc: str
    name_fr: str
    dose_value: float
    dose_unit: str
    per_day: int
    period_days: int
    route: str
    probability: float
    since: date | None
    cip13: str


@dataclass(frozen=True)
class Hospital:
    """An establishment of ``organizations.toml``."""

    key: str
    name: str
    departement: str
    commune: str
    city: str
    postcode: str
    street: str
    services: tuple[str, ...]
    practitioners: int
    serves: tuple[str, ...]


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _toml(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


def _weighted(pairs: list[tuple[str, float]]) -> Weighted:
    return Weighted(
        values=tuple(value for value, _ in pairs),
        cum_weights=tuple(accumulate(weight for _, weight in pairs)),
    )


def _bound(value: float) -> float | None:
    return None if value < 0 else value


def _range(values: list[float] | None) -> tuple[float | None, float | None] | None:
    if values is None:
        return None
    return (_bound(values[0]), _bound(values[1]))


@cache
def first_names(sex: str) -> Weighted:
    """First names for ``male`` or ``female`` (INSEE fichier des prénoms)."""
    return _weighted(
        [(r["name"], float(r["weight"])) for r in _rows("first_names.csv") if r["sex"] == sex]
    )


@cache
def surnames() -> Weighted:
    """Surnames (INSEE fichier des noms)."""
    return _weighted([(r["name"], float(r["weight"])) for r in _rows("surnames.csv")])


@cache
def streets() -> Weighted:
    """Street names (Base Adresse Nationale)."""
    return _weighted([(r["street"], float(r["weight"])) for r in _rows("streets.csv")])


@cache
def communes() -> tuple[Commune, ...]:
    """Communes with INSEE code and postcode."""
    return tuple(
        Commune(
            insee_code=r["insee_code"],
            name=r["name"],
            postcode=r["postcode"],
            population_k=float(r["population_k"]),
            catchment=r["catchment"] == "1",
        )
        for r in _rows("communes.csv")
    )


@cache
def residence_weights() -> tuple[float, ...]:
    """Cumulative residence weights: the network's catchment area weighs ten times more."""
    return tuple(accumulate(c.population_k * (10.0 if c.catchment else 1.0) for c in communes()))


@cache
def birth_weights() -> tuple[float, ...]:
    """Cumulative birth-place weights (plain population)."""
    return tuple(accumulate(c.population_k for c in communes()))


@cache
def birth_countries() -> Weighted:
    """INSEE codes of countries of birth for people born abroad."""
    return _weighted(
        [(r["country_code"], float(r["weight"])) for r in _rows("birth_countries.csv")]
    )


@cache
def age_distribution() -> tuple[tuple[tuple[int, int], ...], tuple[float, ...]]:
    """Age bands at first contact and their cumulative shares."""
    rows = _rows("age_distribution.csv")
    bands = tuple((int(r["age_min"]), int(r["age_max"])) for r in rows)
    return bands, tuple(accumulate(float(r["share"]) for r in rows))


@cache
def mortality() -> tuple[tuple[int, float, float], ...]:
    """(age_min, male, female) annual death probabilities, as fractions."""
    return tuple(
        (int(r["age_min"]), float(r["male_per_1000"]) / 1000, float(r["female_per_1000"]) / 1000)
        for r in _rows("mortality.csv")
    )


@cache
def condition_table() -> tuple[tuple[int, ...], float, tuple[ConditionSpec, ...]]:
    """Age bands, hospital enrichment factor and chronic conditions, in file order."""
    data = _toml("conditions.toml")
    specs = []
    for key, c in data["conditions"].items():
        follow = c["followup"]
        specs.append(
            ConditionSpec(
                key=key,
                display_fr=c["display_fr"],
                icd10=c["icd10"],
                snomed=c["snomed"],
                snomed_display=c["snomed_display"],
                male=tuple(c["male"]),
                female=tuple(c["female"]),
                onset_min_age=int(c["onset_min_age"]),
                mortality_factor=float(c["mortality_factor"]),
                risk={k: float(v) for k, v in c.get("risk", {}).items()},
                excludes=tuple(c.get("excludes", ())),
                followup_service=follow["service"],
                followup_months=int(follow["months"]),
                followup_share=float(follow["share"]),
            )
        )
    return tuple(data["age_bands"]), float(data["hospital_enrichment"]), tuple(specs)


@cache
def derived_conditions() -> dict[str, dict[str, str]]:
    """Conditions derived from measurements (obesity)."""
    derived: dict[str, dict[str, str]] = _toml("conditions.toml")["derived"]
    return derived


@cache
def episodes() -> tuple[EpisodeSpec, ...]:
    """Acute episodes, in file order."""
    out = []
    for key, e in _toml("acute_episodes.toml")["episodes"].items():
        out.append(
            EpisodeSpec(
                key=key,
                display_fr=e["display_fr"],
                icd10=e["icd10"],
                snomed=e["snomed"],
                snomed_display=e["snomed_display"],
                rate=tuple(e["rate"]),
                risk={k: float(v) for k, v in e.get("risk", {}).items()},
                requires=tuple(e.get("requires", ())),
                admit=float(e["admit"]),
                los=(int(e["los"][0]), int(e["los"][1])),
                service=e["service"],
                infection=bool(e["infection"]),
                procedures=tuple(e.get("procedures", ())),
                max_age=e.get("max_age"),
                start=date.fromisoformat(e["from"]) if "from" in e else None,
                until=date.fromisoformat(e["until"]) if "until" in e else None,
            )
        )
    return tuple(out)


def _measure(key: str, m: dict[str, Any]) -> MeasureSpec:
    return MeasureSpec(
        key=key,
        loinc=m["loinc"],
        display=m["display"],
        unit=m["unit"],
        decimals=int(m["decimals"]),
        limits=(float(m["limits"][0]), float(m["limits"][1])),
        range=_range(m.get("range")) or (None, None),
        range_female=_range(m.get("range_female")),
        range_elderly=_range(m.get("range_elderly")),
    )


@cache
def measures() -> dict[str, MeasureSpec]:
    """Vital signs and laboratory tests by key."""
    data = _toml("observations.toml")
    out = {k: _measure(k, m) for k, m in data["vitals"].items()}
    out.update({k: _measure(k, m) for k, m in data["labs"].items()})
    return out


@cache
def panels() -> dict[str, PanelSpec]:
    """Laboratory panels by key."""
    data = _toml("observations.toml")["panels"]
    return {
        k: PanelSpec(key=k, loinc=p["loinc"], display=p["display"], labs=tuple(p["labs"]))
        for k, p in data.items()
    }


@cache
def medications() -> tuple[MedicationSpec, ...]:
    """Medicines by indication, in file order."""
    return tuple(
        MedicationSpec(
            key=r["key"],
            indication=r["indication"],
            atc=r["atc"],
            name_fr=r["name_fr"],
            dose_value=float(r["dose_value"]),
            dose_unit=r["dose_unit"],
            per_day=int(r["per_day"]),
            period_days=int(r["period_days"]),
            route=r["route"],
            probability=float(r["probability"]),
            since=date.fromisoformat(r["since"]) if r["since"] else None,
            cip13=r["cip13"],
        )
        for r in _rows("medications.csv")
    )


@cache
def procedures() -> dict[str, dict[str, str]]:
    """Procedures (SNOMED CT) by key."""
    return {r["key"]: r for r in _rows("procedures.csv")}


@cache
def vaccines() -> dict[str, dict[str, str]]:
    """Vaccines (CVX and ATC) by key."""
    return {r["key"]: r for r in _rows("vaccines.csv")}


@cache
def allergies() -> tuple[dict[str, str], ...]:
    """Allergy substances and reactions."""
    return tuple(_rows("allergies.csv"))


@cache
def hospitals() -> tuple[Hospital, ...]:
    """The establishments of the synthetic network."""
    return tuple(
        Hospital(
            key=h["key"],
            name=h["name"],
            departement=h["departement"],
            commune=h["commune"],
            city=h["city"],
            postcode=h["postcode"],
            street=h["street"],
            services=tuple(h["services"]),
            practitioners=int(h["practitioners"]),
            serves=tuple(h["serves"]),
        )
        for h in _toml("organizations.toml")["hospitals"]
    )


@cache
def note_templates() -> dict[str, Any]:
    """French letter templates, eponym sentences and discharge wordings."""
    return _toml("note_templates.toml")
