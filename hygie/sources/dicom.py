"""DICOM headers as an input format: one raw item per file, mapped to ImagingStudy and Patient.

Only DICOM Part 10 files are read (128-byte preamble, then ``DICM``; PS3.10 section 7.1). The
pixel data is never loaded: pydicom reads the header up to the Pixel Data element
(``stop_before_pixels``), and the raw zone keeps those header bytes (preamble, file meta and
every element before Pixel Data, exactly as in the file), not the image. The file is checked
for truncation: the header must name the study, series and instance, and when Pixel Data is
present the file must hold all of it.

Mapping (FHIR R4 ImagingStudy, https://hl7.org/fhir/R4/imagingstudy.html, and the DICOM
attribute mapping of its page): StudyInstanceUID → identifier (``urn:dicom:uid``) and the id,
AccessionNumber → identifier of type ACSN, StudyDate/StudyTime (+ TimezoneOffsetFromUTC) →
started, Modality → modality and series.modality (DCM code system), BodyPartExamined →
series.bodySite, SeriesInstanceUID/SeriesNumber/SeriesDescription → series, SOPInstanceUID/
SOPClassUID/InstanceNumber → series.instance. PatientID with IssuerOfPatientID → the Patient,
found by identifier or produced from the header (name, sex, birth date).

A study is usually many files, one instance each. The source gathers the series and instances
of each study it has read in this process, and each file's ImagingStudy carries all of them: the
last file of a study read in one run gives the complete study.
"""

from __future__ import annotations

import io
import struct
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from hygie.fhir.references import ConditionalQuery
from hygie.sources.base import (
    Interpretation,
    RawItem,
    ReadFailure,
    ReferenceLookup,
    Rejection,
    package_mapped,
)
from hygie.sources.hl7v2.datatypes import OID, derived_id, hd_system

Json = dict[str, Any]
MAGIC_OFFSET = 128
PIXEL_DATA = (0x7FE0, 0x0010)
DEFLATED = "1.2.840.10008.1.2.1.99"
"""Deflated Explicit VR Little Endian transfer syntax (PS3.5 section A.5)."""
MAX_HEADER_BYTES = 16 * 1024 * 1024
"""Headers (everything before Pixel Data) larger than this are refused."""
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SNOMED = "http://snomed.info/sct"
BODY_PARTS = {
    "HEAD": ("69536005", "Head structure"),
    "BRAIN": ("12738006", "Brain structure"),
    "CHEST": ("51185008", "Thoracic structure"),
    "ABDOMEN": ("113345001", "Abdominal structure"),
    "PELVIS": ("12921003", "Pelvic structure"),
    "LIVER": ("10200004", "Liver structure"),
    "KNEE": ("72696002", "Knee region structure"),
    "WHOLEBODY": ("38266002", "Entire body as a whole"),
}
"""BodyPartExamined defined terms → SNOMED CT (DICOM PS3.16 Annex L, "Correspondence of Anatomic
Region Codes and Body Part Examined Defined Terms"); other terms are kept as display text."""
GENDER = {"M": "male", "F": "female", "O": "other"}
"""PatientSex (0010,0040) → Patient.gender."""
KEPT_STUDIES = 256
"""Studies whose series and instances are remembered between files (least recently used go)."""


