"""SMART Backend Services: discovery document and the token endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hygie.api.access import note
from hygie.api.clients import ASSERTION_ALGORITHMS
from hygie.api.routes_read import context_of
from hygie.errors import AuthError

router = APIRouter()
MAX_TOKEN_REQUEST_BYTES = 64 * 1024


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = orjson.dumps({"error": error, "error_description": description})
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/.well-known/smart-configuration")
async def smart_configuration(request: Request) -> Response:
    """How clients get tokens here (SMART App Launch 2.x discovery)."""
    context = context_of(request)
    note(request, interaction="capabilities")
    body: dict[str, Any] = {
        "issuer": context.tokens.issuer,
        "token_endpoint": context.tokens.token_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "scopes_supported": ["system/*.rs", "system/*.cruds", "patient/*.rs", "user/*.rs"],
        "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/auth/token")
async def token(request: Request) -> Response:
    """Exchange a signed client assertion for a short-lived access token."""
    context = context_of(request)
    note(request, interaction="token")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TOKEN_REQUEST_BYTES:
            return _oauth_error(400, "invalid_request", "the token request is too large")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "the form is not UTF-8")

    def exchange() -> tuple[dict[str, Any], str]:
        return context.tokens.exchange(context.reader(), form)

    try:
        answer, client_id = await run_in_threadpool(exchange)
    except AuthError as exc:
        code, _, description = str(exc).partition(": ")
        note(request, detail=str(exc)[:300])
        status = 401 if code == "invalid_client" else 400
        return _oauth_error(status, code, description or str(exc))
    note(request, client=client_id, detail=f"granted {answer['scope']}")
    return Response(
        orjson.dumps(answer),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
