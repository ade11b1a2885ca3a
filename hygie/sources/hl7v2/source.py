"""HL7 v2 files as an input format: one item per message, found by content.

A file may hold one message, several messages one after another, a batch (FHS/BHS ... BTS/FTS),
or messages with their MLLP framing still on; segments may end with CR, LF or CRLF. Each message
is recorded in the raw zone exactly as it is in the file (from its MSH to the end of its last
segment) and mapped to FHIR by :func:`hygie.sources.hl7v2.messages.map_message`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from hygie.sources.base import (
    Interpretation,
    RawItem,
    ReadFailure,
    ReferenceLookup,
    Rejection,
    package_mapped,
)
from hygie.sources.hl7v2.datatypes import MappingError
from hygie.sources.hl7v2.messages import map_message
from hygie.sources.hl7v2.parser import HEADER_SEGMENTS, MessageError, parse_message

FRAMING = b"\x0b\x1c\xef\xbb\xbf"
LEADING_FRAMING = (b"\x0b", b"\x1c", b"\xef")
BATCH_HEADERS = (b"FHS", b"BHS", b"BTS", b"FTS")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""A single message larger than this is refused (embedded documents included)."""
DEFAULT_ZONE = "Europe/Paris"


def looks_like_hl7v2(head: bytes) -> bool:
    """True when ``head`` starts (after BOM, MLLP start byte, blanks) with MSH, FHS or BHS."""
    start = head.lstrip(FRAMING + b" \r\n\t")
    return (
        len(start) > 8
        and start[:3] in HEADER_SEGMENTS
        and not start[3:4].isalnum()
        and not start[3:4].isspace()
    )


class Hl7v2Source:
    """HL7 v2 messages (ER7 text): files of messages or batches, with or without MLLP framing."""

    name = "hl7v2"

    def __init__(self, timezone: str = DEFAULT_ZONE) -> None:
        self.zone = ZoneInfo(timezone)
        """Time zone of times sent without an offset (the sending facility's)."""

    def sniff(self, path: Path, head: bytes) -> bool:
        return looks_like_hl7v2(head)

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        source = str(path)
        try:
            with path.open("rb") as handle:
                yield from read_messages(handle, source, self.name)
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        return interpret_message(item.content, lookup, self.zone)


def interpret_message(content: bytes, lookup: ReferenceLookup, zone: ZoneInfo) -> Interpretation:
    """Parse and map one message; every problem becomes a rejection saying where it is."""
    try:
        message = parse_message(content)
        resources = map_message(message, lookup, zone)
    except (MessageError, MappingError) as exc:
        return Interpretation(rejections=[Rejection(exc.reason, str(exc))])
    return package_mapped(resources, f"message {message.control_id}: ")


def read_messages(
    handle: BinaryIO, source: str, format_name: str
) -> Iterator[RawItem | ReadFailure]:
    """Split a binary stream into messages, keeping each message's bytes as they are."""
    current = bytearray()
    start_line = 0
    start_offset = 0
    produced = False
    line_no = 0
    for offset, line in _lines(handle):
        line_no += 1
        body = line.lstrip(FRAMING) if line[:1] in LEADING_FRAMING else line
        name = body[:3]
        if name in BATCH_HEADERS:
            if current.strip(FRAMING + b"\r\n "):
                yield _item(current, source, start_line, start_offset, format_name)
                produced = True
            current = bytearray()
            continue
        if name == b"MSH" and current:  # current starts at a non-blank line
            yield _item(current, source, start_line, start_offset, format_name)
            produced = True
            current = bytearray()
        if not current:
            if not line.strip(FRAMING + b"\r\n "):
                continue
            start_line, start_offset = line_no, offset + (len(line) - len(body))
            line = body
        current += line
        if len(current) > MAX_MESSAGE_BYTES:
            yield ReadFailure(
                source, start_line, start_offset, "message-too-large",
                f"a message over {MAX_MESSAGE_BYTES // 2**20} MiB starting at line {start_line}",
            )  # fmt: skip
            return
    if current.strip(FRAMING + b"\r\n "):
        yield _item(current, source, start_line, start_offset, format_name)
        produced = True
    if not produced:
        yield ReadFailure(source, None, 0, "empty-file", "the file holds no HL7 v2 message")


def _item(content: bytearray, source: str, line_no: int, offset: int, format_name: str) -> RawItem:
    body = bytes(content).rstrip(b"\r\n \x1c")
    return RawItem(source, line_no, offset, format_name, body)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line with its end) for CR, LF and CRLF ends, read in 1 MiB blocks."""
    pending = b""
    offset = 0
    while True:
        chunk = handle.read(1 << 20)
        if not chunk:
            break
        lines = (pending + chunk).splitlines(keepends=True)
        last = lines[-1]
        # A last line without its end, or ending in CR (maybe the first half of CRLF), waits.
        pending = b"" if last.endswith(b"\n") else lines.pop()
        for line in lines:
            yield offset, line
            offset += len(line)
    if pending:
        yield offset, pending
