"""Running the API: `hygie serve`, and a server in a thread for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from hygie.api.app import create_app
from hygie.api.audit import AuditLog, audit_path
from hygie.api.clients import ensure_tables
from hygie.api.context import MAX_BODY_BYTES, ApiContext
from hygie.api.reference_index import sync_reference_index
from hygie.api.serving import ServingStore, serving_path
from hygie.api.tokens import TokenService, load_server_key
from hygie.api.zones import zone_named
from hygie.config import Settings
from hygie.errors import ConfigError
from hygie.warehouse.warehouse import Warehouse

TOKEN_KEY_FILE = "api/token-signing.key"
EXPORT_DIRECTORY = "api/exports"


def default_token_key(settings: Settings) -> Path:
    """Where the token signing key lives unless told otherwise (created with mode 0600)."""
    return settings.warehouse / TOKEN_KEY_FILE


@contextmanager
def api_context(
    settings: Settings,
    *,
    base_url: str,
    zone: str = "care",
    token_key: Path | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Iterator[ApiContext]:
    """Open the warehouse for writing for as long as the server runs, with its audit log."""
    served = zone_named(zone)
    warehouse = Warehouse(settings)
    key = load_server_key(token_key or default_token_key(settings))
    with warehouse.writing() as engine:
        ensure_tables(engine)
        engine.execute("SET TimeZone = 'UTC'")
        sync_reference_index(engine)
        serving = ServingStore(serving_path(settings.warehouse, served.name))
        serving.catch_up(engine, warehouse.path.resolve())
        base = base_url.rstrip("/")
        tokens = TokenService(key, issuer=base, token_url=f"{base}/auth/token", zone=served.name)
        tokens.load_active_clients(engine)
        audit = AuditLog(audit_path(settings.warehouse))
        try:
            yield ApiContext(
                warehouse,
                engine,
                served,
                tokens,
                audit,
                base,
                settings.warehouse / EXPORT_DIRECTORY,
                max_body_bytes,
                serving,
            )
        finally:
            audit.close()
            serving.close()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    zone: str = "care",
    base_url: str | None = None,
    token_key: Path | None = None,
) -> None:
    """Run the API until interrupted (``hygie serve``).

    ``base_url`` is the address clients use (it is the ``aud`` their assertions must name,
    with ``/auth/token``); it defaults to ``http://host:port``.
    """
    base = base_url or f"http://{host}:{port}"
    with api_context(settings, base_url=base, zone=zone, token_key=token_key) as context:
        uvicorn.run(
            create_app(context),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )


class BackgroundServer:
    """A real uvicorn server on 127.0.0.1 in a thread (tests, benchmarks, examples)."""

    def __init__(self, context: ApiContext, port: int) -> None:
        config = uvicorn.Config(
            create_app(context),
            host="127.0.0.1",
            port=port,
            log_level="error",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="hygie-api", daemon=True)

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise ConfigError("the API server did not start (is the port free?)")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
