"""SMART Backend Services tokens: client assertions in, short-lived access tokens out.

The client signs a JWT (RS384 or ES384) with its private key; the server checks it against the
client's registered public keys (``iss`` = ``sub`` = client id, ``aud`` = the token endpoint,
``exp`` at most five minutes ahead, ``jti`` never seen before) and issues an access token signed
with the server's own key (HS256), kept in a file readable by its owner only.
Spec: https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson

from hygie.api.clients import ASSERTION_ALGORITHMS, QUERIES
from hygie.api.scopes import Grant, Scope, grant_scopes, parse_scopes
from hygie.errors import AuthError, ConfigError
from hygie.warehouse.engine import Engine

ACCESS_TOKEN_SECONDS = 300
MAX_ASSERTION_SECONDS = 300
CLOCK_LEEWAY_SECONDS = 30
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_ALGORITHM = "HS256"


def load_server_key(path: Path) -> bytes:
    """The server's token signing key, created (mode 0600) when missing.

    A key file readable by others is refused: whoever reads it can mint tokens.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32).hex().encode())
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"the token signing key {path} is readable by others (mode {mode:o}): "
            f"run `chmod 600 {path}`"
        )
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ConfigError(f"the token signing key {path} is too short; delete it to renew it")
    return key


@dataclass(frozen=True)
class Principal:
    """Who is calling, as stated by a verified access token."""

    client_id: str
    zone: str
    grant: Grant
    expires_at: float


