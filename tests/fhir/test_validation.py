"""The structural check on parsed resources, and its fast form on raw bytes, agree."""

from __future__ import annotations

import orjson
import pytest

from hygie.fhir.validation import PlainChecker, check_resource

LINES = [
    b'{"resourceType":"Patient","id":"p1"}',
    b'{"resourceType": "Patient", "id": "p-1.2", "name": [{"family": "Dupont"}]}',
    b'{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}',
    b'{"resourceType":"Observation","id":"o1","status":"final"}',  # code missing
    b'{"resourceType":"Observation","id":"o1","status":"final","code":null}',  # present, null
    b'{"resourceType":"Immunization","id":"i","status":"completed","vaccineCode":{},'
    b'"patient":{},"occurrenceString":"2020"}',  # one of a choice
    b'{"resourceType":"Immunization","id":"i","status":"completed","vaccineCode":{},'
    b'"patient":{}}',  # no occurrence[x]
    b'{"resourceType":"Encounter","id":"e","status":"finished","class":{}}',
    b'{"resourceType":"Bundle","id":"b","type":"collection"}',
    b'{"resourceType":"Patient","id":"a b"}',
    b'{"resourceType":"Patient","id":"' + b"x" * 65 + b'"}',
    b'{"resourceType":"Patient","id":5}',
    b'{"resourceType":"Patient","id":null}',
    b'{"resourceType":"Patient"}',
    b'{"resourceType":"Patent","id":"p"}',
    b'{"resourceType":7,"id":"p"}',
    b'{"id":"p"}',
    b"[1, 2]",
    b'"Patient"',
    b'{"resourceType":"Patient","id":"p1"',  # truncated
    b'{"resourceType":"Patient","id":"p1",}',  # trailing comma
    b'{"resourceType":"Patient","id":"p1"} {}',  # two values
    b'{"resourceType":"Patient","id":"p1","x":[1,}',  # malformed deeper down
    b'{"resourceType":"Patient","id":"p1","x":NaN}',
    b'{"resourceType":"Patient","id":"p1","x":"\\ud800"}',  # lone surrogate escape
    b'{"resourceType":"Patient","id":"p1","contained":[{"resourceType":"Bundle","id":"b"}]}',
    b'{"resourceType":"Patient","id":"p1","x":"a\x01b"}',  # control character in a string
    b'{"resourceType":"Patient","id":"p1","x":' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep
    b'{"resourceType":"Patient","id":"p1","x":01}',  # leading zero
]


def expected(line: bytes) -> tuple[str, str] | None:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or parsed.get("resourceType") == "Bundle":
        return None
    if check_resource(parsed) is not None:
        return None
    return parsed["resourceType"], parsed["id"]


@pytest.mark.parametrize("line", LINES)
def test_plain_checker_agrees_with_check_resource(line: bytes) -> None:
    assert PlainChecker().head(line) == expected(line)


def test_plain_checker_accepts_and_refuses_as_expected() -> None:
    # The list above holds both kinds: the agreement test is not vacuous.
    verdicts = [PlainChecker().head(line) for line in LINES]
    assert verdicts.count(None) == 22
    assert verdicts[0] == ("Patient", "p1")


def test_a_number_beyond_a_double_is_valid_json_on_the_fast_path() -> None:
    # The one documented difference with orjson (see PlainChecker): RFC 8259 allows 1e999.
    line = b'{"resourceType":"Patient","id":"p1","x":1e999}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(line)
    assert PlainChecker().head(line) == ("Patient", "p1")
