"""FHIR errors: every refusal of the API is an OperationOutcome with a useful message."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

FHIR_JSON = "application/fhir+json"
ISSUE_CODE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    500: "exception",
}
"""OperationOutcome.issue.code for each HTTP status (https://hl7.org/fhir/R4/valueset-issue-type.html)."""


class FhirError(Exception):
    """A request the API refuses: the HTTP status and what to tell the client."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_CODE_BY_STATUS.get(status, "processing")
        self.headers = headers or {}


def operation_outcome(
    diagnostics: str, *, code: str = "processing", severity: str = "error"
) -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def fhir_response(
    body: dict[str, Any] | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A response with a FHIR JSON body (already serialized when given as bytes)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status, headers=headers, media_type=FHIR_JSON)


def error_response(error: FhirError) -> Response:
    """The OperationOutcome response for ``error``."""
    return fhir_response(
        operation_outcome(error.diagnostics, code=error.code), error.status, error.headers
    )
