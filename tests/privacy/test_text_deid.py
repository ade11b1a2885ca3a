"""French clinical text de-identification: each rule, the eponyms, and the measured scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from hygie.privacy.evaluation import evaluate_deid
from hygie.privacy.text.deid import PatientContext, TextDeidentifier
from hygie.privacy.text.patterns import nir_key_is_valid

DEID = TextDeidentifier(clinician_names=["Hélène Robert", "Philippe Durand"])
PATIENT = PatientContext(
    names=("Laurent", "Morin"),
    identifiers=("80000123",),
    cities=("Fougères",),
    address_lines=("1 rue du Château",),
    postcodes=("35300",),
).with_known_names()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INS : 1 84 12 2A 002 016 93.", "INS : <NIR>."),
        ("NIR 269054958815780 vérifié", "NIR <NIR> vérifié"),
        ("Tél 06 39 98 12 34 ou +33 6 39 98 12 34", "Tél <TEL> ou <TEL>"),
        ("joint au 06.39.98.03.35.", "joint au <TEL>."),
        ("Courriel : jean.morin@free.fr", "Courriel : <EMAIL>"),
        ("IPP 80000123 - NDA 2024-001234", "IPP <IPP> - NDA <IPP>"),
        ("Entré le 12/03/2024, sorti le 1er avril 2024.", "Entré le <DATE>, sorti le <DATE>."),
        ("revu le 3 avril et en mars 2023", "revu le <DATE> et en <DATE>"),
        (
            "Domicile : 18 rue Émile Zola, 35000 Rennes",
            "Domicile : <ADRESSE>, <CODE_POSTAL> <VILLE>",
        ),
        ("vit au 4 Grande Rue 56100 LORIENT - tél", "vit au <ADRESSE> <CODE_POSTAL> <VILLE> - tél"),
    ],
)
def test_identifiers_are_replaced_by_typed_placeholders(text: str, expected: str) -> None:
    assert DEID.deidentify(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Patient : M. Laurent MORIN, vu par le Dr CLÉMENT Catherine",
            "Patient : <NOM>, vu par le Dr <NOM>",
        ),
        ("Copie au Dr J. Martin.", "Copie au Dr <NOM>."),
        ("Mme Le Goff est sortie.", "Mme <NOM> est sortie."),
        ("Vu avec Hélène Robert ce jour.", "Vu avec <NOM> ce jour."),
        ("Morin se plaint de douleurs.", "<NOM> se plaint de douleurs."),
        ("Appel de Nathalie DUCHEMIN, sa fille.", "Appel de <NOM>, sa fille."),
        ("Vit à Fougères avec son épouse.", "Vit à <VILLE> avec son épouse."),
    ],
)
def test_names_come_from_titles_known_names_and_the_lexicon(text: str, expected: str) -> None:
    assert DEID.deidentify(text, PATIENT) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Pas de signe de Babinski, réflexes présents.",
        "Pas d'argument pour une maladie de Parkinson.",
        "Manœuvre de Valsalva sans particularité.",
        "Thyroïdite de Hashimoto connue, stable.",
        "Pas de syndrome de Guillain-Barré.",
        "Insuffisance cardiaque stade II de la classification NYHA, score de Glasgow à 15.",
        "Petit épanchement pleural, créatininémie 131 µmol/L, DFG 40 mL/min/1,73 m².",
    ],
)
def test_eponyms_and_clinical_content_are_not_redacted(text: str) -> None:
    assert DEID.deidentify(text, PATIENT) == text


def test_a_title_wins_over_an_eponym() -> None:
    assert DEID.deidentify("Vu par le Dr Parkinson.") == "Vu par le Dr <NOM>."


def test_nir_key_check_includes_corsica() -> None:
    assert nir_key_is_valid("1 84 12 2A 002 016 93")
    assert not nir_key_is_valid("1 84 12 2A 002 016 94")
    assert nir_key_is_valid("269054958815780")


def test_dates_can_be_shifted_instead_of_replaced() -> None:
    shifting = TextDeidentifier(text_dates="shift")
    patient = PatientContext(shift_days=-10)
    assert (
        shifting.deidentify("Vu le 12/03/2024 et le 3 avril.", patient)
        == "Vu le 02/03/2024 et le <DATE>."
    )


def test_the_measured_scores_meet_the_targets_on_the_generated_letters(synth_dir: Path) -> None:
    result = evaluate_deid(synth_dir)
    assert result.notes > 200
    for label in ("NIR", "PHONE", "EMAIL", "IPP"):
        assert result.labels[label].recall >= 0.99, label
    for label in ("NAME", "DATE"):
        assert result.labels[label].recall >= 0.97, label
    assert result.fully_redacted_share >= 0.90
    assert result.precision >= 0.90
