"""The FHIR API and its controls: serve, clients add/list/revoke, audit verify/export/show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from hygie.cli.app import JsonOption, app, open_warehouse, state
from hygie.errors import InputError
from hygie.terminal import console, errors, print_json, table

clients_app = typer.Typer(
    help="Applications allowed to use the FHIR API (SMART Backend Services).", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit trail of the API.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(audit_app, name="audit")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    zone: Annotated[str, typer.Option(help="Zone served: care or research.")] = "care",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Public URL (for links behind a proxy).")
    ] = None,
    token_key: Annotated[
        Path | None, typer.Option("--token-key", help="Key signing access tokens (mode 0600).")
    ] = None,
) -> None:
    """Serve the FHIR R4 REST API, Bulk Data export and SMART token endpoint.

    Every request needs a token from POST /auth/token (client_credentials with a signed JWT);
    every request is recorded in the audit trail. The server is the warehouse's writer while it
    runs: stop it before `hygie ingest`.
    """
    from hygie.api.server import serve as run_server

    errors.print(
        f"FHIR API on {base_url or f'http://{host}:{port}'} (zone {zone}); Ctrl-C stops it"
    )
    run_server(state.settings, host, port, zone=zone, base_url=base_url, token_key=token_key)


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="A name for people (e.g. telemonitoring-app).")],
    jwks: Annotated[Path, typer.Option("--jwks", help="The client's public keys (JWK Set file).")],
    scopes: Annotated[
        str, typer.Option(help='Granted SMART v2 scopes, e.g. "system/Observation.rs patient/*.r".')
    ],
    zone: Annotated[str, typer.Option(help="care or research.")] = "care",
    patient: Annotated[
        str | None, typer.Option("--patient", help="Confine patient/ scopes to this Patient id.")
    ] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="Choose the id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a client and its public keys; prints its client_id."""
    from hygie.api.clients import add_client

    record = add_client(
        open_warehouse(), name, jwks_path=jwks, scopes=scopes, zone=zone,
        patient_id=patient, client_id=client_id,
    )  # fmt: skip
    if as_json:
        print_json(record.as_dict())
    else:
        console.print(f"client [bold]{record.client_id}[/bold] registered (zone {record.zone})")


@clients_app.command("list")
def clients_list(as_json: JsonOption = False) -> None:
    """The registered clients (revoked ones included, with their date)."""
    from hygie.api.clients import list_clients

    records = list_clients(open_warehouse())
    if as_json:
        print_json([r.as_dict() for r in records])
        return
    console.print(
        table(
            "Clients",
            ["client_id", "name", "zone", "scopes", "patient", "created", "revoked"],
            [
                (r.client_id, r.name, r.zone, r.scopes, r.patient_id, r.created_at, r.revoked_at)
                for r in records
            ],
        )
    )


@clients_app.command("revoke")
def clients_revoke(client_id: Annotated[str, typer.Argument(help="The client to revoke.")]) -> None:
    """Revoke a client: it gets no new token (running servers refuse it after a restart)."""
    from hygie.api.clients import revoke_client

    revoke_client(open_warehouse(), client_id)
    console.print(f"client {client_id} revoked")


@audit_app.command("verify")
def audit_verify(as_json: JsonOption = False) -> None:
    """Check the whole hash chain; name the first broken record. Keep the printed head elsewhere:
    it reveals records cut off the end."""
    from hygie.api.audit import audit_path, verify

    report = verify(audit_path(state.settings.warehouse))
    if as_json:
        print_json(report.summary())
    elif report.ok:
        console.print(f"audit trail intact: {report.records:,} records, head {report.head}")
    else:
        console.print(
            f"[bold red]audit trail broken[/bold red] at line {report.broken_line} "
            f"(record {report.broken_seq}): {report.reason}"
        )
    if not report.ok:
        raise typer.Exit(code=9)


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option("--out", help="NDJSON file of FHIR AuditEvent resources.")],
    since: Annotated[
        str | None, typer.Option(help="Only records from this date or time (ISO 8601).")
    ] = None,
) -> None:
    """Write the audit records as FHIR AuditEvent resources (IHE BALP where it applies)."""
    from hygie.api.audit import audit_path
    from hygie.api.audit_event import export

    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since)
        except ValueError as exc:
            raise InputError(f"--since {since!r} is not an ISO 8601 date or time") from exc
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    count = export(audit_path(state.settings.warehouse), out, start)
    console.print(f"{count:,} AuditEvent resources written to {out}")


@audit_app.command("show")
def audit_show(
    patient: Annotated[str, typer.Option("--patient", help="A Patient id.")],
    as_json: JsonOption = False,
) -> None:
    """Who accessed this patient's data: time, client, address, interaction, outcome."""
    from hygie.api.audit import audit_path, show

    records = show(audit_path(state.settings.warehouse), patient)
    if as_json:
        print_json(records)
        return
    columns = ["time", "client", "ip", "interaction", "path", "status", "outcome"]
    console.print(
        table(
            f"Accesses to Patient/{patient}",
            columns,
            [tuple(r.get(c) for c in columns) for r in records],
        )
    )
