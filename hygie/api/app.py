"""The FastAPI application: routes by concept, FHIR errors, size limits and the audit of each
request (failed ones included)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hygie.api import routes_auth, routes_export, routes_read, routes_write
from hygie.api.access import note
from hygie.api.bulk_export import ExportJobs
from hygie.api.capability import capability_statement
from hygie.api.context import ApiContext
from hygie.api.outcome import FhirError, error_response, fhir_response
from hygie.errors import HygieError

MAX_QUERY_ITEMS = 100


def outcome_of(status: int) -> str:
    """The audit outcome of an HTTP status."""
    if status < 400:
        return "success"
    if status in (401, 403):
        return "denied"
    return "refused" if status < 500 else "failure"


class AuditMiddleware:
    """Refuses oversized requests early and appends one audit record per request."""

    def __init__(self, app: ASGIApp, context: ApiContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        notes: dict[str, Any] = scope.setdefault("state", {}).setdefault("audit", {})
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            rejection = self._early_rejection(scope)
            if rejection is not None:
                notes["detail"] = rejection.diagnostics
                await error_response(rejection)(scope, receive, send_noting_status)
            else:
                await self.app(scope, receive, send_noting_status)
        finally:
            client = scope.get("client")
            record = {
                "time": datetime.now(UTC).isoformat(),
                "zone": self.context.zone.name,
                "client": notes.pop("client", None),
                "ip": client[0] if client else None,
                "method": scope.get("method"),
                "path": scope.get("path", "")[:300],
                "status": status,
                "outcome": outcome_of(status),
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "interaction": notes.pop("interaction", None),
                "resource_type": notes.pop("resource_type", None),
                "resources": notes.pop("resources", []),
                "patients": notes.pop("patients", []),
                **notes,
            }
            self.context.audit.append(record)

    def _early_rejection(self, scope: Scope) -> FhirError | None:
        for name, value in scope.get("headers", []):
            too_large = not value.isdigit() or int(value) > self.context.max_body_bytes
            if name == b"content-length" and too_large:
                return FhirError(413, f"the body is over {self.context.max_body_bytes} bytes")
        if scope.get("query_string", b"").count(b"&") >= MAX_QUERY_ITEMS:
            return FhirError(400, f"more than {MAX_QUERY_ITEMS} query parameters")
        return None


def create_app(context: ApiContext) -> FastAPI:
    """The application serving ``context``'s zone."""
    app = FastAPI(
        title="Hygie FHIR API",
        # The description of the endpoints (no data): for clients' tooling and API fuzzers.
        # The FHIR view of the same server is its CapabilityStatement, at /metadata.
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.context = context
    context.exports = ExportJobs(context)

    @app.get("/metadata")
    async def metadata(request: Request) -> Response:
        note(request, interaction="capabilities")
        return fhir_response(
            capability_statement(context.base_url, context.tokens.token_url, context.zone.name)
        )

    app.include_router(routes_auth.router)
    app.include_router(routes_export.router)
    app.include_router(routes_write.router)
    app.include_router(routes_read.router)

    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, exc: FhirError) -> Response:
        note(request, detail=exc.diagnostics[:300])
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        detail = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
        note(request, detail=detail)
        return error_response(FhirError(exc.status_code, detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        note(request, detail="invalid request")
        return error_response(FhirError(400, "the request is not valid for this endpoint"))

    @app.exception_handler(HygieError)
    async def hygie_error(request: Request, exc: HygieError) -> Response:
        note(request, detail=type(exc).__name__)
        return error_response(
            FhirError(500, "the server could not complete the request", code="exception")
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # The message may hold data: only the error's kind goes to the client and the audit.
        note(request, detail=type(exc).__name__)
        return error_response(FhirError(500, "internal error", code="exception"))

    app.add_middleware(AuditMiddleware, context=context)
    return app