class DicomError(ValueError):
    """A DICOM file that cannot be mapped, with a stable reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def looks_like_dicom(head: bytes) -> bool:
    """True when ``head`` holds the ``DICM`` marker after the 128-byte preamble."""
    return head[MAGIC_OFFSET : MAGIC_OFFSET + 4] == b"DICM"


class DicomSource:
    """DICOM Part 10 files (``.dcm``): headers only, one ImagingStudy per study."""

    name = "dicom"

    def __init__(self, timezone: str = "Europe/Paris") -> None:
        self.zone = ZoneInfo(timezone)
        """Time zone of study times sent without TimezoneOffsetFromUTC."""
        self.studies: OrderedDict[str, dict[str, Json]] = OrderedDict()
        """Study UID → series UID → FHIR series element, as read so far."""

    def sniff(self, path: Path, head: bytes) -> bool:
        return looks_like_dicom(head)

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        source = str(path)
        try:
            content = read_header(path)
        except DicomError as exc:
            yield ReadFailure(source, None, 0, exc.reason, f"{path.name}: {exc}")
            return
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")
            return
        yield RawItem(source, None, 0, self.name, content)

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        try:
            resources = self.map_header(item.content, lookup)
        except DicomError as exc:
            return Interpretation(rejections=[Rejection(exc.reason, str(exc))])
        return package_mapped(resources)

    def map_header(self, content: bytes, lookup: ReferenceLookup) -> list[Json]:
        """The Patient (when not found by identifier) and ImagingStudy of one DICOM header."""
        ds = _dataset(content)
        study_uid = _required(ds, "StudyInstanceUID")
        series_uid = _required(ds, "SeriesInstanceUID")
        instance_uid = _required(ds, "SOPInstanceUID")
        patient = patient_of(ds, lookup)
        series = self.studies.setdefault(study_uid, {})
        self.studies.move_to_end(study_uid)
        while len(self.studies) > KEPT_STUDIES:
            self.studies.popitem(last=False)
        entry = series.get(series_uid)
        if entry is None:
            entry = series[series_uid] = series_of(ds, series_uid, self.zone)
        instances = entry.setdefault("instance", [])
        if all(i["uid"] != instance_uid for i in instances):
            instances.append(instance_of(ds, instance_uid))
            instances.sort(key=lambda i: (i.get("number", 0), i["uid"]))
        entry["numberOfInstances"] = len(instances)
        study = imaging_study(ds, study_uid, list(series.values()), self.zone)
        study["subject"] = {"reference": f"Patient/{patient['id']}"}
        return [patient, study] if "resourceType" in patient else [study]


def read_header(path: Path) -> bytes:
    """The bytes of ``path`` before its Pixel Data, after checking the file is whole."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(MAGIC_OFFSET + 4)
        if not looks_like_dicom(head):
            raise DicomError(
                "not-dicom",
                "no 'DICM' marker at byte 128: not a DICOM Part 10 file (a file without its "
                "preamble and file meta information must be rewritten first, e.g. by dcmconv)",
            )
        handle.seek(0)
        try:
            ds = pydicom.dcmread(handle, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, struct.error, ValueError, KeyError) as exc:
            raise DicomError("invalid-dicom", f"the header cannot be read ({exc})") from None
        end = handle.tell()
        if end > MAX_HEADER_BYTES or (
            ds.file_meta.get("TransferSyntaxUID") == DEFLATED and size > MAX_HEADER_BYTES
        ):
            raise DicomError("header-too-large", f"a header of {end:,} bytes (limit 16 MiB)")
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            if not ds.get(keyword):
                raise DicomError(
                    "missing-required-field",
                    f"the header has no {keyword}"
                    + (f" (the file ends at byte {size:,}, before any Pixel Data: truncated?)"
                       if end >= size else ""),
                )  # fmt: skip
        if ds.file_meta.get("TransferSyntaxUID") == DEFLATED:
            # The whole data set is deflated: positions in it are not file offsets; keep it all.
            end = size
        elif end < size:
            _check_pixel_data(handle, ds, end, size)
        elif "Rows" in ds and "Columns" in ds and ds.get("Modality") not in ("SR", "RTPLAN"):
            raise DicomError(
                "truncated-dicom",
                f"an image header (Rows, Columns) but the file ends at byte {size:,} before "
                "its Pixel Data: the file is truncated",
            )
        handle.seek(0)
        return handle.read(end)