class TokenService:
    """Checks client assertions, issues access tokens and verifies them."""

    def __init__(self, key: bytes, issuer: str, token_url: str, zone: str) -> None:
        self.key = key
        self.issuer = issuer
        self.token_url = token_url
        self.zone = zone
        self.seen_jti: dict[str, float] = {}
        self.active_clients: frozenset[str] = frozenset()
        """Clients registered and not revoked when the server started (the registry cannot
        change while it runs: it holds the writer lock)."""
        self.verified: dict[str, Principal] = {}
        self.lock = threading.Lock()

    def exchange(self, engine: Engine, form: dict[str, str]) -> tuple[dict[str, Any], str]:
        """Answer a token request; return (response body, client id). Raises AuthError."""
        if form.get("grant_type") != "client_credentials":
            raise AuthError("unsupported_grant_type: only client_credentials is supported")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise AuthError(f"invalid_request: client_assertion_type must be {ASSERTION_TYPE}")
        assertion = form.get("client_assertion", "")
        client_id, client = self._client_of(engine, assertion)
        claims = self._verify_assertion(assertion, client_id, client)
        if client["zone"] != self.zone:
            raise AuthError(
                f"invalid_client: client {client_id} is bound to the {client['zone']} zone, "
                f"this server serves the {self.zone} zone"
            )
        allowed = parse_scopes(client["scopes"])
        granted = grant_scopes(
            form.get("scope", ""), allowed, patient_bound=client["patient_id"] is not None
        )
        if not granted:
            raise AuthError("invalid_scope: none of the requested scopes is granted to this client")
        now = int(time.time())
        token_claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": client_id,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": secrets.token_hex(16),
            "scope": " ".join(s.text for s in granted),
            "zone": self.zone,
            "assertion_jti": claims["jti"],
        }
        body: dict[str, Any] = {
            "access_token": "",
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": token_claims["scope"],
        }
        if client["patient_id"] is not None:
            token_claims["patient"] = client["patient_id"]
            body["patient"] = client["patient_id"]
        body["access_token"] = jwt.encode(token_claims, self.key, algorithm=TOKEN_ALGORITHM)
        return body, client_id

    def _client_of(self, engine: Engine, assertion: str) -> tuple[str, dict[str, Any]]:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid_client: the client assertion is not a JWT ({exc})") from exc
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or not client_id:
            raise AuthError("invalid_client: the client assertion has no iss")
        rows = engine.fetchall(QUERIES["client_by_id"], {"client_id": client_id})
        if not rows:
            raise AuthError("invalid_client: unknown client")
        cid, name, zone, scopes, patient_id, jwks, revoked_at = rows[0]
        if revoked_at is not None:
            raise AuthError(f"invalid_client: client {cid} is revoked")
        client = {"name": name, "zone": zone, "scopes": scopes, "patient_id": patient_id}
        client["jwks"] = orjson.loads(jwks)
        return cid, client

    def _verify_assertion(
        self, assertion: str, client_id: str, client: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid_client: unreadable assertion header ({exc})") from exc
        algorithm = header.get("alg")
        if algorithm not in ASSERTION_ALGORITHMS:
            raise AuthError(
                f"invalid_client: assertion algorithm {algorithm!r} is not one of "
                f"{', '.join(ASSERTION_ALGORITHMS)}"
            )
        keys = [
            k
            for k in client["jwks"]["keys"]
            if header.get("kid") in (None, k.get("kid"))
            and k.get("kty") == ("RSA" if algorithm == "RS384" else "EC")
        ]
        if not keys:
            raise AuthError("invalid_client: no registered key matches the assertion's kid/alg")
        claims: dict[str, Any] | None = None
        last_error: Exception | None = None
        for key in keys:
            try:
                claims = jwt.decode(
                    assertion,
                    jwt.PyJWK(key, algorithm=algorithm).key,
                    algorithms=[algorithm],
                    audience=self.token_url,
                    issuer=client_id,
                    leeway=CLOCK_LEEWAY_SECONDS,
                    options={"require": ["iss", "sub", "aud", "exp", "jti"]},
                )
                break
            except jwt.PyJWTError as exc:
                last_error = exc
        if claims is None:
            raise AuthError(f"invalid_client: assertion refused ({last_error})")
        if claims["sub"] != client_id:
            raise AuthError("invalid_client: assertion sub differs from iss")
        now = time.time()
        if float(claims["exp"]) > now + MAX_ASSERTION_SECONDS + CLOCK_LEEWAY_SECONDS:
            raise AuthError("invalid_client: assertion exp is more than five minutes ahead")
        jti = str(claims["jti"])
        with self.lock:
            for old, expiry in list(self.seen_jti.items()):
                if expiry < now - CLOCK_LEEWAY_SECONDS:
                    del self.seen_jti[old]
            if f"{client_id}\x1f{jti}" in self.seen_jti:
                raise AuthError("invalid_client: assertion jti already used (replay)")
            self.seen_jti[f"{client_id}\x1f{jti}"] = float(claims["exp"])
        return claims

    def load_active_clients(self, engine: Engine) -> None:
        """Remember which clients may use tokens (call when the server starts)."""
        rows = engine.fetchall(QUERIES["active_clients"], {"zone": self.zone})
        self.active_clients = frozenset(row[0] for row in rows)

    def principal(self, authorization: str | None) -> Principal:
        """The caller of a request from its Authorization header. Raises AuthError."""
        if not authorization or not authorization.startswith(("Bearer ", "bearer ")):
            raise AuthError("no bearer token: get one at /auth/token")
        token = authorization[7:].strip()
        now = time.time()
        cached = self.verified.get(token)
        if cached is not None and cached.expires_at > now:
            return cached
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[TOKEN_ALGORITHM],
                audience=self.issuer,
                issuer=self.issuer,
                options={"require": ["iss", "aud", "sub", "exp", "scope", "zone"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the access token has expired: get a new one") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"the access token is not valid here ({exc})") from exc
        if claims["zone"] != self.zone:
            raise AuthError(f"the access token is for the {claims['zone']} zone")
        if claims["sub"] not in self.active_clients:
            raise AuthError("the access token's client is revoked or unknown")
        scopes: tuple[Scope, ...] = tuple(parse_scopes(str(claims["scope"])))
        patient = claims.get("patient")
        principal = Principal(
            str(claims["sub"]),
            str(claims["zone"]),
            Grant(scopes, str(patient) if patient is not None else None),
            float(claims["exp"]),
        )
        with self.lock:
            if len(self.verified) > 10_000:
                self.verified = {t: p for t, p in self.verified.items() if p.expires_at > now}
            self.verified[token] = principal
        return principal
