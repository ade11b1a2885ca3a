"""NDJSON lines stored as received: checked a block at a time, in a second process if large.

Most lines of a bulk export are one valid resource each ("plain"): :func:`check_block` tells
them apart with the same rules as every other path (:func:`hygie.fhir.validation.
check_resource`), hashes them and finds their literal references, in one tight loop per block.
The other lines (a Bundle, references to rewrite, anything invalid) are handed back as items for
the ordinary interpretation, which stores them or says why not.

For a large file the blocks are checked in a second process (:func:`checked_blocks`), so that
parsing runs on one core while the warehouse stores the previous blocks on the other: Python
runs one thread at a time, and parsing JSON is most of the work of an NDJSON ingestion.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from hygie.errors import WarehouseError
from hygie.fhir.validation import PlainChecker, check_resource
from hygie.sources.base import RawItem, ReadFailure
from hygie.sources.fhir_ndjson import FhirNdjsonSource, LineBlock
from hygie.warehouse.batch import (
    LITERAL_REFERENCE_JSON,
    binary_array,
    is_identity,
    reference_table,
)

FRAME_HEADER = struct.Struct("<QI")
"""Each message from the parsing process: the length of its pickle and how many buffers follow,
the pickle, then each buffer (its length, its bytes). The buffers (the Arrow columns) travel out
of band: copied once from the pipe into their place, never through the pickle stream."""
BUFFER_HEADER = struct.Struct("<Q")
RECEIVED_AHEAD = 2
"""Checked blocks held ready in memory (each at most a batch of lines)."""
PARSE_PROCESS_BYTES = 32 * 1024 * 1024
"""A run with at least this much NDJSON parses it in a second process (starting one: ~0.5 s)."""


@dataclass(frozen=True)
class CheckedBlock:
    """A block of NDJSON lines, its plain lines as Arrow columns, the others as items."""

    source: str
    format: str
    line_count: int
    byte_count: int
    plain: pa.Table
    """position, line_no, byte_offset, resource_type, id, sha256, content of each plain line."""
    references: pa.Table
    """resource_type, id, target_type, target_id of each literal reference of plain lines."""
    others: list[tuple[int, RawItem]]
    """(position in the block, item) of the lines to interpret one by one."""

    def without_types(self, types: set[str]) -> tuple[CheckedBlock, list[tuple[int, RawItem]]]:
        """This block without its plain lines of ``types``, and those lines as items."""
        plain = self.plain
        mask = pc.is_in(plain.column("resource_type"), value_set=pa.array(sorted(types)))
        moved = [
            (
                row["position"],
                RawItem(
                    self.source, row["line_no"], row["byte_offset"], self.format,
                    row["content"].encode(),
                ),
            )
            for row in plain.filter(mask).to_pylist()
        ]  # fmt: skip
        kept = plain.filter(pc.invert(mask))
        keys = set(
            zip(
                kept.column("resource_type").to_pylist(), kept.column("id").to_pylist(), strict=True
            )
        )
        references = self.references
        wanted = [
            pair in keys
            for pair in zip(
                references.column("resource_type").to_pylist(),
                references.column("id").to_pylist(),
                strict=True,
            )
        ]
        narrowed = CheckedBlock(
            self.source, self.format, self.line_count, self.byte_count, kept,
            references.filter(pa.array(wanted, pa.bool_())), self.others,
        )  # fmt: skip
        return narrowed, moved


def check_block(block: LineBlock) -> CheckedBlock:
    """Sort the lines of ``block`` into plain resources and items to interpret."""
    lines = block.lines
    content = binary_array(lines)
    try:
        # Every line valid UTF-8 (checked at once, in C): each line's JSON is then checked
        # without making Python objects of it.
        text = content.cast(pa.large_string())
        heads = map(_plain_checker().head, lines)
    except pa.ArrowInvalid:
        text = None
        heads = map(_plain_head, lines)
    positions: list[int] = []
    types: list[str] = []
    ids: list[str] = []
    digests: list[bytes] = []
    references: list[tuple[str, str, bytes, bytes]] = []
    others: list[tuple[int, RawItem]] = []
    find, sha256 = LITERAL_REFERENCE_JSON.findall, hashlib.sha256
    for position, (line, head) in enumerate(zip(lines, heads, strict=True)):
        if head is None or b"urn:uuid:" in line or b"?identifier=" in line:
            others.append(
                (
                    position,
                    RawItem(
                        block.source,
                        block.line_nos[position],
                        block.byte_offsets[position],
                        block.format,
                        line,
                    ),
                )
            )
            continue
        resource_type, resource_id = head
        positions.append(position)
        types.append(resource_type)
        ids.append(resource_id)
        digests.append(sha256(line).digest())
        for target_type, target_id in find(line):
            references.append((resource_type, resource_id, target_type, target_id))
    # Plain lines sorted by type and id, the order of the care files (a stable sort: lines
    # with the same bytes keep their order): the storing side then rarely has to reorder them.
    keys = pa.table(
        {"resource_type": pa.array(types, pa.string()), "id": pa.array(ids, pa.string())}
    )
    order = pc.sort_indices(keys, sort_keys=[("resource_type", "ascending"), ("id", "ascending")])
    taken = pa.array(positions, pa.int64()).take(order)
    if text is None:
        # Plain lines are valid JSON from orjson, so valid UTF-8: the cast cannot fail here.
        text = content.take(taken).cast(pa.large_string())
    elif not is_identity(taken, len(lines)):
        text = text.take(taken)
    plain = pa.table(
        {
            "position": taken,
            "line_no": pa.array(block.line_nos, pa.int64()).take(taken),
            "byte_offset": pa.array(block.byte_offsets, pa.int64()).take(taken),
            "resource_type": keys.column("resource_type").take(order),
            "id": keys.column("id").take(order),
            "sha256": pa.array(digests, pa.binary()).take(order),
            "content": text,
        }
    )
    size = block.byte_offsets[-1] - block.byte_offsets[0] + len(lines[-1]) + 1 if lines else 0
    return CheckedBlock(
        block.source, block.format, len(lines), size, plain, reference_table(references), others
    )


@cache
def _plain_checker() -> PlainChecker:
    return PlainChecker()


def _plain_head(line: bytes) -> tuple[str, str] | None:
    """(type, id) of a line ``check_resource`` accepts as it is (for blocks not all UTF-8)."""
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(parsed) is not dict or parsed.get("resourceType") == "Bundle":
        return None
    if check_resource(parsed) is not None:
        return None
    return parsed["resourceType"], parsed["id"]


def _checked(
    source: FhirNdjsonSource, path: Path, max_lines: int
) -> Iterator[CheckedBlock | ReadFailure]:
    """The checked blocks of ``path`` (at most ``max_lines`` lines each), in file order."""
    for block in source.read_blocks(path):
        if isinstance(block, ReadFailure):
            yield block
            continue
        rest: LineBlock | None = block
        while rest is not None:
            part, rest = rest.split(max_lines)
            yield check_block(part)


class NdjsonParsing:
    """Checked blocks of a run's NDJSON files, parsed here or, for large inputs, in a second
    process that works ahead on the files in the order given.

    :meth:`blocks` must be called for the files in that order (one run reads them so).
    """

    def __init__(self, paths: list[Path], max_lines: int) -> None:
        self.paths = paths
        self.max_lines = max_lines
        self.process: subprocess.Popen[bytes] | None = None
        self.errors: IO[bytes] | None = None
        self.reader: threading.Thread | None = None
        self.received: queue.Queue[tuple[bool, CheckedBlock | ReadFailure | None]] = queue.Queue(
            maxsize=RECEIVED_AHEAD
        )
        self.next = 0
        total = 0
        for path in paths:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        if paths and total >= PARSE_PROCESS_BYTES:
            self._start()

    def blocks(self, path: Path) -> Iterator[CheckedBlock | ReadFailure]:
        """The checked blocks of ``path``."""
        if self.process is None:
            yield from _checked(FhirNdjsonSource(), path, self.max_lines)
            return
        if self.next >= len(self.paths) or self.paths[self.next] != path:
            raise WarehouseError(f"{path}: NDJSON files must be read in the order given")
        self.next += 1
        while True:
            message = self._receive(path)
            if message is None:  # the end of this file's blocks
                return
            yield message

    def close(self) -> None:
        """Stop the second process (if it still runs) and release its pipe."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            deadline = time.monotonic() + 10
            while (
                self.reader is not None and self.reader.is_alive() and time.monotonic() < deadline
            ):
                # The reading thread may wait for room in the queue: make some.
                with contextlib.suppress(queue.Empty):
                    self.received.get_nowait()
                self.reader.join(timeout=0.05)
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self.errors is not None:
            self.errors.close()

    def __enter__(self) -> NdjsonParsing:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _start(self) -> None:
        # A plain subprocess (not multiprocessing): nothing of the calling program is imported
        # again. The file list goes through stdin, the blocks come back through stdout.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hygie.warehouse.plain_lines", str(self.max_lines)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
        )
        assert self.process.stdin is not None
        self.process.stdin.write("\n".join(str(p) for p in self.paths).encode())
        self.process.stdin.close()
        self.reader = threading.Thread(
            target=self._read_frames, name="hygie-parse-reader", daemon=True
        )
        self.reader.start()

    def _receive(self, path: Path) -> CheckedBlock | ReadFailure | None:
        assert self.process is not None
        stopped, message = self.received.get()
        if not stopped:
            return message
        self.process.wait()
        detail = ""
        if self.errors is not None:
            self.errors.seek(0)
            lines = self.errors.read().decode(errors="replace").strip().splitlines()
            detail = f": {lines[-1]}" if lines else ""
        raise WarehouseError(
            f"{path}: the parsing process stopped (exit code {self.process.returncode})" + detail
        )

    def _read_frames(self) -> None:
        """On a thread: read what the process sends ahead of use (up to RECEIVED_AHEAD blocks),
        so that neither side waits for the other more than needed."""
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        try:
            while True:
                header = stdout.read(FRAME_HEADER.size)
                if len(header) < FRAME_HEADER.size:
                    break
                size, count = FRAME_HEADER.unpack(header)
                payload = _read_exactly(stdout, size)
                buffers = []
                for _ in range(count):
                    (length,) = BUFFER_HEADER.unpack(_read_exactly(stdout, BUFFER_HEADER.size))
                    buffers.append(_read_exactly(stdout, length))
                self.received.put((False, pickle.loads(payload, buffers=buffers)))
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            pass  # closed under us (the run stopped), or cut off: reported as stopped
        self.received.put((True, None))


