"""Connector throughput: HL7 v2 ORU parse+map, CDA, CSV, DICOM, MLLP acknowledged messages.

Run: ``.venv/bin/python bench/connectors.py [--messages 20000] [--mllp 2000]``. Prints a table
with each figure next to its target; the HL7 v2 row has, as reference, the same file only cut into
messages and segments. Also CSV rows (lab-results mapping) and DICOM headers per second.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pydicom.data import get_testdata_file
from rich.console import Console
from rich.table import Table

from hygie.config import Settings
from hygie.sources.cda.source import map_document
from hygie.sources.csv import CsvMappingSource
from hygie.sources.dicom import DicomSource
from hygie.sources.hl7v2.source import Hl7v2Source
from hygie.warehouse.warehouse import Warehouse

DATA = Path(__file__).parent.parent / "tests" / "data"
MAPPINGS = Path(__file__).parent.parent / "hygie" / "sources" / "mappings"
ORU = (DATA / "hl7v2" / "LAB-ORU-1.hl7").read_bytes().replace(b"\n", b"\r")


def oru(number: int, sender: str = "B") -> bytes:
    return (
        ORU.replace(b"|182|", f"|{sender}{number}|".encode())
        .replace(b"82503246", f"{sender}F{number}".encode())
        .replace(b"890775544", f"{sender}G{number}".encode())
        .replace(b"10006579", f"{sender}P{number % 500}".encode())
    )


class NoLookup:
    def find(self, query: object) -> None:
        return None


def bench_hl7v2(count: int, folder: Path) -> float:
    path = folder / "oru.hl7"
    path.write_bytes(b"\r".join(oru(n) for n in range(count)))
    source = Hl7v2Source()
    started = time.perf_counter()
    mapped = 0
    for item in source.read(path):
        outcome = source.interpret(item, NoLookup())  # type: ignore[arg-type]
        assert not outcome.rejections
        mapped += 1
    assert mapped == count
    return count / (time.perf_counter() - started)


def bench_hl7v2_split(count: int, folder: Path) -> float:
    """Reference: only cutting the same file into messages and segments (no mapping)."""
    path = folder / "oru.hl7"
    path.write_bytes(b"\r".join(oru(n) for n in range(count)))
    started = time.perf_counter()
    for item in Hl7v2Source().read(path):
        item.content.split(b"\r")  # type: ignore[union-attr]
    return count / (time.perf_counter() - started)


def bench_csv(rows: int, folder: Path) -> float:
    """Lab-results rows mapped to Observation (+ Patient) by the shipped YAML mapping."""
    lines = (DATA / "csv" / "lab-results.csv").read_text("utf-8").splitlines()
    body = [line.replace("D24-000", f"D{n}-") for n in range(rows // 5 + 1) for line in lines[1:]]
    path = folder / "lab.csv"
    path.write_text("\n".join([lines[0], *body[:rows]]) + "\n", "utf-8")
    source = CsvMappingSource(MAPPINGS / "lab-results.yaml")
    started = time.perf_counter()
    mapped = 0
    for item in source.read(path):
        outcome = source.interpret(item, NoLookup())  # type: ignore[arg-type]
        assert not outcome.rejections
        mapped += 1
    assert mapped == rows
    return rows / (time.perf_counter() - started)


def bench_dicom(rounds: int) -> float:
    """DICOM headers (pydicom's own test files) read and mapped to ImagingStudy."""
    names = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "liver_1frame.dcm"]
    paths = [Path(str(get_testdata_file(name, download=False))) for name in names]
    source = DicomSource()
    started = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            for item in source.read(path):
                source.interpret(item, NoLookup())  # type: ignore[arg-type]
    return rounds * len(paths) / (time.perf_counter() - started)


def bench_cda(rounds: int) -> float:
    documents = [p.read_bytes() for p in sorted((DATA / "cda").rglob("*.xml"))]
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Paris")
    started = time.perf_counter()
    for _ in range(rounds):
        for content in documents:
            map_document(content, zone)
    return rounds * len(documents) / (time.perf_counter() - started)


