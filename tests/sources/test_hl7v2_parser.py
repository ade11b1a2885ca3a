"""The HL7 v2 parser: delimiters as declared, escapes, segment separators, batches, charsets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hygie.sources.hl7v2.datatypes import cwe_concept, parse_dtm
from hygie.sources.hl7v2.mllp import escape_text, message_key
from hygie.sources.hl7v2.parser import Composite, Encoding, MessageError, parse_message, unescape

HEADER = "MSH|^~\\&|LAB|HOSP|DPI|HOSP|20240115103000+0100||ORU^R01|C1|P|2.5"


def test_fields_components_repetitions_and_subcomponents_follow_the_standard_numbering() -> None:
    message = parse_message(HEADER + "\rPID|1||123^^^HOSP&1.2.3&ISO^PI~456^^^INS^NH||DOE^JOHN")
    pid = message.segments[1]
    assert message.type == "ORU^R01" and message.control_id == "C1" and message.version == "2.5"
    assert message.header.raw(1) == "|" and message.header.raw(2) == "^~\\&"
    assert [rep.comp(1) for rep in pid.repetitions(3)] == ["123", "456"]
    assert pid.field(3).sub(4, 2) == "1.2.3"
    assert pid.value(5, 2) == "JOHN"
    assert pid.value(99) == ""


@pytest.mark.parametrize("separator", ["\r", "\n", "\r\n"])
def test_cr_lf_and_crlf_all_separate_segments(separator: str) -> None:
    message = parse_message(separator.join([HEADER, "PID|1||7", "OBX|1|NM|x^y^LN||5"]) + separator)
    assert [s.name for s in message.segments] == ["MSH", "PID", "OBX"]


def test_declared_encoding_characters_are_used_instead_of_the_usual_ones() -> None:
    message = parse_message(
        "MSH*:!$%*LAB*HOSP*DPI*HOSP*2024**ORU:R01*C2*P*2.5\rPID*1**9:::H%1.2%ISO!8"
    )
    assert message.type == "ORU^R01"
    pid = message.segments[1]
    assert [rep.comp(1) for rep in pid.repetitions(3)] == ["9", "8"]
    assert pid.field(3).sub(4, 2) == "1.2"


def test_escape_sequences_are_decoded() -> None:
    message = parse_message(
        HEADER + "\rNTE|1||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\ f \\X4142\\\\.br\\"
    )
    assert message.segments[1].value(3) == "a | b ^ c & d ~ e \\ f AB\n"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")))
def test_escaping_then_unescaping_gives_back_the_text(text: str) -> None:
    assert unescape(escape_text(text, Encoding()), Encoding()) == text


def test_msh18_latin1_is_decoded_and_utf8_by_default() -> None:
    latin = (HEADER + "||||||8859/1\rPID|1||1||Hélène").encode("latin-1")
    assert parse_message(latin).segments[1].value(5) == "Hélène"
    utf8 = (HEADER + "||||||UNICODE UTF-8\rPID|1||1||Hélène").encode("utf-8")
    assert parse_message(utf8).segments[1].value(5) == "Hélène"
    with pytest.raises(MessageError) as bad:
        parse_message((HEADER + "\rPID|1||1||Hélène").encode("latin-1"))
    assert bad.value.reason == "invalid-encoding" and "segment 2" in str(bad.value)


def test_mllp_framing_and_byte_order_mark_are_tolerated() -> None:
    message = parse_message(b"\x0b\xef\xbb\xbf" + HEADER.encode() + b"\rPID|1\r\x1c\r")
    assert [s.name for s in message.segments] == ["MSH", "PID"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PID|1||7", "missing-header"),
        ("MSH|^~\\&|LAB|HOSP", "truncated-message"),
        ("MSHa^~\\&|LAB", "invalid-separators"),
        (HEADER + "\rPID*1**7", "invalid-segment"),
        (HEADER + "\rthis is not a segment", "invalid-segment"),
        (HEADER.replace("P|2.5", "P|2.5||||||KOI8") + "\rPID|1", "unsupported-charset"),
    ],
)
def test_broken_messages_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(MessageError) as refused:
        parse_message(text.encode())
    assert refused.value.reason == reason


def test_lines_split_on_cr_lf_and_crlf_even_across_read_blocks() -> None:
    import io

    from hygie.sources.hl7v2.source import _lines

    for shift in range(-2, 3):
        pad = b"A" * ((1 << 20) - 1 + shift)  # a CRLF around the 1 MiB block boundary
        data = pad + b"\r\nMSH|x\r\nB\rC\nD"
        lines = list(_lines(io.BytesIO(data)))
        assert [line for _offset, line in lines] == [
            pad + b"\r\n",
            b"MSH|x\r\n",
            b"B\r",
            b"C\n",
            b"D",
        ]
        assert all(data[offset : offset + len(line)] == line for offset, line in lines)


@given(st.text(max_size=40), st.lists(st.text(max_size=20), max_size=4))
def test_derived_ids_are_the_rfc4122_name_based_uuid5_of_the_keys(
    resource_type: str, keys: list[str]
) -> None:
    import uuid

    from hygie.sources.hl7v2.datatypes import ID_NAMESPACE, derived_id

    expected = uuid.uuid5(ID_NAMESPACE, "\x1f".join((resource_type, *keys)))
    assert derived_id(resource_type, *keys) == str(expected)


@settings(max_examples=300, deadline=None)
@given(
    stamp=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31)),
    digits=st.sampled_from([10, 12, 14]),
    fraction=st.sampled_from(["", ".1", ".1234"]),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_dtm_with_an_offset_reads_as_the_datetime_library_writes_it(
    stamp: datetime, digits: int, fraction: str, offset_minutes: int
) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = stamp.strftime("%Y%m%d%H%M%S")[:digits] + (fraction if digits == 14 else "")
    text += f"{sign}{hours:02d}{minutes:02d}"
    cut = stamp.replace(
        minute=stamp.minute if digits >= 12 else 0,
        second=stamp.second if digits == 14 else 0,
        microsecond=0,
    )
    expected = cut.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat(
        timespec="seconds"
    )
    if fraction and digits == 14:
        expected = expected[:19] + fraction + expected[19:]
    assert parse_dtm(text, "OBX-14", ZoneInfo("Europe/Paris")) == expected


def test_a_coded_value_is_mapped_once_per_text_and_delimiters() -> None:
    usual = Encoding()
    other = Encoding("|", "#", "~", "\\", "&")  # "^" is not a delimiter here
    first = cwe_concept(Composite("11156-7^LEUKOCYTES^LN", usual))
    again = cwe_concept(Composite("11156-7^LEUKOCYTES^LN", usual))
    assert first == {
        "coding": [{"system": "http://loinc.org", "code": "11156-7", "display": "LEUKOCYTES"}]
    }
    assert again is first  # mapped once, shared
    assert cwe_concept(Composite("11156-7^LEUKOCYTES^LN", other)) == {
        "coding": [{"code": "11156-7^LEUKOCYTES^LN"}]
    }


def test_the_key_of_an_mllp_message_comes_from_its_msh_alone() -> None:
    msh = b"MSH|^~\\&|LAB|CHU|HYGIE|CHU|20240101||ORU^R01|K7|P|2.5"
    assert message_key(b"\x0b" + msh + b"\rPID|1||7^^^H^PI\r") == "mllp:LAB^CHU:K7"
    assert message_key(b"\xef\xbb\xbf" + msh + b"\nPID|1\n") == "mllp:LAB^CHU:K7"
    # A body that cannot be read still leaves the message its key (its mapping says what is
    # wrong); an unreadable header leaves it none.
    assert message_key(msh + b"\rPID|1||\xff\xfe\r") == "mllp:LAB^CHU:K7"
    assert message_key(b"PID|1||7\r" + msh) == ""
    assert message_key(b"MSH|^~") == ""
