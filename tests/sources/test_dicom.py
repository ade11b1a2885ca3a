"""DICOM headers → ImagingStudy and Patient, on the DICOM files shipped with pydicom."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from hygie.sources import SOURCES
from hygie.sources.dicom import DicomSource
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.sources.conftest import CONNECTORS, assert_valid_and_linked, matches_expected

EXPECTED = CONNECTORS / "dicom"


def pydicom_file(name: str) -> Path:
    """A file of pydicom's own test data (never downloaded: the test is skipped without it)."""
    found = get_testdata_file(name, download=False)
    if not isinstance(found, str):
        pytest.skip(f"{name} is not in the installed pydicom package")
    return Path(found)


class NoLookup:
    def find(self, query: object) -> None:
        return None


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".expected.json")
                                        for p in EXPECTED.glob("*.expected.json")))  # fmt: skip
def test_each_file_gives_its_hand_written_expected_resources(name: str) -> None:
    expected = json.loads((EXPECTED / f"{name}.expected.json").read_text())
    source = DicomSource()
    [item] = list(source.read(pydicom_file(f"{name}.dcm")))
    outcome = source.interpret(item, NoLookup())  # type: ignore[arg-type]
    assert outcome.rejections == []
    produced = {(r.resource_type, r.id): json.loads(r.json or b"{}") for r in outcome.resources}
    assert len(produced) == sum(expected["counts"].values())
    for wanted in expected["resources"]:
        actual = produced[(wanted["resourceType"], wanted["id"])]
        matches_expected(actual, wanted)
        assert set(actual) == set(wanted), wanted["resourceType"]


def test_the_raw_item_is_the_header_without_the_pixel_data() -> None:
    path = pydicom_file("CT_small.dcm")
    [item] = list(DicomSource().read(path))
    whole = path.read_bytes()
    assert item.content == whole[: len(item.content)]  # type: ignore[union-attr]
    assert whole[len(item.content) : len(item.content) + 4] == b"\xe0\x7f\x10\x00"  # (7FE0,0010)
    assert len(item.content) < len(whole) // 5  # type: ignore[union-attr]


def test_files_of_one_study_give_one_study_with_all_series_and_instances(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    original = pydicom_file("CT_small.dcm")
    second = pydicom.dcmread(original)
    second.SeriesInstanceUID += ".2"
    second.SeriesNumber = 2
    second.SOPInstanceUID += ".2"
    second.save_as(tmp_path / "second.dcm")
    third = pydicom.dcmread(original)
    third.SOPInstanceUID += ".3"
    third.InstanceNumber = 2
    third.save_as(tmp_path / "third.dcm")
    paths = [original, tmp_path / "second.dcm", tmp_path / "third.dcm"]
    summary = ingest(warehouse, [str(p) for p in paths], format="dicom").summary()
    assert summary["quarantined"] == 0 and summary["items_read"] == 3
    [study] = [r for r in assert_valid_and_linked(warehouse) if r["resourceType"] == "ImagingStudy"]
    assert (study["numberOfSeries"], study["numberOfInstances"]) == (2, 3)
    assert [s["numberOfInstances"] for s in study["series"]] == [2, 1]
    assert [i["number"] for i in study["series"][0]["instance"]] == [1, 2]


def test_dicom_is_found_by_content_and_links_to_a_patient_already_there(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    dataset = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    dataset.IssuerOfPatientID = "1.2.250.1.71.4.2.2"
    dataset.save_as(tmp_path / "image.bin")
    adt = tmp_path / "adt.hl7"
    adt.write_text(
        "MSH|^~\\&|GAM|CHU|DPI|CHU|20240306111154||ADT^A04^ADT_A01|1|P|2.5\r"
        "PID|1||4MR1^^^CHU&1.2.250.1.71.4.2.2&ISO^PI||DUPONT^MARIE||19800101|F\r"
        "PV1|1|O"
    )
    ingest(warehouse, [str(adt)])
    summary = ingest(warehouse, [str(tmp_path / "image.bin")]).summary()
    assert summary["formats"] == {"dicom": 1}
    assert "Patient" not in summary["by_type"]  # found by PatientID + issuer, not produced
    resources = assert_valid_and_linked(warehouse)
    [patient] = [r for r in resources if r["resourceType"] == "Patient"]
    [study] = [r for r in resources if r["resourceType"] == "ImagingStudy"]
    assert patient["name"][0]["family"] == "DUPONT"
    assert study["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert "dicom" in SOURCES and list(SOURCES).index("dicom") < list(SOURCES).index("fhir-json")


def test_non_dicom_truncated_and_unlinkable_files_are_quarantined_with_their_reason(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    whole = pydicom_file("CT_small.dcm").read_bytes()
    (tmp_path / "not-dicom.dcm").write_bytes(b"%PDF-1.4 not an image" * 20)
    (tmp_path / "cut-in-pixels.dcm").write_bytes(whole[:20000])
    (tmp_path / "cut-in-header.dcm").write_bytes(whole[:6200])
    paths = [tmp_path / n for n in ("not-dicom.dcm", "cut-in-pixels.dcm", "cut-in-header.dcm")]
    paths += [pydicom_file("test-SR.dcm"), pydicom_file("JPEG2000.dcm")]
    summary = ingest(warehouse, [str(p) for p in paths], format="dicom").summary()
    assert summary["quarantined_by_reason"] == {
        "not-dicom": 1, "truncated-dicom": 2, "missing-patient-identifier": 1,
    }  # fmt: skip
    assert summary["by_type"]["ImagingStudy"]["created"] == 1
    with warehouse.reading() as engine:
        messages = dict(engine.fetchall("SELECT source, message FROM quarantine"))
    assert "'DICM' marker at byte 128" in messages[str(paths[0])]
    assert "19,068 bytes short" in messages[str(paths[1])]
    assert "before its Pixel Data" in messages[str(paths[2])]
    assert "PatientID (0010,0020)" in messages[str(paths[3])]
