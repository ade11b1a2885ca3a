"""INS/NIR keys (property-based), and the identifiers written in Patient and Practitioner."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hygie.synth.identifiers import (
    FINESS_SYSTEM,
    NIR_SYSTEM,
    RPPS_SYSTEM,
    is_valid_luhn,
    is_valid_nir,
    make_nir,
    nir_key,
)

departements = st.one_of(
    st.integers(min_value=1, max_value=95).map(lambda d: f"{d:02d}").filter(lambda d: d != "20"),
    st.sampled_from(["2A", "2B", "99"]),
)


@given(
    sex=st.sampled_from(["male", "female"]),
    year=st.integers(min_value=1900, max_value=2026),
    month=st.integers(min_value=1, max_value=12),
    departement=departements,
    commune=st.integers(min_value=1, max_value=999),
    order=st.integers(min_value=1, max_value=999),
)
def test_nir_key_makes_the_number_divisible_by_97(
    sex: str, year: int, month: int, departement: str, commune: int, order: int
) -> None:
    nir = make_nir(sex, year, month, departement, f"{commune:03d}", order)
    assert len(nir) == 15 and is_valid_nir(nir)
    numeric = nir.replace("2A", "19").replace("2B", "18")
    assert (int(numeric[:13]) + int(numeric[13:])) % 97 == 0
    assert 1 <= int(nir[13:]) <= 97


@given(
    head=st.text(alphabet="0123456789", min_size=13, max_size=13),
    position=st.integers(0, 12),
    delta=st.integers(1, 9),
)
def test_nir_key_detects_any_single_digit_error(head: str, position: int, delta: int) -> None:
    key = nir_key(head)
    typo = head[:position] + str((int(head[position]) + delta) % 10) + head[position + 1 :]
    assert not is_valid_nir(typo + f"{key:02d}")


def test_nir_key_known_values() -> None:
    # 2A is read as 19 and 2B as 18 for the key only.
    assert nir_key("185052A004123") == 97 - int("1850519004123") % 97
    assert nir_key("185052B033123") == 97 - int("1850518033123") % 97
    with pytest.raises(ValueError):
        nir_key("12345")


def test_every_ins_is_valid_and_matches_sex_and_birth(patients: dict[str, dict[str, Any]]) -> None:
    for patient in patients.values():
        nir = next(i["value"] for i in patient["identifier"] if i["system"] == NIR_SYSTEM)
        assert is_valid_nir(nir), nir
        assert nir[0] == ("1" if patient["gender"] == "male" else "2")
        assert nir[1:3] == patient["birthDate"][2:4]
        assert nir[3:5] == patient["birthDate"][5:7]
        assert nir[5:7] in {f"{d:02d}" for d in range(1, 100)} | {"2A", "2B"}


def test_ipp_is_unique(patients: dict[str, dict[str, Any]]) -> None:
    ipps = [
        i["value"]
        for p in patients.values()
        for i in p["identifier"]
        if i["system"].endswith("999.1.1")
    ]
    assert len(ipps) == len(set(ipps)) == len(patients)


def test_practitioners_and_organizations_carry_rpps_and_finess(
    resources: dict[str, list[dict[str, Any]]],
) -> None:
    for practitioner in resources["Practitioner"]:
        rpps = practitioner["identifier"][0]
        assert rpps["system"] == RPPS_SYSTEM
        assert len(rpps["value"]) == 11 and is_valid_luhn(rpps["value"])
    for organization in resources["Organization"]:
        finess = organization["identifier"][0]
        assert finess["system"] == FINESS_SYSTEM
        assert len(finess["value"]) == 9 and is_valid_luhn(finess["value"])


def test_addresses_have_real_format_postcodes(patients: dict[str, dict[str, Any]]) -> None:
    for patient in patients.values():
        address = patient["address"][0]
        assert len(address["postalCode"]) == 5 and address["postalCode"].isdigit()
        assert address["country"] == "FR" and address["city"]
        phone = patient["telecom"][0]["value"]
        assert len(phone) == 10 and phone.startswith("0")
