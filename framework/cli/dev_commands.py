"""``orch show``, ``orch debug``, ``orch clean``: the developer's loop, as dbt users know it."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import click
from orch.cli.base import cli, project_options
from orch.config import RunOptions
from orch.errors import UserError


def _options(kwargs: dict[str, Any]) -> RunOptions:
    return RunOptions(
        project_dir=kwargs["project_dir"],
        profiles_dir=kwargs.get("profiles_dir"),
        target=kwargs.get("target"),
        vars=kwargs.get("vars_") or {},
    )


# --------------------------------------------------------------------------- show


@cli.command("show")
@project_options
@click.option(
    "--select", "-s", "model", default=None, metavar="MODEL", help="The model to preview."
)
@click.option("--inline", default=None, metavar="SQL", help="A query to preview instead.")
@click.option(
    "--partition", default=None, metavar="KEY", help="The partition a partitioned model reads."
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=5, show_default=True, help="Rows to show."
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="A table for people, or JSON / CSV for machines.",
)
def show_command(
    model: str | None,
    inline: str | None,
    partition: str | None,
    limit: int,
    output: str,
    **kwargs: Any,
) -> None:
    """Preview the rows of a model's compiled SQL, without building it.

    Upstream relations must be built; nothing is written to the warehouse or the state.

    \b
    Examples:
      orch show -s customers
      orch show -s customers --limit 20 --output json
      orch show -s daily_orders --partition 2024-01-31
      orch show --inline "select * from stg_orders where amount > 100"
    """
    from orch.run.preview import preview_inline, preview_model

    if (model is None) == (inline is None):
        raise UserError(
            "give a model (-s MODEL) or a query (--inline SQL), not both or neither",
            hint='E.g. orch show -s customers, or orch show --inline "select 1 as x"',
        )
    options = _options(kwargs)
    if model is not None:
        preview = preview_model(options, model, limit, partition)
    else:
        preview = preview_inline(options, inline or "", limit)
    for warning in preview.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if output == "json":
        rows = [dict(zip(preview.columns, row, strict=True)) for row in preview.rows]
        name = None if preview.name.startswith("__orch") else preview.name
        click.echo(
            json.dumps({"name": name, "columns": preview.columns, "rows": rows}, default=str)
        )
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(preview.columns)
        writer.writerows(preview.rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        _print_table(preview.columns, preview.rows)


def _print_table(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console = Console(file=sys.stdout, width=max(80, Console().width), highlight=False)
    console.print(table)
    click.echo(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")


# --------------------------------------------------------------------------- debug


@cli.command("debug")
@project_options
def debug_command(**kwargs: Any) -> None:
    """Show the project, profile and target orch found, its versions, and test the connection.

    Exit code 0 when every check passes, 1 when the connection fails, 2 when the project or
    the profile cannot be read.

    \b
    Examples:
      orch debug
      orch debug --target prod
    """
    from orch.run.diagnostics import diagnose

    options = _options(kwargs)
    found = diagnose(options)
    click.echo(f"project file: {found.project_file or 'not found'}")
    if found.profile_file is not None:
        click.echo(f"profile file: {found.profile_file}")
    else:
        searched = ", ".join(str(p) for p in found.profile_candidates)
        click.echo(f"profile file: none found (searched {searched})")
    if found.target_name is not None:
        click.echo(f"target: {found.target_name} (type {found.target_type})")
        for key, value in found.settings.items():
            click.echo(f"  {key}: {value}")
    click.echo("versions:")
    for what, value in found.versions:
        click.echo(f"  {what}: {value}")
    for check in found.checks:
        click.echo(f"{check.name}: {'OK' if check.ok else 'FAILED'} — {check.detail}")
    if found.exit_code:
        click.echo(
            f"{sum(not c.ok for c in found.checks)} check(s) failed: fix what is named above",
            err=True,
        )
        sys.exit(found.exit_code)
    click.echo("All checks passed.")


# --------------------------------------------------------------------------- clean


@cli.command("clean")
@project_options
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also remove the state store (.orch/) and a DuckDB warehouse file in the project.",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def clean_command(everything: bool, dry_run: bool, **kwargs: Any) -> None:
    """Remove target/ and the project's clean-targets (never the state or the warehouse,
    unless --all).

    \b
    Examples:
      orch clean
      orch clean --dry-run
      orch clean --all
    """
    from orch.run.clean import clean_project

    options = _options(kwargs)
    results = clean_project(options, everything=everything, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in results:
        if item.action == "removed":
            click.echo(f"{verb} {item.path}")
        elif item.action == "absent":
            click.echo(f"not there {item.path}")
        else:
            click.echo(f"kept {item.path} ({item.reason})")
