"""`hygie listen mllp`: an HL7 v2 MLLP listener that stores every message before acknowledging it.

MLLP frames a message as ``0x0B message 0x1C 0x0D``. The listener holds the warehouse writer for
its lifetime (DuckDB has one writer). Messages arriving within a few milliseconds of each other,
on any connection, are checked (parsed and mapped in memory, which decides the answer), appended
together to the listener's journal and synced to disk (:mod:`hygie.sources.hl7v2.journal`); only
then are they acknowledged. A background task ingests the journal every few seconds through
:func:`hygie.warehouse.ingest.ingest_streams` — raw zone, care zone and quarantine exactly as
for files. A listener that starts first ingests what a previous one left in the journal.
Answers:

- ``AA`` the message is stored and mapped;
- ``AE`` (ERR segment, HL7 table 0357 code) the message is stored in the raw zone but its content
  could not be mapped: it is in quarantine with the reason;
- ``AR`` the message was refused for its header (unsupported type, unreadable MSH) — stored and
  quarantined as well — or the journal could not store it (nothing stored: send it again).

A message whose MSH-3/MSH-4/MSH-10 (sending application, facility, control id) was already
received gets the same answer again without being ingested twice. SIGTERM/SIGINT stop accepting
connections, finish the messages already received, send their ACKs, ingest the journal, then
close the warehouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from hygie.fhir.references import ConditionalQuery, identifiers_of
from hygie.sources.base import Interpretation, RawItem, ReadFailure, ReferenceLookup
from hygie.sources.hl7v2.journal import Journal, read_segment
from hygie.sources.hl7v2.parser import Encoding, Message, MessageError, parse_message
from hygie.sources.hl7v2.source import DEFAULT_ZONE, interpret_message
from hygie.warehouse.engine import Engine
from hygie.warehouse.ingest import ingest_streams
from hygie.warehouse.sql import load_statements
from hygie.warehouse.warehouse import Warehouse

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"
MAX_FRAME_BYTES = 64 * 1024 * 1024
INGEST_INTERVAL = 2.0
"""Seconds between two ingestions of the journal (each is one run: raw, care, quarantine)."""
MAX_IN_FLIGHT = 256
"""Messages one connection may send before reading their ACKs."""
REJECT_REASONS = frozenset(
    {"missing-header", "truncated-message", "invalid-separators", "unsupported-charset",
     "unsupported-message-type", "invalid-encoding"}
)  # fmt: skip
"""Quarantine reasons answered AR (refused for the header) rather than AE (content error)."""
ERROR_CODES = {
    "unsupported-message-type": ("200", "Unsupported message type"),
    "missing-segment": ("100", "Segment sequence error"),
    "missing-required-field": ("101", "Required field missing"),
    "missing-patient-identifier": ("101", "Required field missing"),
    "invalid-date": ("102", "Data type error"),
    "invalid-number": ("102", "Data type error"),
    "unsupported-value-type": ("102", "Data type error"),
    "invalid-attachment": ("102", "Data type error"),
    "internal-error": ("207", "Application internal error"),
}
"""Quarantine reason → HL7 table 0357 message error condition code."""
log = logging.getLogger("hygie.mllp")


@dataclass
class Answer:
    """The acknowledgment code of one message and, for AE/AR, why."""

    code: str
    reason: str = ""
    message: str = ""


@dataclass
class ListenerStats:
    """What a listener did, returned when it stops."""

    received: int = 0
    acknowledged: dict[str, int] = field(default_factory=lambda: {"AA": 0, "AE": 0, "AR": 0})
    duplicates: int = 0
    runs: int = 0


class IdentifierIndex:
    """Ids of the patients and encounters by identifier, kept up to date by the listener.

    The listener is the only writer while it runs, so the index loaded at start plus what each
    run stores is the warehouse's state: runs need not scan the warehouse for every lookup.
    """

    TYPES = ("Patient", "Encounter")

    def __init__(self, engine: Engine) -> None:
        statement = load_statements("hygie.warehouse", "ingest.sql")["identifiers_of_type"]
        self.index: dict[str, dict[tuple[str | None, str], set[str]]] = {}
        for resource_type in self.TYPES:
            entries: dict[tuple[str | None, str], set[str]] = {}
            for resource_id, system, value in engine.fetchall(
                statement, {"resource_type": resource_type}
            ):
                if value is not None:
                    entries.setdefault((system, value), set()).add(str(resource_id))
            self.index[resource_type] = entries

    def find(self, query: ConditionalQuery) -> str | None:
        entries = self.index.get(query.resource_type, {})
        found: set[str] | None = None
        for system, value in query.identifiers:
            ids = entries.get((system, value), set())
            found = ids if found is None else found & ids
        return next(iter(found)) if found is not None and len(found) == 1 else None

    def observe(self, outcome: Interpretation) -> None:
        for resource in outcome.resources:
            entries = self.index.get(resource.resource_type)
            if entries is None or resource.json is None:
                continue
            for key in identifiers_of(orjson.loads(resource.json)):
                entries.setdefault(key, set()).add(resource.id)


class _ListenerSource:
    """The HL7 v2 source as the listener ingests its journal (the identifier index kept)."""

    name = "hl7v2"

    def __init__(self, zone: ZoneInfo, index: IdentifierIndex) -> None:
        self.zone = zone
        self.index = index
        self.accepted: dict[int, Interpretation] = {}
        """Outcomes decided when the messages were accepted (by ``id`` of the journaled item,
        alive until ingested): ingestion takes them instead of mapping each message again."""

    def accept(self, item: RawItem) -> Interpretation:
        """Interpret a message as it arrives; remember the outcome for its ingestion."""
        outcome = self.interpret(item, self)
        self.accepted[id(item)] = outcome
        return outcome

    def find(self, query: ConditionalQuery) -> str | None:
        return self.index.find(query)

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path) -> Iterator[RawItem | ReadFailure]:
        return iter(())

    def interpret(self, item: RawItem, lookup: ReferenceLookup) -> Interpretation:
        accepted = self.accepted.pop(id(item), None)
        if accepted is not None:
            return accepted
        outcome = interpret_message(item.content, self.index, self.zone)
        if not outcome.rejections:
            self.index.observe(outcome)
        return outcome


def parse_header(content: bytes) -> Message:
    """The MSH segment of ``content`` parsed alone (as a message of one segment): what the
    listener needs to key and acknowledge a message, which is mapped, and parsed whole, once."""
    start = content.lstrip(b"\x0b\xef\xbb\xbf\r\n ")
    ends = [n for n in (start.find(b"\r"), start.find(b"\n")) if n >= 0]
    return parse_message(start[: min(ends)] if ends else start)


def message_key(content: bytes) -> str:
    """``mllp:APP^FACILITY:CONTROL_ID`` (the raw item's source), or '' when MSH is unreadable."""
    try:
        header = parse_header(content).header
    except MessageError:
        return ""
    return f"mllp:{header.value(3)}^{header.value(4)}:{header.value(10)}"


class MllpListener:
    """The listener's state: the warehouse engine, the queue of messages, known control ids."""

    def __init__(
        self,
        warehouse: Warehouse,
        engine: Engine,
        *,
        zone: ZoneInfo,
        batch_window: float,
        max_batch: int,
    ) -> None:
        self.warehouse = warehouse
        self.engine = engine
        self.zone = zone
        self.batch_window = batch_window
        self.max_batch = max_batch
        self.queue: asyncio.Queue[tuple[RawItem, asyncio.Future[Answer]] | None] = asyncio.Queue()
        self.index = IdentifierIndex(engine)
        self.source = _ListenerSource(self.zone, self.index)
        self.journal = Journal(warehouse.path)
        self.stats = ListenerStats()
        self.recover()
        self.answers: dict[str, Answer] = self._known_answers()
        self.pending: dict[str, asyncio.Future[Answer]] = {}
        self.handlers: set[asyncio.Task[None]] = set()
        """Connection tasks (each waits to read its next frame; its messages run apart)."""
        self.repliers: set[asyncio.Task[None]] = set()
        self.stopping = False

    def _known_answers(self) -> dict[str, Answer]:
        statement = load_statements("hygie.sources.hl7v2", "mllp.sql")["received_messages"]
        answers = {}
        for source, rejected in self.engine.fetchall(statement):
            answers[str(source)] = Answer("AE" if rejected else "AA")
        return answers

    async def submit(self, content: bytes) -> Answer:
        """Store one message (or find it already stored) and return its acknowledgment."""
        self.stats.received += 1
        key = message_key(content)
        if key:
            known = self.answers.get(key)
            if known is not None and known.code == "AA":
                self.stats.duplicates += 1
                return known
            waiting = self.pending.get(key)
            if waiting is not None:
                self.stats.duplicates += 1
                return await asyncio.shield(waiting)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if key:
            self.pending[key] = future
        item = RawItem(key or "mllp:unreadable-header", None, None, "hl7v2", content)
        await self.queue.put((item, future))
        try:
            return await asyncio.shield(future)
        finally:
            if key:
                self.pending.pop(key, None)

    def recover(self) -> None:
        """Ingest the journal segments a previous listener left (before any connection)."""
        paths = self.journal.segment_paths()
        if not paths:
            return
        items = [item for path in paths for item in read_segment(path)]
        log.info("ingesting %d message(s) left in %d journal segment(s)", len(items), len(paths))
        self._ingest(items)
        for path in paths:
            path.unlink()

    async def commit_loop(self) -> None:
        """Take the queued messages in small groups; journal each group; answer its senders."""
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            if first is None:
                return
            batch = [first]
            deadline = loop.time() + self.batch_window
            closing = False
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                try:
                    following = (
                        self.queue.get_nowait()
                        if remaining <= 0
                        else await asyncio.wait_for(self.queue.get(), remaining)
                    )
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if following is None:
                    closing = True
                    break
                batch.append(following)
            answers = await asyncio.to_thread(self._accept, [item for item, _ in batch])
            for (item, future), answer in zip(batch, answers, strict=True):
                if item.source != "mllp:unreadable-header" and answer.reason != "internal-error":
                    self.answers[item.source] = answer
                if not future.done():
                    future.set_result(answer)
            if closing:
                return

    async def ingest_loop(self, stop: asyncio.Event) -> None:
        """Every INGEST_INTERVAL seconds, ingest the journal's current segment and delete it;
        once ``stop`` is set, until the journal is empty."""
        while True:
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), INGEST_INTERVAL)
            segment = self.journal.rotate()
            if segment is None:
                if stop.is_set():
                    return
                continue
            try:
                await asyncio.to_thread(self._ingest, segment.items)
                segment.path.unlink()
            except Exception as exc:  # kept on disk: the next start ingests it
                log.error("ingesting %s failed (kept for the next start): %s", segment.path, exc)
                if stop.is_set():
                    return

    def _accept(self, items: list[RawItem]) -> list[Answer]:
        """Decide each message's answer, then make them durable (before any ACK is sent)."""
        answers = []
        for item in items:
            outcome = self.source.accept(item)
            if not outcome.rejections:
                answers.append(Answer("AA"))
                continue
            rejection = outcome.rejections[0]
            code = "AR" if rejection.reason in REJECT_REASONS else "AE"
            answers.append(Answer(code, rejection.reason, rejection.message))
        try:
            self.journal.append(items)
        except Exception as exc:  # not durable: nothing is acknowledged as stored
            log.error("journaling %d message(s) failed: %s", len(items), exc)
            for item in items:
                self.source.accepted.pop(id(item), None)
            return [Answer("AR", "internal-error", "the message could not be stored; send it again")
                    for _ in items]  # fmt: skip
        return answers

    def _ingest(self, items: list[RawItem]) -> None:
        """One ingestion run over journaled messages (raw zone, care zone, quarantine)."""
        ingest_streams(
            self.warehouse,
            self.engine,
            [("mllp", self.source, iter(items))],
            command="listen mllp",
        )
        self.stats.runs += 1

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: read frames, answer each with its ACK, in the order received.

        A sender may send several messages before reading their ACKs (up to
        ``MAX_IN_FLIGHT``); they are stored concurrently and acknowledged in order. Reading runs
        in this task, replying in another, so stopping cancels only the reading.
        """
        task = asyncio.current_task()
        assert task is not None
        in_flight: asyncio.Queue[tuple[bytes, asyncio.Task[Answer]] | None] = asyncio.Queue()
        window = asyncio.Semaphore(MAX_IN_FLIGHT)
        replier = asyncio.create_task(self._reply(in_flight, window, writer))
        self.handlers.add(task)
        self.repliers.add(replier)
        replier.add_done_callback(self.repliers.discard)
        try:
            while not self.stopping:
                await window.acquire()
                try:
                    frame = await reader.readuntil(END_BLOCK)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break  # closed by the sender; an incomplete frame was never acknowledged
                except asyncio.LimitOverrunError:
                    log.warning("frame over %d bytes: connection closed", MAX_FRAME_BYTES)
                    break
                start = frame.find(START_BLOCK)
                content = frame[start + 1 if start >= 0 else 0 : -len(END_BLOCK)]
                in_flight.put_nowait((content, asyncio.create_task(self.submit(content))))
        except asyncio.CancelledError:
            pass  # stopping: the messages already read are still answered by the replier
        finally:
            self.handlers.discard(task)
            in_flight.put_nowait(None)

    async def _reply(
        self,
        in_flight: asyncio.Queue[tuple[bytes, asyncio.Task[Answer]] | None],
        window: asyncio.Semaphore,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            while True:
                entry = await in_flight.get()
                if entry is None:
                    return
                content, pending = entry
                answer = await pending
                self.stats.acknowledged[answer.code] += 1
                writer.write(START_BLOCK + build_ack(content, answer) + END_BLOCK)
                await writer.drain()
                window.release()
        except ConnectionError:
            log.warning("a sender left before reading its ACKs")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop_connections(self, timeout: float = 30.0) -> None:
        """Stop reading; messages already received are stored and acknowledged first."""
        self.stopping = True
        for task in list(self.handlers):
            task.cancel()  # only the read is cancelled: each message runs in its own task
        await asyncio.sleep(0)
        if self.repliers:
            await asyncio.wait(list(self.repliers), timeout=timeout)


def escape_text(text: str, encoding: Encoding) -> str:
    """Escape delimiters (and line breaks) in free text put in a field."""
    esc = encoding.escape
    text = text.replace(esc, f"{esc}E{esc}")
    for char, code in ((encoding.field, "F"), (encoding.component, "S"),
                       (encoding.subcomponent, "T"), (encoding.repetition, "R")):  # fmt: skip
        text = text.replace(char, f"{esc}{code}{esc}")
    return text.replace("\r", " ").replace("\n", " ")


def build_ack(content: bytes, answer: Answer) -> bytes:
    """The ACK message for ``content``: MSH (sender and receiver swapped), MSA, ERR on errors."""
    encoding = Encoding()
    app = facility = receiver = receiver_facility = control_id = event = ""
    version = "2.5"
    try:
        message = parse_header(content)
        header = message.header
        app, facility = header.raw(5), header.raw(6)
        receiver, receiver_facility = header.raw(3), header.raw(4)
        control_id, version = header.value(10), header.value(12) or version
        event = header.field(9).comp(2)
        encoding = message.encoding
    except MessageError:
        pass
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    f = encoding.field
    delimiters = encoding.component + encoding.repetition + encoding.escape + encoding.subcomponent
    msh = f.join(["MSH", delimiters, app or "HYGIE", facility, receiver, receiver_facility, now,
                  "", f"ACK{encoding.component}{event}{encoding.component}ACK",
                  f"ACK{escape_text(control_id, encoding)}"[:199], "P", version])  # fmt: skip
    msa = f.join(["MSA", answer.code, escape_text(control_id, encoding)])
    segments = [msh, msa]
    if answer.code != "AA":
        code, text = ERROR_CODES.get(answer.reason, ("207", "Application internal error"))
        c = encoding.component
        segments.append(
            f.join(
                [
                    "ERR",
                    "",
                    "",
                    f"{code}{c}{text}{c}HL70357",
                    "E",
                    "",
                    "",
                    "",
                    escape_text(f"{answer.reason}: {answer.message}"[:1000], encoding),
                ]
            )
        )
    return ("\r".join(segments) + "\r").encode("utf-8")


async def serve_mllp(
    warehouse: Warehouse,
    host: str = "127.0.0.1",
    port: int = 2575,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int], None] | None = None,
    timezone: str = DEFAULT_ZONE,
    batch_window: float = 0.0,
    max_batch: int = 500,
) -> ListenerStats:
    """Listen for MLLP connections until ``stop`` is set; return what was received.

    ``on_ready(port)`` is called once the socket listens (port 0 picks a free port).
    """
    stop = stop or asyncio.Event()
    with warehouse.writing() as engine:
        listener = MllpListener(
            warehouse, engine, zone=ZoneInfo(timezone), batch_window=batch_window,
            max_batch=max_batch,
        )  # fmt: skip
        committer = asyncio.create_task(listener.commit_loop())
        ingest_stop = asyncio.Event()
        ingester = asyncio.create_task(listener.ingest_loop(ingest_stop))
        server = await asyncio.start_server(listener.handle, host, port, limit=MAX_FRAME_BYTES)
        bound = server.sockets[0].getsockname()[1]
        log.info("listening for MLLP on %s:%d", host, bound)
        if on_ready is not None:
            on_ready(bound)
        try:
            await stop.wait()
        finally:
            server.close()
            await listener.stop_connections()
            await listener.queue.put(None)
            await committer
            ingest_stop.set()
            await ingester
            listener.journal.close()
        return listener.stats


def run_mllp_listener(
    warehouse: Warehouse,
    host: str = "127.0.0.1",
    port: int = 2575,
    *,
    timezone: str = DEFAULT_ZONE,
    on_ready: Callable[[int], None] | None = None,
) -> ListenerStats:
    """Run :func:`serve_mllp` until SIGTERM or SIGINT (the ``hygie listen mllp`` command)."""

    async def main() -> ListenerStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await serve_mllp(
            warehouse, host, port, stop=stop, on_ready=on_ready, timezone=timezone
        )

    return asyncio.run(main())
