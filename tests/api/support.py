"""What the API tests share: a real server on 127.0.0.1 over a warehouse with three Synthea
patients, clients with their keys, and helpers to talk to it.

Clients are registered with freshly made keys before the server starts (it holds the writer
lock); tests get tokens the way a real client does, with a signed assertion.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hygie.api.clients import add_client, revoke_client
from hygie.api.server import BackgroundServer, api_context
from hygie.config import Settings
from hygie.warehouse.ingest import ingest
from hygie.warehouse.warehouse import Warehouse
from tests.conftest import SYNTHEA

BUNDLES = sorted((SYNTHEA / "generated-sample-data-r4").glob("*.json"))[:3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ClientKey:
    """A client's private key, the algorithm it signs with and its key id."""

    private: Any
    algorithm: str
    kid: str

    def jwks(self) -> dict[str, Any]:
        algorithm = jwt.algorithms.get_default_algorithms()[self.algorithm]
        public = orjson.loads(algorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": self.algorithm}]}


def make_key(algorithm: str) -> ClientKey:
    if algorithm == "ES384":
        private: Any = ec.generate_private_key(ec.SECP384R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ClientKey(private, algorithm, uuid.uuid4().hex[:8])


def assertion(
    key: ClientKey, client_id: str, audience: str, *, expires_in: int = 120, **changes: Any
) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


@dataclass
class Api:
    """The running server and what tests need to talk to it."""

    base_url: str
    settings: Settings
    keys: dict[str, ClientKey]
    patient_a: str
    patient_b: str
    http: httpx.Client

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/token"

    def token_response(self, client_id: str, scope: str, **changes: Any) -> httpx.Response:
        key = changes.pop("key", None) or self.keys[client_id]
        audience = changes.pop("audience", self.token_url)
        signed = assertion(key, client_id, audience, **changes)
        return self.http.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
                "scope": scope,
            },
        )

    def token(self, client_id: str, scope: str) -> str:
        response = self.token_response(client_id, scope)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def get(self, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.get(f"{self.base_url}{path}", headers=headers, **kwargs)

    def send(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if "json" in kwargs:
            kwargs["content"] = orjson.dumps(kwargs.pop("json"))
            headers.setdefault("Content-Type", "application/fhir+json")
        return self.http.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)

    @property
    def audit_file(self) -> Path:
        return self.settings.warehouse / "audit" / "audit-log.jsonl"

    def audit_records(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.audit_file.read_bytes().splitlines()]


CLIENTS: dict[str, tuple[str, str, str, str | None]] = {
    # client id: (algorithm, zone, registered scopes, patient)
    "ops": ("RS384", "care", "system/*.cruds", None),
    "lab": ("ES384", "care", "system/Observation.rs", None),
    "portal-a": ("ES384", "care", "patient/*.rs", "A"),
    "research": ("ES384", "research", "system/*.rs", None),
    "retired": ("ES384", "care", "system/*.rs", None),
}


def patient_ids(warehouse: Warehouse) -> list[str]:
    with warehouse.reading() as engine:
        rows = engine.fetchall(
            "SELECT id FROM resource WHERE resource_type = 'Patient' ORDER BY id"
        )
    return [row[0] for row in rows]


def prepare_warehouse(root: Path) -> tuple[Settings, dict[str, ClientKey], list[str]]:
    """A warehouse with the Synthea bundles and the registered clients."""
    settings = Settings(warehouse=root / "warehouse", lock_timeout=60.0, batch_size=500)
    warehouse = Warehouse(settings)
    ingest(warehouse, [str(p) for p in BUNDLES])
    patients = patient_ids(warehouse)
    keys: dict[str, ClientKey] = {}
    for client_id, (algorithm, zone, scopes, patient) in CLIENTS.items():
        keys[client_id] = make_key(algorithm)
        jwks_path = root / f"{client_id}.jwks.json"
        jwks_path.write_bytes(orjson.dumps(keys[client_id].jwks()))
        add_client(
            warehouse,
            client_id,
            client_id=client_id,
            jwks_path=jwks_path,
            scopes=scopes,
            zone=zone,
            patient_id=patients[0] if patient == "A" else None,
        )
    revoke_client(warehouse, "retired")
    return settings, keys, patients


TEMPLATE: dict[str, Any] = {}


def copy_template(destination: Path) -> None:
    """A copy of the prepared warehouse at ``destination`` (prepared on first use)."""
    if "settings" not in TEMPLATE:
        template = TEMPLATE.get("root") or Path(tempfile.mkdtemp(prefix="hygie-api-template-"))
        TEMPLATE.update(
            zip(("settings", "keys", "patients"), prepare_warehouse(template), strict=True)
        )
    shutil.copytree(TEMPLATE["settings"].warehouse, destination)


def start_api(
    tmp: Path, *, max_body_bytes: int | None = None, register: dict[str, Path] | None = None
) -> Iterator[Api]:
    """A server over a copy of a prepared warehouse (prepared once per test session), or over
    ``tmp / "warehouse"`` when the test made it (see :func:`copy_template`)."""
    if not (tmp / "warehouse").exists():
        copy_template(tmp / "warehouse")
    settings = Settings(warehouse=tmp / "warehouse", lock_timeout=60.0, batch_size=500)
    keys, patients = TEMPLATE["keys"], TEMPLATE["patients"]
    for client_id, jwks_path in (register or {}).items():
        add_client(
            Warehouse(settings),
            client_id,
            client_id=client_id,
            jwks_path=jwks_path,
            scopes="system/Observation.rs",
        )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    extra = {} if max_body_bytes is None else {"max_body_bytes": max_body_bytes}
    with (
        api_context(settings, base_url=base_url, **extra) as context,
        BackgroundServer(context, port),
        httpx.Client(timeout=30) as http,
    ):
        yield Api(base_url, settings, keys, patients[0], patients[1], http)


def bundle_resources() -> list[dict[str, Any]]:
    """The resources of the ingested bundles, as written in the files."""
    found = []
    for path in BUNDLES:
        for entry in orjson.loads(path.read_bytes())["entry"]:
            found.append(entry["resource"])
    return found


def wait_for_audit(api: Api, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The audit records once there are at least ``count`` (the record of a request is
    appended just after its response is sent)."""
    deadline = time.monotonic() + timeout
    while True:
        records = api.audit_records()
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.02)
