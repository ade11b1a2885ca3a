"""The MLLP listener's journal: messages made durable before they are acknowledged.

An MLLP sender waits for the ACK of each message before sending the next; storing each message
in the warehouse before answering would cost a whole ingestion run per message. The listener
instead appends the messages received together to a journal segment and syncs it to disk once
(``fsync``), then acknowledges them; a background task ingests the closed segments in larger
runs and deletes each segment once the run holding its messages has committed.

Segments live in ``<warehouse>/landing/mllp/``. A listener that starts finds the segments a
previous one left (it was killed, or the machine stopped) and ingests them before it accepts any
connection; the raw zone's keys make a segment ingested twice harmless. Each record is
``magic, source length, content length, crc32`` then the source (``mllp:APP^FAC:CONTROL``) and the
message bytes: a record cut by a crash fails its length or checksum, and since it was never
synced it was never acknowledged either.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from hygie.sources.base import RawItem

JOURNAL_DIRECTORY = Path("landing") / "mllp"
RECORD = struct.Struct("<4sIII")
MAGIC = b"HL7J"
log = logging.getLogger("hygie.mllp")


@dataclass
class Segment:
    """One journal file and the messages appended to it."""

    path: Path
    items: list[RawItem] = field(default_factory=list)


class Journal:
    """Append-only segments of received messages (one writer: the listener)."""

    def __init__(self, warehouse_path: Path) -> None:
        self.directory = warehouse_path / JOURNAL_DIRECTORY
        self.directory.mkdir(parents=True, exist_ok=True)
        self.number = max((_number(p) for p in self.segment_paths()), default=0)
        self.current: Segment | None = None
        self.handle: BinaryIO | None = None
        self.lock = threading.Lock()
        """Appends run on worker threads, rotations on the listener's loop: one at a time."""

    def segment_paths(self) -> list[Path]:
        """The segments on disk, oldest first."""
        return sorted(self.directory.glob("*.journal"), key=_number)

    def append(self, items: list[RawItem]) -> None:
        """Write ``items`` to the current segment and sync it: once this returns, they survive
        a crash."""
        with self.lock:
            self._append(items)

    def _append(self, items: list[RawItem]) -> None:
        if self.current is None or self.handle is None:
            self.number += 1
            self.current = Segment(self.directory / f"{self.number:08d}.journal")
            self.handle = self.current.path.open("ab")
            _sync_directory(self.directory)  # the new file's name is durable too
        for item in items:
            source = item.source.encode()
            header = RECORD.pack(
                MAGIC, len(source), len(item.content), zlib.crc32(source + item.content)
            )
            self.handle.write(header + source + item.content)
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.current.items.extend(items)

    def rotate(self) -> Segment | None:
        """Close the current segment (new messages go to a new one) and return it."""
        with self.lock:
            closed, self.current = self.current, None
            if self.handle is not None:
                self.handle.close()
                self.handle = None
        return closed if closed is not None and closed.items else None

    def close(self) -> None:
        self.rotate()


def read_segment(path: Path) -> list[RawItem]:
    """The complete records of a segment; a cut or damaged tail is reported and left out."""
    data = path.read_bytes()
    items: list[RawItem] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < RECORD.size:
            break
        magic, source_size, content_size, checksum = RECORD.unpack_from(data, offset)
        start = offset + RECORD.size
        end = start + source_size + content_size
        if magic != MAGIC or end > len(data):
            break
        source = data[start : start + source_size]
        content = data[start + source_size : end]
        if zlib.crc32(source + content) != checksum:
            break
        items.append(RawItem(source.decode(), None, None, "hl7v2", content))
        offset = end
    if offset < len(data):
        log.warning(
            "%s: %d byte(s) after record %d are cut or damaged (a crash while writing): "
            "left out; that message was never acknowledged",
            path,
            len(data) - offset,
            len(items),
        )
    return items


def _number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


def _sync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
