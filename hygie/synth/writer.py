"""Writers of the bulk-export layout: NDJSON files per type (split in parts), or bundles.

NDJSON: ``<Type>.ndjson`` (or ``.ndjson.gz``); when a type passes ``part_size`` resources, the
first file becomes ``<Type>.000.ndjson`` and the next ones ``<Type>.001.ndjson``... Gzip headers
carry no time or name, so files are byte-identical across runs.

Bundles: ``00-shared.json`` (Organization, Location, Practitioner, ``PUT`` so their ids are
kept and patients can point to them) then ``patient-<index>.json`` transaction Bundles.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

import orjson

from hygie.synth.datatypes import Resource

BUFFER = 1 << 20


class NdjsonWriter:
    """Append lines to one file per resource type, rolling over to parts at ``part_size``."""

    def __init__(self, out_dir: Path, compressed: bool, part_size: int) -> None:
        self.out_dir = out_dir
        self.compressed = compressed
        self.part_size = part_size
        self.suffix = ".ndjson.gz" if compressed else ".ndjson"
        self._files: dict[str, tuple[BinaryIO, BinaryIO | None]] = {}
        self._paths: dict[str, Path] = {}
        self._in_part: dict[str, int] = {}
        self._part: dict[str, int] = {}
        self.written: list[Path] = []

    def _open(self, path: Path) -> tuple[BinaryIO, BinaryIO | None]:
        raw = path.open("wb", buffering=BUFFER)
        if not self.compressed:
            return raw, None
        # No file name and a zero mtime in the gzip header: identical bytes on every run.
        packed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
        return packed, raw  # type: ignore[return-value]

    def _rollover(self, resource_type: str) -> None:
        handle, raw = self._files[resource_type]
        handle.close()
        if raw is not None:
            raw.close()
        part = self._part[resource_type]
        if part == 0:
            numbered = self.out_dir / f"{resource_type}.000{self.suffix}"
            self._paths[resource_type].rename(numbered)
            self.written[self.written.index(self._paths[resource_type])] = numbered
        part += 1
        self._part[resource_type] = part
        path = self.out_dir / f"{resource_type}.{part:03d}{self.suffix}"
        self._files[resource_type] = self._open(path)
        self._paths[resource_type] = path
        self._in_part[resource_type] = 0
        self.written.append(path)

    def write(self, resource_type: str, lines: list[bytes]) -> None:
        """Append serialized resources (without newline) of one type."""
        if resource_type not in self._files:
            path = self.out_dir / f"{resource_type}{self.suffix}"
            self._files[resource_type] = self._open(path)
            self._paths[resource_type] = path
            self._in_part[resource_type] = 0
            self._part[resource_type] = 0
            self.written.append(path)
        position = 0
        while position < len(lines):
            if self._in_part[resource_type] == self.part_size:
                self._rollover(resource_type)
            room = self.part_size - self._in_part[resource_type]
            batch = lines[position : position + room]
            self._files[resource_type][0].write(b"\n".join(batch) + b"\n")
            self._in_part[resource_type] += len(batch)
            position += len(batch)

    def close(self) -> list[Path]:
        """Close every file; return the paths written."""
        for handle, raw in self._files.values():
            handle.close()
            if raw is not None:
                raw.close()
        self._files.clear()
        return list(self.written)


def bundle_entry(resource: Resource, method: str) -> Resource:
    """A transaction entry: ``urn:uuid`` fullUrl, POST to the type (PUT to Type/id if asked)."""
    url = (
        resource["resourceType"]
        if method == "POST"
        else f"{resource['resourceType']}/{resource['id']}"
    )
    return {
        "fullUrl": f"urn:uuid:{resource['id']}",
        "resource": resource,
        "request": {"method": method, "url": url},
    }


def transaction_bundle(bundle_id: str, resources: list[Resource], method: str) -> bytes:
    """Serialize a transaction Bundle of ``resources``."""
    bundle = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "transaction",
        "entry": [bundle_entry(resource, method) for resource in resources],
    }
    return orjson.dumps(bundle)


SHARED_BUNDLE_NAME = "00-shared.json"


def patient_bundle_name(index: int) -> str:
    """File name of the bundle of patient ``index``."""
    return f"patient-{index:07d}.json"
