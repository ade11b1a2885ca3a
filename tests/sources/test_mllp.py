"""The MLLP listener, against real sockets on 127.0.0.1: ACKs, durability, duplicates, load."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hygie.config import Settings
from hygie.sources.base import RawItem
from hygie.sources.hl7v2.journal import Journal, read_segment
from hygie.sources.hl7v2.mllp import serve_mllp
from hygie.warehouse.warehouse import Warehouse

MESSAGE = (
    "MSH|^~\\&|LAB|CHU|DPI|CHU|20240307080000||ORU^R01^ORU_R01|{control}|P|2.5\r"
    "PID|1||{patient}^^^CHU&1.2.250.1.71.4.2.2&ISO^PI||NOM^PRENOM||19800101|F\r"
    "OBR|1|P{control}|F{control}|2951-2^Sodium^LN|||20240307070000||||||||||||||||F\r"
    "OBX|1|NM|2951-2^Sodium^LN||{value}|mmol/L|135-145|L|||F|||20240307070000\r"
)


def message(control: str, patient: str = "P1", value: str = "131") -> bytes:
    return MESSAGE.format(control=control, patient=patient, value=value).encode()


class Sender:
    """A test MLLP client: sends frames and reads ACK frames."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, content: bytes) -> None:
        self.socket.sendall(b"\x0b" + content + b"\x1c\r")

    def ack(self) -> str:
        while b"\x1c\r" not in self.buffer:
            chunk = self.socket.recv(65536)
            assert chunk, "the listener closed the connection before answering"
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(b"\x1c\r")
        assert frame.startswith(b"\x0b")
        return frame[1:].decode()

    def exchange(self, content: bytes) -> str:
        self.send(content)
        return self.ack()

    def close(self) -> None:
        self.socket.close()


def segment(ack: str, name: str) -> list[str]:
    for line in ack.split("\r"):
        if line.startswith(name + "|"):
            return line.split("|")
    raise AssertionError(f"no {name} in {ack!r}")