def _read_exactly(stream: IO[bytes], length: int) -> bytes:
    """``length`` bytes of ``stream`` (EOFError if cut off): one read, no copy afterwards."""
    data = stream.read(length)
    if len(data) < length:
        raise EOFError("the parsing process stopped in the middle of a message")
    return data


def _produce(max_lines: int) -> None:
    """In the second process: for each file named on stdin, its checked blocks, then a mark."""
    out = sys.stdout.buffer
    paths = [Path(line) for line in sys.stdin.read().splitlines() if line]
    # Parsing makes and drops many dicts and lists, none of them in cycles: collecting garbage
    # less often saves about a tenth of the work here (this process holds nothing else).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)

    def send(message: object) -> None:
        buffers: list[pickle.PickleBuffer] = []
        payload = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        out.write(FRAME_HEADER.pack(len(payload), len(buffers)))
        out.write(payload)
        for buffer in buffers:
            raw = buffer.raw()
            out.write(BUFFER_HEADER.pack(raw.nbytes))
            out.write(raw)

    for path in paths:
        for checked in _checked(FhirNdjsonSource(), path, max_lines):
            send(checked)
        send(None)
    out.flush()


if __name__ == "__main__":
    # Through the module's own name, so that what is pickled names hygie.warehouse.plain_lines.
    from hygie.warehouse import plain_lines

    try:
        plain_lines._produce(int(sys.argv[1]))
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(1)  # the run stopped: nobody is reading
