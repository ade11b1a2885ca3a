"""Build a large FHIR NDJSON input by replicating the Synthea sample with fresh ids.

Every UUID in a resource (its id, its references, identifiers that embed ids) gets the copy number
written over its first 8 hex digits, so each copy is a new, self-consistent population whose
references still resolve. Used by the ingestion benchmark; runnable alone:

    .venv/bin/python bench/replicate.py --resources 1000000 --out /tmp/hygie-bench-ndjson
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthea-small"
FALLBACK_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "synthea-small"
UUID = re.compile(rb"[0-9a-f]{8}(?=-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def sample_resources(sample: Path) -> list[tuple[str, list[bytes]]]:
    """Resources of the 20 urn:uuid Synthea bundles as (type, NDJSON line split at UUID starts)."""
    templates: list[tuple[str, list[bytes]]] = []
    for bundle_path in sorted((sample / "generated-sample-data-r4").glob("*.json")):
        bundle = orjson.loads(bundle_path.read_bytes())
        for entry in bundle["entry"]:
            resource = entry["resource"]
            line = orjson.dumps(resource).replace(b'"urn:uuid:', b'"' + b"Ref/")
            line = _canonical_references(line, bundle)
            templates.append((resource["resourceType"], UUID.split(line)))
    return templates


def _canonical_references(line: bytes, bundle: dict[str, object]) -> bytes:
    entries = bundle["entry"]
    assert isinstance(entries, list)
    for entry in entries:
        uuid = entry["fullUrl"].removeprefix("urn:uuid:").encode()
        kind = entry["resource"]["resourceType"].encode()
        line = line.replace(b'"Ref/' + uuid + b'"', b'"' + kind + b"/" + uuid + b'"')
    return line


def replicate(out: Path, resources: int, sample: Path) -> tuple[int, int]:
    """Write at least ``resources`` resources as NDJSON files per type; return (count, bytes)."""
    templates = sample_resources(sample)
    out.mkdir(parents=True, exist_ok=True)
    handles: dict[str, object] = {}
    counts: dict[str, int] = defaultdict(int)
    written = 0
    size = 0
    copy = 0
    files = {}
    while written < resources:
        prefix = f"{copy:08x}".encode()
        for resource_type, parts in templates:
            if resource_type not in files:
                files[resource_type] = (out / f"{resource_type}.ndjson").open("wb")
            line = prefix.join(parts) + b"\n" if len(parts) > 1 else parts[0] + b"\n"
            files[resource_type].write(line)
            counts[resource_type] += 1
            written += 1
            size += len(line)
        copy += 1
    for handle in files.values():
        handle.close()
    del handles
    return written, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sample = SAMPLE if SAMPLE.is_dir() else FALLBACK_SAMPLE
    started = time.monotonic()
    count, size = replicate(args.out, args.resources, sample)
    print(
        f"{count:,} resources, {size / 1e9:.2f} GB in {time.monotonic() - started:.1f} s "
        f"-> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