def _check_pixel_data(handle: io.BufferedReader, ds: Dataset, start: int, size: int) -> None:
    """The Pixel Data element at ``start`` must fit in the file (PS3.5 section 7.1)."""
    implicit, little = ds.original_encoding
    handle.seek(start)
    tag = handle.read(12)
    order = "<" if little is not False else ">"
    if len(tag) < 8 or struct.unpack(order + "HH", tag[:4]) != PIXEL_DATA:
        return
    # Some writers declare explicit VR and write implicit VR (pydicom reads both): look at it.
    if implicit or not tag[4:6].isalpha():
        length, header = struct.unpack(order + "I", tag[4:8])[0], 8
    else:
        length, header = struct.unpack(order + "I", tag[8:12])[0], 12
    if length == 0xFFFFFFFF:
        # Encapsulated (compressed) frames end with a sequence delimitation item.
        handle.seek(max(start, size - 1024))
        delimiter = struct.pack(order + "HHI", 0xFFFE, 0xE0DD, 0)
        if delimiter not in handle.read():
            raise DicomError(
                "truncated-dicom",
                "the encapsulated Pixel Data has no sequence delimiter at the end of the file: "
                "the file is truncated",
            )
        return
    missing = start + header + length - size
    if missing > 0:
        raise DicomError(
            "truncated-dicom",
            f"Pixel Data declares {length:,} bytes but the file ends {missing:,} bytes short: "
            "the file is truncated",
        )


def _dataset(content: bytes) -> Dataset:
    try:
        return pydicom.dcmread(io.BytesIO(content), stop_before_pixels=True)
    except (InvalidDicomError, EOFError, struct.error, ValueError, KeyError) as exc:
        raise DicomError("invalid-dicom", f"the header cannot be read ({exc})") from None


def _required(ds: Dataset, keyword: str) -> str:
    value = str(ds.get(keyword) or "").strip()
    if not value:
        raise DicomError("missing-required-field", f"the header has no {keyword}")
    return value


def patient_identifier(ds: Dataset) -> Json:
    """PatientID (0010,0020) with its issuer (0010,0021, or the qualifiers sequence)."""
    value = str(ds.get("PatientID") or "").strip()
    if not value:
        raise DicomError(
            "missing-patient-identifier", "PatientID (0010,0020) is empty: no patient to link to"
        )
    issuer = str(ds.get("IssuerOfPatientID") or "").strip()
    universal = kind = ""
    qualifiers = ds.get("IssuerOfPatientIDQualifiersSequence")
    if qualifiers:
        universal = str(qualifiers[0].get("UniversalEntityID") or "").strip()
        kind = str(qualifiers[0].get("UniversalEntityIDType") or "").strip()
    if not universal and OID.fullmatch(issuer):
        universal, kind = issuer, "ISO"  # an OID sent as the issuer's name, as many PACS do
    identifier: Json = {"value": value}
    system = hd_system(issuer, universal, kind)
    if system is not None:
        identifier["system"] = system
    return identifier


def patient_of(ds: Dataset, lookup: ReferenceLookup) -> Json:
    """The study's patient: ``{"id": ...}`` when found by identifier, else a new Patient.

    Without an issuer, the PatientID is looked up in any system and used only when a single
    patient has it.
    """
    identifier = patient_identifier(ds)
    system = identifier.get("system")
    found = lookup.find(ConditionalQuery("Patient", ((system, identifier["value"]),)))
    if found is not None:
        return {"id": found}
    patient: Json = {
        "resourceType": "Patient",
        "id": derived_id("Patient", f"{system or ''}|{identifier['value']}"),
        "identifier": [identifier],
    }
    name = ds.get("PatientName")
    if name:
        human: Json = {}
        if name.family_name:
            human["family"] = name.family_name
        given = [part for part in (name.given_name, name.middle_name) if part]
        if given:
            human["given"] = given
        if human:
            patient["name"] = [human]
    gender = GENDER.get(str(ds.get("PatientSex") or "").strip())
    if gender:
        patient["gender"] = gender
    birth = _date(str(ds.get("PatientBirthDate") or ""))
    if birth:
        patient["birthDate"] = birth
    return patient


