"""The generation run: patients in chunks, optionally on worker processes, written in order.

Each chunk of patients is generated and serialized by a worker into bytes grouped by resource
type; the parent writes chunks strictly in patient order, so files are byte-identical whatever
the number of workers. At most ``2 × workers`` chunks are in flight: memory stays flat.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path

import orjson

from hygie.synth.identifiers import random_uuid
from hygie.synth.messiness import Malformed, inject
from hygie.synth.options import SynthOptions, SynthSummary, validate_options
from hygie.synth.organizations import build_network
from hygie.synth.record import build_record
from hygie.synth.writer import (
    SHARED_BUNDLE_NAME,
    NdjsonWriter,
    patient_bundle_name,
    transaction_bundle,
)

CHUNK_PATIENTS = 50
PARALLEL_FROM = 400
"""Below this many patients, starting worker processes costs more than it saves."""
TRUTH_FILE = "deid-truth.jsonl"


@dataclass
class ChunkResult:
    """Serialized output of a chunk of patients."""

    first: int
    patients: int
    lines: dict[str, list[bytes]] = field(default_factory=dict)
    bundles: list[tuple[str, bytes]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    truth: list[bytes] = field(default_factory=list)


def generate_chunk(options: SynthOptions, first: int, count: int) -> ChunkResult:
    """Generate patients ``first .. first + count - 1`` and serialize them."""
    network = build_network(options.seed)
    as_bundles = options.format == "bundles"
    result = ChunkResult(first=first, patients=count)
    counts = result.counts
    for index in range(first, first + count):
        chart = build_record(index, options.seed, options.start, options.end, network, as_bundles)
        mess_rng = random.Random(f"hygie-synth:{options.seed}:messiness:{index}")
        items = inject(
            chart.resources, mess_rng, options.messiness, not as_bundles, options.end.year
        )
        if as_bundles:
            resources = [item for item in items if not isinstance(item, Malformed)]
            for resource in resources:
                kind = resource["resourceType"]
                counts[kind] = counts.get(kind, 0) + 1
            bundle_id = random_uuid(random.Random(f"hygie-synth:{options.seed}:bundle:{index}"))
            result.bundles.append(
                (patient_bundle_name(index), transaction_bundle(bundle_id, resources, "POST"))
            )
        else:
            lines = result.lines
            for item in items:
                if isinstance(item, Malformed):
                    kind, raw = item.resource_type, item.raw
                else:
                    kind, raw = item["resourceType"], orjson.dumps(item)
                bucket = lines.get(kind)
                if bucket is None:
                    bucket = lines[kind] = []
                bucket.append(raw)
                counts[kind] = counts.get(kind, 0) + 1
        result.truth.extend(orjson.dumps(line) for line in chart.truth)
    return result


def _chunks(patients: int) -> list[tuple[int, int]]:
    return [
        (first, min(CHUNK_PATIENTS, patients - first))
        for first in range(0, patients, CHUNK_PATIENTS)
    ]


def _results_in_order(options: SynthOptions, workers: int) -> Iterator[ChunkResult]:
    chunks = _chunks(options.patients)
    if workers <= 1:
        for first, count in chunks:
            yield generate_chunk(options, first, count)
        return
    # "spawn" rather than fork: the caller may run threads (a Rich progress bar).
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pending: deque[AsyncResult[ChunkResult]] = deque()
        queue = iter(chunks)
        for first, count in queue:
            pending.append(pool.apply_async(generate_chunk, (options, first, count)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def default_workers(patients: int) -> int:
    """Worker processes for a run: up to 2 (the generator is tuned for small machines)."""
    if patients < PARALLEL_FROM:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def run(
    options: SynthOptions,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> SynthSummary:
    """Generate the population described by ``options`` into ``options.out_dir``."""
    validate_options(options)
    began = time.perf_counter()
    out_dir = options.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    network = build_network(options.seed)
    counts: dict[str, int] = {}
    files: list[Path] = []
    truth_notes = 0
    as_bundles = options.format == "bundles"
    ndjson = None
    if as_bundles:
        shared = out_dir / SHARED_BUNDLE_NAME
        shared_id = random_uuid(random.Random(f"hygie-synth:{options.seed}:bundle:shared"))
        shared.write_bytes(transaction_bundle(shared_id, network.resources, "PUT"))
        files.append(shared)
    else:
        ndjson = NdjsonWriter(out_dir, options.format == "ndjson.gz", options.part_size)
        for resource in network.resources:
            ndjson.write(resource["resourceType"], [orjson.dumps(resource)])
    for resource in network.resources:
        counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    truth_path = out_dir / TRUTH_FILE
    try:
        with truth_path.open("wb") as truth:
            for result in _results_in_order(options, workers or default_workers(options.patients)):
                if ndjson is not None:
                    for kind, lines in result.lines.items():
                        ndjson.write(kind, lines)
                for name, data in result.bundles:
                    path = out_dir / name
                    path.write_bytes(data)
                    files.append(path)
                for kind, number in result.counts.items():
                    counts[kind] = counts.get(kind, 0) + number
                if result.truth:
                    truth.write(b"\n".join(result.truth) + b"\n")
                truth_notes += len(result.truth)
                if progress is not None:
                    progress(result.patients)
    finally:
        if ndjson is not None:
            files += ndjson.close()
    files.append(truth_path)
    return SynthSummary(
        patients=options.patients,
        resources_by_type=dict(sorted(counts.items())),
        files=sorted(files),
        truth_notes=truth_notes,
        seconds=time.perf_counter() - began,
    )
