"""The registry of SMART Backend Services clients, kept in the warehouse (table api_client).

A client is registered with its public keys (a JWK Set file), the zone it is bound to, the
scopes it may be granted and, for a patient-facing client, the one patient it acts for::

    add_client(warehouse, "lab-app", jwks_path=Path("lab-app.jwks.json"), zone="care",
               scopes="system/Observation.rs system/Patient.rs")

The registry is written while no server runs (the server holds the warehouse's writer lock).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import orjson

from hygie.api.scopes import ScopeSyntaxError, parse_scopes
from hygie.api.zones import ZONE_NAMES
from hygie.errors import InputError
from hygie.fhir.validation import is_valid_id
from hygie.warehouse.engine import Engine
from hygie.warehouse.sql import load_statements
from hygie.warehouse.warehouse import Warehouse

STATEMENTS = load_statements("hygie.api", "api.sql")
QUERIES = load_statements("hygie.api", "queries.sql")
ASSERTION_ALGORITHMS = ("RS384", "ES384")
"""Client assertion algorithms SMART Backend Services requires servers to support."""


@dataclass(frozen=True)
class ClientRecord:
    """A registered client (its keys stay in the warehouse, never shown)."""

    client_id: str
    name: str
    zone: str
    scopes: str
    patient_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "zone": self.zone,
            "scopes": self.scopes,
            "patient_id": self.patient_id,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def ensure_tables(engine: Engine) -> None:
    """Create the API's tables in the warehouse when missing."""
    for statement in STATEMENTS.values():
        engine.execute(statement)


def read_jwks(document: bytes, origin: str) -> dict[str, Any]:
    """Check a JWK Set of public keys usable for RS384/ES384 client assertions."""
    try:
        jwks = orjson.loads(document)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{origin}: not JSON ({exc})") from exc
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise InputError(f'{origin}: expected a JWK Set, {{"keys": [...]}} with at least one key')
    for index, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            raise InputError(f"{origin}: key {index} is not an RSA or EC JWK")
        if "d" in key:
            raise InputError(
                f"{origin}: key {index} holds a private part ('d'); register the public keys only"
            )
        try:
            jwt.PyJWK(key, algorithm="RS384" if key["kty"] == "RSA" else "ES384")
        except jwt.PyJWTError as exc:
            raise InputError(f"{origin}: key {index} cannot be read: {exc}") from exc
    return {"keys": keys}


def add_client(
    warehouse: Warehouse,
    name: str,
    *,
    jwks_path: Path,
    scopes: str,
    zone: str = "care",
    patient_id: str | None = None,
    client_id: str | None = None,
) -> ClientRecord:
    """Register a client; return it (``client_id`` is generated when not given)."""
    jwks = read_jwks(_read(jwks_path), str(jwks_path))
    if zone not in ZONE_NAMES:
        raise InputError(f"zone {zone!r} is not one of {', '.join(ZONE_NAMES)}")
    try:
        parsed = parse_scopes(scopes)
    except ScopeSyntaxError as exc:
        raise InputError(str(exc)) from exc
    if not parsed:
        raise InputError("give the client at least one resource scope, e.g. system/*.rs")
    contexts = {s.context for s in parsed}
    if patient_id is not None:
        if not is_valid_id(patient_id):
            raise InputError(f"patient id {patient_id!r} is not a FHIR id")
        if contexts != {"patient"}:
            raise InputError("a client bound to a patient may only hold patient/ scopes")
    elif "patient" in contexts:
        raise InputError("patient/ scopes need the patient the client acts for (--patient)")
    client_id = client_id or secrets.token_urlsafe(12)
    if not is_valid_id(client_id):
        raise InputError(f"client id {client_id!r} must match [A-Za-z0-9-.]{{1,64}}")
    now = datetime.now(UTC)
    with warehouse.writing() as engine:
        ensure_tables(engine)
        if engine.fetchall(QUERIES["client_by_id"], {"client_id": client_id}):
            raise InputError(f"a client {client_id!r} is already registered")
        engine.execute(
            QUERIES["insert_client"],
            {
                "client_id": client_id,
                "name": name,
                "zone": zone,
                "scopes": " ".join(s.text for s in parsed),
                "patient_id": patient_id,
                "jwks": orjson.dumps(jwks).decode(),
                "now": now,
            },
        )
    return ClientRecord(
        client_id, name, zone, " ".join(s.text for s in parsed), patient_id, now, None
    )


def list_clients(warehouse: Warehouse) -> list[ClientRecord]:
    """Every registered client, revoked ones included."""
    with warehouse.writing() as engine:
        ensure_tables(engine)
        rows = engine.fetchall(QUERIES["list_clients"])
    return [ClientRecord(*row) for row in rows]


def revoke_client(warehouse: Warehouse, client_id: str) -> None:
    """Revoke a client: it gets no new token (tokens already issued expire within minutes)."""
    with warehouse.writing() as engine:
        ensure_tables(engine)
        revoked = engine.fetchall(
            QUERIES["revoke_client"], {"client_id": client_id, "now": datetime.now(UTC)}
        )
    if not revoked:
        raise InputError(f"no active client {client_id!r} (see `hygie clients list`)")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the JWK Set {path}: {exc}") from exc