LISTENER = """
import sys
from pathlib import Path
from hygie.config import Settings
from hygie.sources.hl7v2.mllp import run_mllp_listener
from hygie.warehouse.warehouse import Warehouse
warehouse = Warehouse(Settings(warehouse=Path(sys.argv[1]), lock_timeout=60))
run_mllp_listener(warehouse, "127.0.0.1", 0, on_ready=lambda port: print(port, flush=True))
"""
"""The listener as ``hygie listen mllp`` runs it: a process of its own, stopped by SIGTERM."""


def bench_mllp(per_sender: int, window: int, folder: Path) -> tuple[float, float]:
    """(acknowledged msg/s, msg/s until all are in the warehouse) for 4 concurrent senders.

    The listener runs in its own process, as in production; the 4 senders are threads of this
    one (each a connection sending its next message when its window of ACKs allows).
    """
    path = folder / f"w{window}"
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert listener.stdout is not None
    port = int(listener.stdout.readline())

    def send(name: str) -> None:
        connection = socket.create_connection(("127.0.0.1", port))
        sent = acked = 0
        buffer = b""
        while acked < per_sender:
            while sent < per_sender and sent - acked < window:
                connection.sendall(b"\x0b" + oru(sent, name) + b"\x1c\r")
                sent += 1
            buffer += connection.recv(65536)
            acked += buffer.count(b"\x1c\r")
            buffer = buffer[buffer.rfind(b"\x1c\r") + 2 :] if b"\x1c\r" in buffer else buffer
        connection.close()

    started = time.perf_counter()
    senders = [threading.Thread(target=send, args=(f"S{k}",)) for k in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    acknowledged = time.perf_counter() - started
    listener.send_signal(signal.SIGTERM)  # it ingests what its journal still holds, then stops
    assert listener.wait(300) == 0
    stored_after = time.perf_counter() - started
    with Warehouse(Settings(warehouse=path)).reading() as engine:
        stored = engine.fetchall("SELECT count(*) FROM raw_input")[0][0]
    assert stored == 4 * per_sender, (stored, 4 * per_sender)  # every ACKed message is stored
    return 4 * per_sender / acknowledged, 4 * per_sender / stored_after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--mllp", type=int, default=2_000, help="messages per MLLP run")
    parser.add_argument("--cda-rounds", type=int, default=20)
    parser.add_argument("--csv-rows", type=int, default=20_000)
    args = parser.parse_args()
    table = Table(title="Connectors")
    for column in ("measure", "figure", "target"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        table.add_row("HL7 v2 ORU parse+map (msg/s)", f"{bench_hl7v2(args.messages, folder):,.0f}",
                      "≥ 5,000")  # fmt: skip
        table.add_row("  reference: the same file cut into messages and segments only",
                      f"{bench_hl7v2_split(args.messages, folder):,.0f}", "-")  # fmt: skip
        table.add_row("CDA documents parse+map (doc/s)", f"{bench_cda(args.cda_rounds):,.0f}", "-")
        table.add_row("CSV lab rows mapped (rows/s)", f"{bench_csv(args.csv_rows, folder):,.0f}",
                      "-")  # fmt: skip
        table.add_row("DICOM headers read+mapped (files/s)", f"{bench_dicom(50):,.0f}", "-")
        per_sender = args.mllp // 4
        acked, stored = bench_mllp(per_sender, 1, folder)
        table.add_row("MLLP ACKed msg/s, 4 senders, each waiting for each ACK",
                      f"{acked:,.0f}", "≥ 1,000")  # fmt: skip
        table.add_row("  the same, until every message is in the warehouse",
                      f"{stored:,.0f}", "-")  # fmt: skip
        acked, stored = bench_mllp(per_sender, 64, folder)
        table.add_row("MLLP ACKed msg/s, 4 senders, 64 in flight each",
                      f"{acked:,.0f}", "-")  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
