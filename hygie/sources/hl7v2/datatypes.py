"""HL7 v2 data types → FHIR data types (CX, XPN, XAD, XTN, CWE, DTM, XCN, HD, EI).

Follows the v2-to-FHIR IG data type maps
(https://build.fhir.org/ig/HL7/v2-to-fhir/datatype_maps.html). Mapping tables live in
``tables/*.csv``; this module only applies them.
"""

from __future__ import annotations

import csv
import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from hygie.sources.hl7v2.parser import Composite, Encoding, Segment

ID_NAMESPACE = uuid.UUID("0b6f1d8e-4f3c-5a7e-9d2b-6c1e8a4f7b30")
"""Namespace of the ids derived from HL7 v2 business keys."""
NAMESPACE_BYTES = ID_NAMESPACE.bytes
VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}
LOCAL_SYSTEM = "urn:hygie:hl7v2:"
"""Prefix of the systems of identifiers whose assigning authority has no universal id."""
V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"
OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
DTM = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?:\.(?P<frac>\d{1,4}))?(?P<tz>[+-]\d{4})?"
)
Json = dict[str, Any]
TABLE_CODE = re.compile(r"[A-Za-z0-9._/+-]{1,20}")
"""What a code of an HL7 table looks like (free text is not one)."""


class MappingError(ValueError):
    """A value that cannot be mapped, with a stable reason code and its position."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@cache
def table(name: str) -> list[dict[str, str]]:
    """Rows of ``tables/<name>.csv`` (lines starting with # are comments)."""
    text = resources.files("hygie.sources.hl7v2").joinpath(f"tables/{name}.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def lookup(name: str, key: str, value: str) -> dict[str, str]:
    """Map column ``key`` to column ``value`` of table ``name``."""
    return {row[key]: row[value] for row in table(name)}


@cache
def status_map(table_number: str) -> dict[str, str]:
    """v2 code → FHIR status for one HL7 table of ``statuses.csv``."""
    return {
        row["v2_code"]: row["fhir_code"]
        for row in table("statuses")
        if row["table"] == table_number
    }


def derived_id(resource_type: str, *key: str) -> str:
    """A deterministic id from business keys: the same keys always give the same id.

    It is ``uuid.uuid5(ID_NAMESPACE, "\\x1f".join((resource_type, *key)))`` (RFC 4122 name-based,
    SHA-1), written out directly: it is called for every resource made.
    """
    name = "\x1f".join((resource_type, *key)).encode("utf-8")
    h = hashlib.sha1(NAMESPACE_BYTES + name).hexdigest()
    # Version 5 in the 13th hex digit, the RFC 4122 variant (10xx) in the 17th.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


@cache
def system_for(coding_system: str) -> str | None:
    """The FHIR URI of a v2 coding system name (table 0396), or None when unknown."""
    if not coding_system:
        return None
    known = lookup("coding_systems", "v2_name", "uri").get(coding_system.upper())
    if known is not None:
        return known
    if re.fullmatch(r"HL7\d{4}", coding_system, re.IGNORECASE):
        return V2_TABLE + coding_system[3:]
    if OID.fullmatch(coding_system):
        return "urn:oid:" + coding_system
    return None


# -- dates ------------------------------------------------------------------------------------


def parse_dtm(text: str, where: str, zone: ZoneInfo) -> str | None:
    """An HL7 DTM/TS/DT as a FHIR dateTime ('' → None).

    Times without an offset are read in ``zone`` (the sending facility's time zone): FHIR
    requires an offset on every dateTime that has a time.

    >>> parse_dtm("202401151030+0100", "OBX-14", ZoneInfo("UTC"))
    '2024-01-15T10:30:00+01:00'
    """
    text = text.strip()
    if not text:
        return None
    match = DTM.fullmatch(text)
    if match is None:
        raise MappingError("invalid-date", f"{where}: {text!r} is not an HL7 date/time")
    y, mo, d, h, mi, s, fraction, tz = match.groups()
    try:
        probe = datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError as exc:
        raise MappingError(
            "invalid-date", f"{where}: {text!r} is not a valid date ({exc})"
        ) from None
    if h is None:
        return y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "")
    frac = "." + fraction if fraction else ""
    if tz is not None:
        hours, minutes = int(tz[1:3]), int(tz[3:5])
        if hours > 14 or minutes > 59:
            raise MappingError("invalid-date", f"{where}: {text!r} has an invalid offset {tz}")
        # Written out (the date is valid: probe was made): most stamps carry their offset.
        sign = "+" if tz[0] == "+" or tz[1:] == "0000" else "-"
        return f"{y}-{mo}-{d}T{h}:{mi or '00'}:{s or '00'}{frac}{sign}{tz[1:3]}:{tz[3:5]}"
    stamp = probe.replace(tzinfo=zone).isoformat(timespec="seconds")
    return stamp[:19] + frac + stamp[19:]


def parse_date(text: str, where: str) -> str | None:
    """An HL7 date (or the date part of a DTM) as a FHIR date."""
    text = text.strip()
    if not text:
        return None
    stamp = parse_dtm(text[:8], where, ZoneInfo("UTC"))
    return stamp


# -- identifiers, names, addresses, contacts ---------------------------------------------------


def hd_system(namespace: str, universal_id: str, universal_type: str) -> str | None:
    """The system URI of an assigning authority (HD): its OID, else its local namespace."""
    if universal_id:
        if universal_type.upper() == "ISO" or OID.fullmatch(universal_id):
            return "urn:oid:" + universal_id
        if universal_type.upper() in ("UUID", "GUID"):
            return "urn:uuid:" + universal_id.lower()
        if universal_id.startswith(("http://", "https://", "urn:")):
            return universal_id
    if namespace:
        return LOCAL_SYSTEM + re.sub(r"[^A-Za-z0-9._-]", "-", namespace)
    if universal_id:
        return LOCAL_SYSTEM + re.sub(r"[^A-Za-z0-9._-]", "-", universal_id)
    return None


def cx_identifier(cx: Composite) -> Json | None:
    """CX → Identifier (value, system from the assigning authority CX.4, type from CX.5)."""
    value = cx.comp(1)
    if not value:
        return None
    authority = cx.subs(4)
    namespace, universal, kind = ([*authority, "", "", ""])[:3]
    identifier: Json = {"value": value}
    system = hd_system(namespace, universal, kind)
    if system is not None:
        identifier["system"] = system
    type_code = cx.comp(5)
    known = lookup("identifier_authorities", "oid", "type_code").get(universal)
    if known is not None:
        identifier["type"] = {
            "coding": [
                {
                    "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                    "code": known,
                    "display": lookup("identifier_authorities", "oid", "type_display")[universal],
                }
            ]
        }
    elif type_code:
        identifier["type"] = {"coding": [{"system": V2_TABLE + "0203", "code": type_code}]}
    return identifier


def ei_identifier(ei: Composite) -> Json | None:
    """EI (entity identifier: id^namespace^universal id^type) → Identifier."""
    value = ei.comp(1)
    if not value:
        return None
    identifier: Json = {"value": value}
    system = hd_system(ei.comp(2), ei.comp(3), ei.comp(4))
    if system is not None:
        identifier["system"] = system
    return identifier


NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous",
            "S": "anonymous", "B": "official", "C": "old", "I": "official", "P": "usual",
            "R": "official", "U": "usual"}  # fmt: skip