@pytest.fixture
def listener(warehouse: Warehouse) -> Iterator[int]:
    ready = threading.Event()
    state: dict[str, object] = {}

    def run() -> None:
        async def main() -> None:
            stop = asyncio.Event()
            state["loop"], state["stop"] = asyncio.get_running_loop(), stop
            await serve_mllp(
                warehouse, "127.0.0.1", 0, stop=stop,
                on_ready=lambda port: (state.__setitem__("port", port), ready.set()),
            )  # fmt: skip

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield int(state["port"])  # type: ignore[call-overload]
    loop = state["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    loop.call_soon_threadsafe(state["stop"].set)  # type: ignore[attr-defined]
    thread.join(30)
    assert not thread.is_alive()


def count(warehouse: Warehouse, sql: str) -> int:
    with warehouse.reading() as engine:
        return int(engine.fetchall(sql)[0][0])


def test_a_good_message_is_stored_then_acknowledged_aa(listener: int, warehouse: Warehouse) -> None:
    sender = Sender(listener)
    ack = sender.exchange(message("M1"))
    sender.close()
    msh, msa = segment(ack, "MSH"), segment(ack, "MSA")
    assert msh[2:6] == ["DPI", "CHU", "LAB", "CHU"] and msh[8] == "ACK^R01^ACK"
    assert msa[1:3] == ["AA", "M1"]
    assert "ERR|" not in ack


def test_bad_messages_are_quarantined_and_answered_ae_or_ar_with_an_err_segment(
    listener: int, warehouse: Warehouse
) -> None:
    sender = Sender(listener)
    content_error = sender.exchange(message("M2", value="abc"))
    header_error = sender.exchange(message("M3").replace(b"ORU^R01^ORU_R01", b"QRY^Q01^QRY_Q01"))
    sender.close()
    assert segment(content_error, "MSA")[1:3] == ["AE", "M2"]
    err = segment(content_error, "ERR")
    assert err[3] == "102^Data type error^HL70357" and "OBX-5 (segment 4)" in err[8]
    assert segment(header_error, "MSA")[1] == "AR"
    assert segment(header_error, "ERR")[3].startswith("200^")


def test_a_control_id_sent_again_on_the_same_connection_gets_aa_again(
    warehouse: Warehouse, listener: int
) -> None:
    sender = Sender(listener)
    for number in range(5):
        assert segment(sender.exchange(message(f"D{number}", f"P{number}")), "MSA")[1] == "AA"
    duplicate = sender.exchange(message("D0", "P0"))
    resent_later = sender.exchange(message("D1", "P1", value="132"))  # same control id
    sender.close()
    assert segment(duplicate, "MSA")[1:3] == ["AA", "D0"]
    assert segment(resent_later, "MSA")[1] == "AA"


def test_duplicates_are_acknowledged_but_ingested_once(tmp_path: Path) -> None:
    warehouse = Warehouse(Settings(warehouse=tmp_path / "w", lock_timeout=60, batch_size=500))
    with run_listener_process(warehouse) as (process, port):
        sender = Sender(port)
        first = sender.exchange(message("X1"))
        again = sender.exchange(message("X1", value="140"))  # same MSH-10, other content
        sender.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert segment(first, "MSA")[1] == "AA" and segment(again, "MSA")[1] == "AA"
    assert count(warehouse, "SELECT COUNT(*) FROM raw_input") == 1
    assert (
        count(warehouse, "SELECT COUNT(*) FROM resource WHERE resource_type = 'Observation'") == 1
    )


def test_four_concurrent_senders_are_all_acknowledged_and_stored(
    listener: int, warehouse: Warehouse
) -> None:
    answers: dict[str, list[str]] = {}

    def send_many(name: str) -> None:
        sender = Sender(listener)
        answers[name] = [
            segment(sender.exchange(message(f"{name}-{n}", f"{name}{n % 3}")), "MSA")[1]
            for n in range(15)
        ]
        sender.close()

    threads = [threading.Thread(target=send_many, args=(f"S{k}",)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {name: set(codes) for name, codes in answers.items()} == {
        f"S{k}": {"AA"} for k in range(4)
    }


class run_listener_process:
    """``hygie listen mllp`` in a child process (so that it can be killed)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def __enter__(self) -> tuple[subprocess.Popen[str], int]:
        code = (
            "import sys\n"
            "from pathlib import Path\n"
            "from hygie.config import Settings\n"
            "from hygie.warehouse.warehouse import Warehouse\n"
            "from hygie.sources.hl7v2.mllp import run_mllp_listener\n"
            "w = Warehouse(Settings(warehouse=Path(sys.argv[1]), lock_timeout=60))\n"
            "run_mllp_listener(w, '127.0.0.1', 0, on_ready=lambda p: print(p, flush=True))\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(self.warehouse.path)],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )  # fmt: skip
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        return self.process, port

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def test_a_message_acknowledged_just_before_a_kill_is_in_the_warehouse(tmp_path: Path) -> None:
    warehouse = Warehouse(Settings(warehouse=tmp_path / "w", lock_timeout=60, batch_size=500))
    with run_listener_process(warehouse) as (process, port):
        sender = Sender(port)
        ack = sender.exchange(message("K1"))
        process.kill()  # SIGKILL right after the ACK: no shutdown code runs
        process.wait(30)
        sender.close()
    assert segment(ack, "MSA")[1] == "AA"
    # Acknowledged means durable: the message is in the journal on disk.
    journaled = [i for p in Journal(warehouse.path).segment_paths() for i in read_segment(p)]
    assert [item.source for item in journaled] == ["mllp:LAB^CHU:K1"]
    with run_listener_process(warehouse) as (process, port):  # restart: the journal is ingested
        sender = Sender(port)
        assert segment(sender.exchange(message("K1")), "MSA")[1] == "AA"  # and the id is known
        sender.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert count(warehouse, "SELECT COUNT(*) FROM raw_input WHERE source = 'mllp:LAB^CHU:K1'") == 1
    assert (
        count(warehouse, "SELECT COUNT(*) FROM resource WHERE resource_type = 'Observation'") == 1
    )
    assert count(warehouse, "SELECT COUNT(*) FROM raw_input") == 1
    assert Journal(warehouse.path).segment_paths() == []  # ingested, then deleted


def test_a_journal_cut_by_a_crash_keeps_its_complete_records(tmp_path: Path) -> None:
    warehouse = Warehouse(Settings(warehouse=tmp_path / "w", lock_timeout=60, batch_size=500))
    journal = Journal(warehouse.path)
    items = [
        RawItem(f"mllp:LAB^CHU:C{n}", None, None, "hl7v2", message(f"C{n}", f"P{n}"))
        for n in range(3)
    ]
    journal.append(items)
    journal.close()
    path = journal.segment_paths()[0]
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 10])  # the last record cut in the middle
    assert [item.source for item in read_segment(path)] == ["mllp:LAB^CHU:C0", "mllp:LAB^CHU:C1"]

    with run_listener_process(warehouse) as (process, _port):
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    sources = {"mllp:LAB^CHU:C0", "mllp:LAB^CHU:C1"}
    with warehouse.reading() as engine:
        stored = {row[0] for row in engine.fetchall("SELECT source FROM raw_input")}
    assert stored == sources
    assert Journal(warehouse.path).segment_paths() == []


def test_sigterm_answers_the_messages_already_received_before_stopping(tmp_path: Path) -> None:
    warehouse = Warehouse(Settings(warehouse=tmp_path / "w", lock_timeout=60, batch_size=500))
    with run_listener_process(warehouse) as (process, port):
        sender = Sender(port)
        for number in range(20):  # pipelined: sent before reading any ACK
            sender.send(message(f"T{number}", f"P{number}"))
        first = sender.ack()
        process.send_signal(signal.SIGTERM)
        acknowledged = [first]
        try:
            while len(acknowledged) < 20:
                acknowledged.append(sender.ack())
        except AssertionError:
            pass  # the listener may stop reading before the last frames arrived
        sender.close()
        assert process.wait(30) == 0
    controls = {segment(ack, "MSA")[2] for ack in acknowledged if segment(ack, "MSA")[1] == "AA"}
    with warehouse.reading() as engine:
        stored = {
            row[0].rsplit(":", 1)[1] for row in engine.fetchall("SELECT source FROM raw_input")
        }
    assert controls and controls <= stored
