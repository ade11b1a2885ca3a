"""Listeners for feeds that push messages: listen mllp."""

from __future__ import annotations

from typing import Annotated

import typer

from hygie.cli.app import app, open_warehouse
from hygie.terminal import console, errors

listen_app = typer.Typer(help="Receive messages pushed by hospital systems.", no_args_is_help=True)
app.add_typer(listen_app, name="listen")


@listen_app.command("mllp")
def listen_mllp(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (2575 is the usual MLLP port).")] = 2575,
    timezone: Annotated[
        str, typer.Option(help="Zone of HL7 times sent without an offset.")
    ] = "Europe/Paris",
) -> None:
    """Receive HL7 v2 messages over MLLP and store them before acknowledging them.

    Each message is committed to the warehouse (raw zone, then FHIR) before its ACK (AA) is sent;
    bad messages are quarantined and answered AE/AR with an ERR segment; a repeated MSH-10
    control id is acknowledged but stored once. Stops cleanly on SIGTERM or Ctrl-C. The listener
    is the warehouse's writer while it runs.
    """
    from hygie.sources.hl7v2.mllp import run_mllp_listener

    warehouse = open_warehouse()

    def ready(bound: int) -> None:
        errors.print(f"listening for MLLP on {host}:{bound} (warehouse {warehouse.path})")

    stats = run_mllp_listener(warehouse, host, port, timezone=timezone, on_ready=ready)
    console.print(f"stopped: {stats}")
