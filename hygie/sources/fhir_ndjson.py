"""FHIR NDJSON (bulk-export layout, optionally gzipped): one resource per line.

Lines are read in blocks of a few MiB (:class:`LineBlock`): splitting, numbering and hashing a
block are done by C code over the whole block, not line by line in Python. A line that is
exactly one valid resource is stored byte for byte; any other line (a Bundle, references to
rewrite, a structural problem, bytes that are not JSON) goes through :func:`interpret_json`
(which lines are plain is decided for a whole block by :mod:`hygie.warehouse.plain_lines`).
"""

from __future__ import annotations

import gzip
import itertools
import operator
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from hygie.sources.base import Interpretation, RawItem, ReadFailure, ReferenceLookup
from hygie.sources.fhir import interpret_json, open_binary

BLOCK_BYTES = 4 * 1024 * 1024
"""Bytes read at a time; a block ends at the last newline it holds."""


@dataclass(slots=True)
class LineBlock:
    """Consecutive non-blank lines of one NDJSON file, without their line ends."""

    source: str
    format: str
    lines: list[bytes]
    line_nos: list[int]
    byte_offsets: list[int]
    """Offset of each line's first byte in the (decompressed) file."""

    def split(self, count: int) -> tuple[LineBlock, LineBlock | None]:
        """The first ``count`` lines, and the rest (None when nothing is left)."""
        if count >= len(self.lines):
            return self, None
        head = LineBlock(
            self.source, self.format, self.lines[:count], self.line_nos[:count],
            self.byte_offsets[:count],
        )  # fmt: skip
        rest = LineBlock(
            self.source, self.format, self.lines[count:], self.line_nos[count:],
            self.byte_offsets[count:],
        )  # fmt: skip
        return head, rest

    def items(self) -> Iterator[RawItem]:
        """The lines as raw items, one by one."""
        for content, line_no, offset in zip(
            self.lines, self.line_nos, self.byte_offsets, strict=True
        ):
            yield RawItem(self.source, line_no, offset, self.format, content)


class FhirNdjsonSource:
    """Newline-delimited FHIR resources, one per line (``.ndjson``, ``.ndjson.gz``)."""

    name = "fhir-ndjson"

    def sniff(self, path: Path, head: bytes) -> bool:
        name = path.name.lower()
        if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            return True
        first, sep, rest = head.lstrip().partition(b"\n")
        if not sep or not first.startswith(b"{") or not rest.lstrip().startswith(b"{"):
            return False
        try:
            return isinstance(orjson.loads(first), dict)
        except orjson.JSONDecodeError:
            return False

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        for block in self.read_blocks(path):
            if isinstance(block, ReadFailure):
                yield block
            else:
                yield from block.items()

    def read_blocks(self, path: Path) -> Iterator[LineBlock | ReadFailure]:
        """The file's lines in blocks, then a failure if the file is empty or cut off."""
        source = str(path)
        line_no = 0
        offset = 0
        produced = False
        parts: list[bytes] = []
        size = 0

        def cut(data: bytes, final: bool) -> Iterator[LineBlock]:
            nonlocal line_no, offset, produced, parts, size
            end = len(data) if final else data.rfind(b"\n") + 1
            parts, size = ([data[end:]], len(data) - end) if end < len(data) else ([], 0)
            if end:
                block, count = self._block(source, data if end == len(data) else data[:end],
                                           line_no, offset)  # fmt: skip
                line_no += count
                offset += end
                if block.lines:
                    produced = True
                    yield block

        try:
            with open_binary(path) as handle:
                # read1: what one step gave (a gzip step, or the buffer), so that a cut-off
                # stream loses at most that step; steps are gathered into blocks.
                read = getattr(handle, "read1", handle.read)
                while chunk := read(BLOCK_BYTES):
                    parts.append(chunk)
                    size += len(chunk)
                    if size >= BLOCK_BYTES:
                        yield from cut(b"".join(parts), final=False)
                yield from cut(b"".join(parts), final=True)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield from cut(b"".join(parts), final=False)
            yield ReadFailure(
                source,
                line_no + 1,
                offset,
                "truncated-gzip",
                f"compressed stream is cut off or corrupt after line {line_no} "
                f"(decompressed byte {offset}): {exc}",
            )
            return
        except OSError as exc:
            yield ReadFailure(source, None, None, "unreadable-file", f"cannot read: {exc}")
            return
        if not produced:
            yield ReadFailure(source, None, 0, "empty-file", "the file holds no FHIR resource")

    def _block(self, source: str, data: bytes, line_no: int, offset: int) -> tuple[LineBlock, int]:
        """The block of ``data``'s non-blank lines, and how many lines ``data`` holds."""
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        count = len(lines)
        # Each line starts after the previous one and its newline.
        starts = list(
            itertools.accumulate(
                map(operator.add, map(len, lines), itertools.repeat(1)), initial=offset
            )
        )
        starts.pop()
        numbers = list(range(line_no + 1, line_no + 1 + len(lines)))
        if lines and (b"\r" in data or min(map(len, lines)) < 8):
            # CR line ends or short lines (perhaps blank): the careful way, line by line.
            kept = [
                (line.rstrip(b"\r"), number, start)
                for line, number, start in zip(lines, numbers, starts, strict=True)
                if line.strip()
            ]
            lines = [k[0] for k in kept]
            numbers = [k[1] for k in kept]
            starts = [k[2] for k in kept]
        return LineBlock(source, self.name, lines, numbers, starts), count

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        return interpret_json(item, lookup)