"""XPN.7 name type (table 0200) → HumanName.use (v2-to-FHIR ConceptMap table-hl70200)."""


def xpn_name(xpn: Composite) -> Json | None:
    """XPN → HumanName."""
    name: Json = {}
    family = xpn.sub(1, 1)
    if family:
        name["family"] = family
    given = [g for g in (xpn.comp(2), xpn.comp(3)) if g]
    if given:
        name["given"] = given
    if xpn.comp(4):
        name["suffix"] = [xpn.comp(4)]
    if xpn.comp(5):
        name["prefix"] = [xpn.comp(5)]
    if not name:
        return None
    use = NAME_USE.get(xpn.comp(7))
    if use:
        name["use"] = use
    return name


ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "M": "home", "BA": "old",
               "P": "home", "L": "home"}  # fmt: skip


def xad_address(xad: Composite) -> Json | None:
    """XAD → Address (birth place addresses, type BDL/BR, are returned with use 'birth')."""
    address: Json = {}
    lines = [line.strip() for line in (xad.sub(1, 1), xad.sub(2, 1)) if line.strip()]
    if lines:
        address["line"] = lines
    for key, comp in (("city", 3), ("state", 4), ("postalCode", 5), ("country", 6)):
        value = xad.sub(comp, 1).strip()
        if value:
            address[key] = value
    # XAD.9 county is a CWE: its code, else its text (subcomponents of the component).
    district = next((part.strip() for part in xad.subs(9)[:2] if part.strip()), "")
    if district:
        address["district"] = district
    kind = xad.comp(7)
    if kind in ("BDL", "BR", "N"):
        return {"_birth": True, **address} if address else None
    if not address:
        return None
    use = ADDRESS_USE.get(kind)
    if use:
        address["use"] = use
    return address


