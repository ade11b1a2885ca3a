"""Bulk Data export endpoints: kick-off, status, cancel, files."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from hygie.api.access import authenticate, checked_id, note
from hygie.api.audit import ALL_PATIENTS
from hygie.api.bulk_export import ExportJob, ExportJobs
from hygie.api.compartment import compartment_clause, in_compartment_types, path_values
from hygie.api.context import ApiContext
from hygie.api.outcome import FhirError, fhir_response
from hygie.api.reads import EVERYTHING, Confinement, read_current, stored_json
from hygie.api.routes_read import confinement_for, context_of
from hygie.api.search import date_range
from hygie.api.tokens import Principal
from hygie.fhir.validation import r4_resource_types

router = APIRouter()
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
NDJSON = "application/fhir+ndjson"


@router.get("/$export")
async def export_system(request: Request) -> Response:
    """Export every resource of the zone the token may read."""
    return await _kick_off(request, "system", None)


@router.get("/Patient/$export")
async def export_patients(request: Request) -> Response:
    """Export the compartments of every patient (or of the token's patient)."""
    return await _kick_off(request, "patient", None)


@router.get("/Group/{group_id}/$export")
async def export_group(request: Request, group_id: str) -> Response:
    """Export the compartments of the patients a Group lists."""
    return await _kick_off(request, "group", checked_id(group_id))


async def _kick_off(request: Request, level: str, group_id: str | None) -> Response:
    context = context_of(request)
    note(request, interaction="export", resource_type=level)
    principal = authenticate(context, request)
    if "respond-async" not in request.headers.get("prefer", ""):
        raise FhirError(400, "a Bulk Data kick-off needs the header Prefer: respond-async")
    requested, since = _export_params(request)

    def plan() -> tuple[list[str], list[str]]:
        cursor = context.reader()
        present = [
            r[0]
            for r in cursor.fetchall(
                f"SELECT DISTINCT resource_type FROM {context.zone.current_view} ORDER BY 1"
            )
        ]
        members: list[str] | None = None
        if group_id is not None:
            members = _group_members(context, principal, group_id)
        return present, members or []

    present, members = await run_in_threadpool(plan)
    candidates = requested if requested is not None else present
    if level != "system":
        candidates = [t for t in candidates if t in in_compartment_types()]
    confinements: dict[str, Confinement] = {}
    for resource_type in candidates:
        access = principal.grant.access("r", resource_type)
        if access is None:
            if requested is not None:
                raise FhirError(403, f"the token's scopes do not allow reading {resource_type}")
            continue
        if level == "system":
            if access != "all":
                raise FhirError(403, "a system-level export needs system/ or user/ scopes")
            confinements[resource_type] = EVERYTHING
        elif level == "group":
            allowed = (
                members
                if access == "all"
                else [m for m in members if m == principal.grant.patient_id]
            )
            confinements[resource_type] = Confinement(allowed)
        else:
            confinements[resource_type] = (
                _AnyPatient()
                if access == "all"
                else confinement_for(access, principal.grant.patient_id)
            )
    if not confinements:
        raise FhirError(403, "the token's scopes allow none of the types to export")
    patients = (
        members
        if level == "group"
        else [principal.grant.patient_id]
        if principal.grant.patient_id and level == "patient"
        else [ALL_PATIENTS]
    )
    note(request, patients=[p for p in patients if p], parameters=sorted(request.query_params))
    exports: ExportJobs = context.exports
    job = exports.start(
        principal.client_id, str(request.url), sorted(confinements), since, confinements
    )
    job.patients = [p for p in patients if p]
    note(request, export_job=job.id)
    return Response(
        status_code=202, headers={"Content-Location": f"{context.base_url}/export-status/{job.id}"}
    )


class _AnyPatient(Confinement):
    """Resources in some patient's compartment (Patient-level export with full access)."""

    @property
    def confined(self) -> bool:
        return True

    def clause(self, resource_type: str) -> tuple[str, list[object]]:
        return compartment_clause(resource_type, None)


def _export_params(request: Request) -> tuple[list[str] | None, datetime | None]:
    types: list[str] | None = None
    since = None
    for name, value in request.query_params.multi_items():
        if name == "_type":
            types = [t.strip() for t in value.split(",") if t.strip()]
            unknown = [t[:40] for t in types if t not in r4_resource_types()]
            if unknown:
                raise FhirError(400, f"_type names unknown types: {', '.join(unknown)}")
        elif name == "_since":
            _, since, _ = date_range("_since", value)
        elif name == "_outputFormat":
            if value not in OUTPUT_FORMATS:
                raise FhirError(400, f"_outputFormat {value[:40]!r}: only NDJSON is written")
        else:
            raise FhirError(
                400,
                f"export parameter {name[:40]!r} is not supported (_type, _since, _outputFormat)",
            )
    return types, since


def _group_members(context: ApiContext, principal: Principal, group_id: str) -> list[str]:
    access = principal.grant.access("r", "Group")
    if access is None:
        raise FhirError(403, "the token's scopes do not allow reading Group")
    group = read_current(context.reader(), context.zone, "Group", group_id, context.root)
    if group is None:
        raise FhirError(404, f"no Group/{group_id}")
    references = path_values(stored_json(group.body), "$.member[*].entity.reference")
    return sorted(
        r.removeprefix("Patient/")
        for r in references
        if isinstance(r, str) and r.startswith("Patient/")
    )


def _job_of(request: Request, job_id: str) -> ExportJob:
    context = context_of(request)
    principal = authenticate(context, request)
    exports: ExportJobs = context.exports
    job = exports.jobs.get(job_id)
    if job is None or job.client_id != principal.client_id:
        # Another client's job is reported as absent: its existence is not disclosed.
        raise FhirError(404, "no such export job for this client")
    return job


@router.get("/export-status/{job_id}")
async def export_status(request: Request, job_id: str) -> Response:
    """202 with X-Progress while the job runs; 200 with the manifest when it is done."""
    note(request, interaction="export", detail="status")
    job = _job_of(request, job_id)
    context = context_of(request)
    if not job.finished.is_set():
        progress = f"{job.resources} resources written"
        return Response(status_code=202, headers={"X-Progress": progress, "Retry-After": "1"})
    if job.status == "failed":
        raise FhirError(500, "the export failed; see its error file", code="exception")
    return fhir_response(job.manifest(context.base_url))


@router.delete("/export-status/{job_id}")
async def export_cancel(request: Request, job_id: str) -> Response:
    """Cancel a job (or forget a finished one) and delete its files."""
    note(request, interaction="export", detail="cancel")
    job = _job_of(request, job_id)
    exports: ExportJobs = context_of(request).exports
    await run_in_threadpool(exports.cancel, job)
    return Response(status_code=202)


@router.get("/export-files/{job_id}/{file_name}")
async def export_file(request: Request, job_id: str, file_name: str) -> Response:
    """One file of a finished job, to the client that asked for it only."""
    note(request, interaction="export", detail="download")
    job = _job_of(request, job_id)
    exports: ExportJobs = context_of(request).exports
    path = exports.file_path(job, file_name) if job.finished.is_set() else None
    if path is None or not path.is_file():
        raise FhirError(404, "no such file in this export")
    note(request, resource_type=file_name.removesuffix(".ndjson"), patients=job.patients)
    return FileResponse(path, media_type=NDJSON)