def imaging_study(ds: Dataset, study_uid: str, series: list[Json], zone: ZoneInfo) -> Json:
    """ImagingStudy from the study attributes and the series read so far."""
    study: Json = {
        "resourceType": "ImagingStudy",
        "id": derived_id("ImagingStudy", study_uid),
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "status": "available",
    }
    accession = str(ds.get("AccessionNumber") or "").strip()
    if accession:
        study["identifier"].append({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                 "code": "ACSN"}]},
            "value": accession,
        })  # fmt: skip
    started = _date_time(ds, "StudyDate", "StudyTime", zone)
    if started:
        study["started"] = started
    modalities = list(dict.fromkeys(s["modality"]["code"] for s in series))
    study["modality"] = [{"system": DCM, "code": code} for code in modalities]
    description = str(ds.get("StudyDescription") or "").strip()
    if description:
        study["description"] = description
    study["numberOfSeries"] = len(series)
    study["numberOfInstances"] = sum(s["numberOfInstances"] for s in series)
    study["series"] = sorted(series, key=lambda s: (s.get("number", 0), s["uid"]))
    return study


def series_of(ds: Dataset, series_uid: str, zone: ZoneInfo) -> Json:
    """The series element of ImagingStudy for the series of ``ds`` (instances added later)."""
    series: Json = {"uid": series_uid}
    number = _integer(ds.get("SeriesNumber"))
    if number is not None:
        series["number"] = number
    series["modality"] = {"system": DCM, "code": str(ds.get("Modality") or "OT").strip() or "OT"}
    description = str(ds.get("SeriesDescription") or "").strip()
    if description:
        series["description"] = description
    body_part = str(ds.get("BodyPartExamined") or "").strip().upper()
    if body_part:
        known = BODY_PARTS.get(body_part.replace(" ", ""))
        series["bodySite"] = (
            {"system": SNOMED, "code": known[0], "display": known[1]}
            if known
            else {"display": body_part}
        )
    started = _date_time(ds, "SeriesDate", "SeriesTime", zone)
    if started:
        series["started"] = started
    return series


def instance_of(ds: Dataset, instance_uid: str) -> Json:
    """The series.instance element of one SOP instance."""
    instance: Json = {
        "uid": instance_uid,
        "sopClass": {"system": "urn:ietf:rfc:3986",
                     "code": f"urn:oid:{str(ds.get('SOPClassUID') or '').strip()}"},
    }  # fmt: skip
    number = _integer(ds.get("InstanceNumber"))
    if number is not None:
        instance["number"] = number
    return instance


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date(text: str) -> str | None:
    """A DICOM DA (YYYYMMDD) as a FHIR date; anything else is ignored."""
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _date_time(ds: Dataset, date_keyword: str, time_keyword: str, zone: ZoneInfo) -> str | None:
    """A DA + TM pair as a FHIR dateTime, in TimezoneOffsetFromUTC or ``zone``."""
    date = _date(str(ds.get(date_keyword) or ""))
    if date is None:
        return None
    digits = str(ds.get(time_keyword) or "").strip().split(".")[0].replace(":", "")
    if len(digits) < 2 or not digits.isdigit():
        return date
    digits = (digits + "0000")[:6]
    stamp = f"{date}T{digits[:2]}:{digits[2:4]}:{digits[4:6]}"
    offset = str(ds.get("TimezoneOffsetFromUTC") or "").strip()
    if len(offset) == 5 and offset[0] in "+-" and offset[1:].isdigit():
        return f"{stamp}{offset[:3]}:{offset[3:]}"
    local = datetime.fromisoformat(stamp).replace(tzinfo=zone)
    return local.isoformat(timespec="seconds")