TELECOM_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "temp", "EMR": "home",
               "NET": "home", "BPN": "work"}  # fmt: skip


def xtn_contact(xtn: Composite, default_use: str | None = None) -> Json | None:
    """XTN → ContactPoint (email from XTN.4, phone from XTN.12 or XTN.1).

    ``default_use`` applies when XTN.2 says nothing: PID-13 is the home number, PID-14 the
    business one (v2-to-FHIR PID → Patient map).
    """
    equipment = xtn.comp(3)
    if xtn.comp(2) == "NET" or equipment in ("Internet", "X.400"):
        value = xtn.comp(4) or xtn.comp(1)
        system = "email"
    else:
        value = xtn.comp(12) or xtn.comp(1)
        if not value and xtn.comp(7):
            value = "".join(p for p in (xtn.comp(5), xtn.comp(6), xtn.comp(7)) if p)
        system = "fax" if equipment == "FX" else "phone"
    if not value:
        return None
    contact: Json = {"system": system, "value": value}
    use = "mobile" if equipment == "CP" else TELECOM_USE.get(xtn.comp(2), default_use)
    if use:
        contact["use"] = use
    return contact


# -- codes -------------------------------------------------------------------------------------


T = TypeVar("T")
F = TypeVar("F")
SHARED_LIMIT = 10_000
"""Entries each table of :func:`mapped_once` holds before it starts again."""


def mapped_once(
    table: dict[tuple[str, str], T],
    text: str,
    encoding: Encoding,
    make: Callable[[F], T],
    field: F,
) -> T:
    """``make(field)``, made once per field text (as sent, ``text``) and delimiters, then
    shared: a feed sends the same few hundred test codes and flags over and over. What is shared
    is never changed after it is made."""
    key = (text, encoding.component + encoding.repetition + encoding.escape
           + encoding.subcomponent)  # fmt: skip
    try:
        return table[key]
    except KeyError:
        pass
    made = make(field)
    if len(table) >= SHARED_LIMIT:
        table.clear()
    table[key] = made
    return made


CONCEPTS: dict[tuple[str, str], Json | None] = {}
"""CWE text as sent → its CodeableConcept (see :func:`mapped_once`)."""


def cwe_concept(cwe: Composite) -> Json | None:
    """CWE/CE → CodeableConcept (primary and alternate codings, original text)."""
    return mapped_once(CONCEPTS, cwe.text, cwe.encoding, _cwe_concept, cwe)


