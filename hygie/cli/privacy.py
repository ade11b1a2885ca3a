"""Privacy commands: keys init, research build, objection add/remove/list, privacy risk."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from hygie.cli.app import JsonOption, app, open_warehouse
from hygie.terminal import console, print_json, progress_bar, table

keys_app = typer.Typer(
    help="Secret keys of the pseudonyms (kept outside the warehouse).", no_args_is_help=True
)
research_app = typer.Typer(help="The pseudonymized research zone.", no_args_is_help=True)
objection_app = typer.Typer(
    help="Patients' objections, honoured at the research zone boundary.", no_args_is_help=True
)
privacy_app = typer.Typer(
    help="Re-identification risk of what leaves the research zone.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(research_app, name="research")
app.add_typer(objection_app, name="objection")
app.add_typer(privacy_app, name="privacy")

ProjectOption = Annotated[str, typer.Option("--project", help="Research project name.")]
KeyFileOption = Annotated[
    Path | None,
    typer.Option("--key-file", help="Key file (default ~/.config/hygie/keys/PROJECT.key)."),
]


@keys_app.command("init")
def keys_init(
    project: ProjectOption = "default",
    key_file: KeyFileOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace an existing key (rotation: rebuild the research zone)."
        ),
    ] = False,
) -> None:
    """Create the project's secret key, mode 0600, outside the warehouse directory."""
    from hygie.privacy.commands import keys_init as create

    path = create(open_warehouse(), project, key_file, force=force)
    console.print(f"key of project [bold]{project}[/bold] written to {path} (mode 0600)")


@research_app.command("build")
def research_build(
    project: ProjectOption = "default",
    key_file: KeyFileOption = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Allow-list policy TOML (default: the shipped one)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild research.resource: allow-listed, pseudonymized, dates shifted, text de-identified,
    objecting patients left out."""
    from hygie.privacy.commands import research_build as build

    warehouse = open_warehouse()
    with progress_bar("de-identifying", None, enabled=not as_json) as progress:
        task = progress.task_ids[0]

        def advance(resources: int) -> None:
            progress.update(task, completed=resources, items=f"{resources:,}")

        summary = build(warehouse, project, key_path=key_file, policy_path=policy, progress=advance)
    result = summary.as_dict()
    if as_json:
        print_json(result)
        return
    console.print(
        table(
            f"Research zone of project {summary.project}",
            ["resourceType", "written"],
            sorted(summary.written_by_type.items()),
        )
    )
    console.print(
        f"{summary.resources_read:,} resources read, {summary.resources_written:,} written, "
        f"{summary.patients_written:,} patients; {summary.objecting_patients} objecting patient(s) "
        f"left out ({summary.resources_withheld_by_objection:,} resources)"
    )


def _who() -> str:
    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


@objection_app.command("add")
def objection_add(
    patient: Annotated[str, typer.Argument(help="Patient/<id>, an id, or system|value.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the registry).")] = None,
) -> None:
    """Record a patient's objection: the next research build leaves the patient out."""
    from hygie.privacy.commands import objection_add as add

    objection_id = add(open_warehouse(), patient, _who(), reason)
    console.print(f"objection {objection_id} recorded; run `hygie research build` to apply it")


@objection_app.command("remove")
def objection_remove(
    patient: Annotated[str, typer.Argument(help="Patient/<id>, an id, or system|value.")],
    reason: Annotated[str | None, typer.Option(help="Why it is withdrawn.")] = None,
) -> None:
    """Withdraw a patient's objection (kept in the registry as withdrawn)."""
    from hygie.privacy.commands import objection_remove as remove

    count = remove(open_warehouse(), patient, _who(), reason)
    console.print(f"{count} objection(s) withdrawn")


@objection_app.command("list")
def objection_list(
    include_withdrawn: Annotated[
        bool, typer.Option("--all", help="Include withdrawn ones.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The objection registry."""
    from hygie.privacy.commands import objection_list as listed

    rows = listed(open_warehouse(), include_withdrawn=include_withdrawn)
    if as_json:
        print_json(rows)
        return
    console.print(
        table(
            "Objections",
            ["id", "patient", "recorded", "by", "reason", "withdrawn"],
            [
                (
                    o.objection_id,
                    o.patient_key,
                    o.recorded_at,
                    o.recorded_by,
                    o.reason,
                    o.withdrawn_at,
                )
                for o in rows
            ],
        )
    )


@privacy_app.command("risk")
def privacy_risk(
    relation: Annotated[
        str | None,
        typer.Argument(help="Table or view (default: research patients' quasi-identifiers)."),
    ] = None,
    quasi: Annotated[
        list[str] | None, typer.Option("--quasi", help="A quasi-identifier column (repeat).")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Smallest acceptable class size.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """k-anonymity over quasi-identifiers: smallest class, records in classes below k."""
    from hygie.privacy.commands import privacy_risk as risk

    report = risk(open_warehouse(), relation, quasi, k)
    if as_json:
        print_json({**report.__dict__, "share_below_k": report.share_below_k})
        return
    console.print(
        table(
            f"k-anonymity of {report.relation} (k = {report.k})",
            [
                "quasi-identifiers",
                "records",
                "classes",
                "smallest class",
                "records below k",
                "share",
            ],
            [
                (
                    ", ".join(report.quasi_identifiers),
                    report.records,
                    report.classes,
                    report.smallest_class,
                    report.records_below_k,
                    f"{report.share_below_k:.1%}",
                )
            ],
        )
    )
