"""API benchmark: read by id, search and Bulk Data export over loopback, with references.

Builds a warehouse (the Synthea sample replicated to --resources, see replicate.py), registers a
client, runs `hygie.api.server.serve` in its own process and drives it from this one with a small
keep-alive HTTP/1.1 load generator (several concurrent connections, a fixed number of requests):

  read by id   GET /Observation/{id}: a first pass over ids never read since the server started
               (cold: from the serving store on disk), then the same ids again (warm: the
               server's read cache); the server's start time includes building that store;
  search       GET /Observation?patient=...&_count=10;
  export       GET /$export?_type=Observation,Patient,... until the manifest; resources/s.

References measured in the same run: a bare uvicorn app answering a fixed body of the same size
(the HTTP stack's ceiling on this machine), and DuckDB alone writing the same export
(COPY ... TO NDJSON from the warehouse). Run:

    .venv/bin/python bench/api.py --resources 200000 --requests 4000 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from replicate import SAMPLE, replicate  # noqa: E402

from hygie.api.clients import add_client  # noqa: E402
from hygie.api.serving import ServingStore, serving_path  # noqa: E402
from hygie.config import Settings  # noqa: E402
from hygie.warehouse.ingest import ingest  # noqa: E402
from hygie.warehouse.warehouse import Warehouse  # noqa: E402

SERVER = """
import sys
from pathlib import Path
from hygie.api.server import serve
from hygie.config import Settings
serve(Settings(warehouse=Path(sys.argv[1])), "127.0.0.1", int(sys.argv[2]))
"""
BARE = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
body = b"x" * int(sys.argv[2])
async def answer(request):
    return Response(body, media_type="application/fhir+json")
app = Starlette(routes=[Route("/Observation/{id}", answer)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


async def fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def load(port: int, paths: list[str], token: str, concurrency: int) -> dict[str, Any]:
    """Send every path once, over `concurrency` keep-alive connections; latencies in ms."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            path = queue.get_nowait()
            request = (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            status, _ = await fetch(reader, writer, request)
            latencies.append((time.perf_counter() - started) * 1000)
            failures += status != 200
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

    return {
        "requests": len(paths),
        "failures": failures,
        "rps": len(paths) / seconds,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
    }


def get(
    port: int, path: str, token: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    return response.status, dict(response.getheaders()), body


def get_token(port: int, key: Any) -> str:
    import http.client
    from urllib.parse import urlencode

    url = f"http://127.0.0.1:{port}/auth/token"
    signed = jwt.encode(
        {
            "iss": "bench",
            "sub": "bench",
            "aud": url,
            "jti": uuid.uuid4().hex,
            "exp": int(time.time()) + 120,
        },
        key,
        algorithm="ES384",
    )
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "scope": "system/*.rs",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        }
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(
        "POST",
        "/auth/token",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    body = orjson.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"no token: {body}")
    token: str = body["access_token"]
    return token


def ids_of(data: Path, resource_type: str, limit: int, field: str = "id") -> list[str]:
    found: list[str] = []
    for path in sorted(data.glob(f"{resource_type}*.ndjson")):
        with path.open("rb") as handle:
            for line in handle:
                value = orjson.loads(line)
                found.append(value["id"] if field == "id" else value["subject"]["reference"])
                if len(found) >= limit * 4:
                    break
    random.Random(7).shuffle(found)
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    console = Console(width=130)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hygie-bench-api-"))
    data, warehouse_path = workdir / "ndjson", workdir / "warehouse"
    try:
        console.print(f"building {args.resources:,} resources in {workdir}")
        replicate(data, args.resources, SAMPLE)
        settings = Settings(warehouse=warehouse_path)
        warehouse = Warehouse(settings)
        ingest(warehouse, [str(data)])
        key = ec.generate_private_key(ec.SECP384R1())
        public = orjson.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        (workdir / "bench.jwks.json").write_bytes(orjson.dumps({"keys": [public]}))
        add_client(
            warehouse,
            "bench",
            client_id="bench",
            jwks_path=workdir / "bench.jwks.json",
            scopes="system/*.rs",
        )
        read_ids = ids_of(data, "Observation", args.requests)
        subjects = ids_of(data, "Observation", max(100, args.requests // 5), field="subject")
        results = run_server_benchmarks(args, warehouse_path, key, read_ids, subjects)
        results.update(run_references(args, warehouse, results["body_bytes"]))
        report(console, args, results)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run_server_benchmarks(
    args: argparse.Namespace,
    warehouse_path: Path,
    key: Any,
    read_ids: list[str],
    subjects: list[str],
) -> dict[str, Any]:
    port = free_port()
    launched = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(warehouse_path), str(port)],
        stderr=subprocess.PIPE,
        cwd=HERE.parent,
    )
    try:
        wait_until_up(port, process)
        # From launch to the first answer: imports, opening the warehouse, and building the
        # serving store from the care zone (a first start; later starts only catch up).
        startup = time.perf_counter() - launched
        token = get_token(port, key)
        paths = [f"/Observation/{i}" for i in read_ids]
        status, _, body = get(port, paths[0], token)
        assert status == 200, body[:300]
        results: dict[str, Any] = {"body_bytes": len(body), "startup_seconds": startup}
        results["read_cold"] = asyncio.run(load(port, paths, token, args.concurrency))
        results["read_warm"] = asyncio.run(load(port, paths, token, args.concurrency))
        searches = [f"/Observation?patient={s}&_count=10" for s in subjects]
        results["search"] = asyncio.run(load(port, searches, token, args.concurrency))
        started = time.perf_counter()
        status, headers, _ = get(port, "/$export", token, {"Prefer": "respond-async"})
        assert status == 202, status
        location = headers["content-location"].split(str(port), 1)[1]
        while True:
            status, _, body = get(port, location, token)
            if status == 200:
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        manifest = orjson.loads(body)
        exported = sum(o["count"] for o in manifest["output"])
        results["export"] = {"resources": exported, "seconds": seconds, "rps": exported / seconds}
        return results
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_references(
    args: argparse.Namespace, warehouse: Warehouse, body_bytes: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", BARE, str(port), str(body_bytes)], stderr=subprocess.PIPE
    )
    try:
        wait_until_up(port, process)
        paths = [f"/Observation/{i}" for i in range(args.requests)]
        results["bare_http"] = asyncio.run(load(port, paths, "x", args.concurrency))
    finally:
        process.terminate()
        process.wait(timeout=60)
    out = warehouse.path / "reference-export.ndjson"
    with warehouse.reading() as engine:
        started = time.perf_counter()
        engine.execute(
            "COPY (SELECT CAST(resource AS VARCHAR) FROM resource ORDER BY resource_type, id) "
            f"TO '{out}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01')"
        )
        seconds = time.perf_counter() - started
        rows = engine.fetchall("SELECT COUNT(*) FROM resource")[0][0]
    results["duckdb_export"] = {"resources": rows, "seconds": seconds, "rps": rows / seconds}
    # The serving store built again from nothing, alone (the server did it when it started).
    store_path = serving_path(warehouse.path, "care")
    for leftover in store_path.parent.glob(store_path.name + "*"):
        leftover.unlink()
    with warehouse.writing() as engine:
        store = ServingStore(store_path)
        started = time.perf_counter()
        built = store.catch_up(engine, warehouse.path.resolve())
        results["serving_build"] = {"resources": built, "seconds": time.perf_counter() - started}
        started = time.perf_counter()
        store.catch_up(engine, warehouse.path.resolve())
        results["serving_noop"] = time.perf_counter() - started
        store.close()
    return results


def report(console: Console, args: argparse.Namespace, results: dict[str, Any]) -> None:
    table = Table(
        title=f"FHIR API on loopback, {args.concurrency} connections, "
        f"{args.requests:,} requests per run"
    )
    for column in ("measure", "req/s or res/s", "p50 ms", "p95 ms", "p99 ms", "target"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    rows = [
        ("read by id, cold (serving store)", results["read_cold"], "≥ 1,000 req/s, p99 ≤ 25 ms"),
        ("read by id, warm (read cache)", results["read_warm"], "≥ 1,000 req/s, p99 ≤ 25 ms"),
        ("search Observation?patient=&_count=10", results["search"], ""),
        ("reference: bare uvicorn, same body size", results["bare_http"], ""),
    ]
    for name, figures, target in rows:
        table.add_row(
            name,
            f"{figures['rps']:,.0f}",
            f"{figures['p50']:.1f}",
            f"{figures['p95']:.1f}",
            f"{figures['p99']:.1f}",
            target,
        )
    export, reference = results["export"], results["duckdb_export"]
    table.add_row(
        f"Bulk export, {export['resources']:,} resources (kick-off to manifest)",
        f"{export['rps']:,.0f}",
        "",
        "",
        "",
        "≥ 50,000 res/s",
    )
    table.add_row(
        f"reference: DuckDB COPY to NDJSON, {reference['resources']:,} resources",
        f"{reference['rps']:,.0f}",
        "",
        "",
        "",
        "",
    )
    console.print(table)
    build = results["serving_build"]
    console.print(
        f"server start (warehouse opened, serving store built from the care zone): "
        f"{results['startup_seconds']:.1f} s; the store alone: {build['resources']:,} resources "
        f"in {build['seconds']:.1f} s, a catch-up with nothing new {results['serving_noop']:.2f} s"
    )
    failures = sum(results[k]["failures"] for k in ("read_cold", "read_warm", "search"))
    console.print(
        f"failed requests: {failures}; body {results['body_bytes']} bytes; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
    )


if __name__ == "__main__":
    main()