def _cwe_concept(cwe: Composite) -> Json | None:
    values = cwe.values()
    count = len(values)
    if count < 9:
        values = values + [""] * (9 - count)
    codings = []
    for code_at, display_at, system_at in ((0, 1, 2), (3, 4, 5)):
        code = values[code_at]
        if not code:
            continue
        coding: Json = {}
        system = system_for(values[system_at])
        if system is not None:
            coding["system"] = system
        coding["code"] = code
        if values[display_at]:
            coding["display"] = values[display_at]
        codings.append(coding)
    text = values[8] or (values[1] if not codings else "")
    if not codings and not text:
        return None
    concept: Json = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept


def table_concept(code: str, table_number: str, display: str = "") -> Json | None:
    """A code of an HL7 table as a CodeableConcept in the v2 table's code system."""
    if not code:
        return None
    if not TABLE_CODE.fullmatch(code):
        # Free text sent where a table code belongs is kept as text, not as a made-up code.
        return {"text": code}
    coding: Json = {"system": V2_TABLE + table_number, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def xcn_display(xcn: Composite) -> str:
    """A person named in an XCN (id^family^given^...), as display text."""
    parts = [xcn.comp(6), xcn.comp(3), xcn.comp(4), xcn.sub(2, 1)]
    shown = " ".join(p for p in parts if p)
    return shown or xcn.comp(1)


def xcn_reference(xcn: Composite) -> Json | None:
    """A display-only Reference to the person of an XCN (no Practitioner is produced)."""
    display = xcn_display(xcn)
    if not display:
        return None
    reference: Json = {"display": display}
    if xcn.comp(1):
        identifier: Json = {"value": xcn.comp(1)}
        system = hd_system(*(([*xcn.subs(9), "", "", ""])[:3]))
        if system is not None:
            identifier["system"] = system
        reference["identifier"] = identifier
    return reference


def location_display(pl: Composite) -> str:
    """A PL (point of care^room^bed^facility^...^building^floor) as display text."""
    parts = [pl.sub(1, 1), pl.sub(2, 1), pl.sub(3, 1), pl.sub(4, 1)]
    return " ".join(p for p in parts if p)


Where = str | Callable[[], str]
"""A position for error messages, or a function giving it (built only when an error is raised)."""


def _at(where: Where) -> str:
    return where if isinstance(where, str) else where()


def quantity(value: str, unit: Composite | None, where: Where) -> Json:
    """A number and an OBX-6 unit → Quantity, the unit coded in UCUM when known."""
    number = numeric(value, where)
    result: Json = {"value": number}
    if unit is None:
        return result
    units = unit.values()
    raw_unit = (units[0] if units else "") or (units[1] if len(units) > 1 else "")
    if not raw_unit:
        return result
    result["unit"] = raw_unit
    ucum = ucum_units().get(raw_unit)
    if ucum is None and len(units) > 2 and units[2].upper() == "UCUM":
        ucum = raw_unit
    if ucum is not None:
        result["system"] = "http://unitsofmeasure.org"
        result["code"] = ucum
    return result


@cache
def ucum_units() -> dict[str, str]:
    """OBX-6 unit as sent → its UCUM code (``tables/ucum_units.csv``)."""
    return lookup("ucum_units", "v2_unit", "ucum")


def numeric(value: str, where: Where) -> int | float:
    """A v2 NM as a JSON number (integers stay integers)."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        if INTEGER.fullmatch(text):
            return int(text)
        if DECIMAL.fullmatch(text) is None:
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise MappingError("invalid-number", f"{_at(where)}: {value!r} is not a number") from None


INTEGER = re.compile(r"[+-]?\d+")
DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def segment_reference(segment: Segment) -> str:
    """Where a segment is, for messages: ``OBX (segment 12)``."""
    return f"{segment.name} (segment {segment.index})"
