"""Commands across a workspace: ``orch build/run/seed/test/ls`` with ``--workspace`` (or run where
``orch_workspace.yml`` is found) act on every member, asset names being ``member.asset``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from orch import redaction
from orch.cli.base import cli, make_options, project_options, takes_workspace


def run_across(command: str, workspace_file: Path, options: Any, log_format: str) -> None:
    """``orch build`` (``run``, ``seed``) over the workspace: each member in reference order."""
    from orch.load.workspace import load_workspace
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter
    from orch.run.workspace import run_workspace
    from orch.selection import unmatched_message

    workspace = load_workspace(workspace_file)

    def sinks_for(member: str) -> list[Any]:
        if log_format == "json":
            return [JsonLinesReporter()]
        click.echo(f"== {member} ({workspace.members[member].root.name}/)")
        return [ConsoleReporter()]

    run = run_workspace(workspace, options, command, sinks_for=sinks_for)  # type: ignore[arg-type]
    for member, err in run.graph.errors.items():  # the others were built all the same
        click.echo(
            redaction.scrub(f"Error: {member} did not load: {err.format_message()}"), err=True
        )
    if not run.results and not run.skipped:
        note = unmatched_message(options.select, nothing_selected=True)
        click.echo(note or "Nothing selected in the workspace.", err=True)
    for name in run.skipped:
        click.echo(f"Skipped: {name} (it reads an asset of another member that failed)", err=True)
    for member, result in run.results:
        for warning in result.compiled.warnings:
            click.echo(f"Warning: {member}: {warning}", err=True)
        if result.summary is None:
            click.echo(f"{member}: plan of {len(result.plan)} steps (dry run, nothing was built)")
            for step in result.plan.order:
                click.echo(f"  {member}.{step.step_id:<40} {step.reason}")
    sys.exit(run.exit_code)


def ls_across(workspace_file: Path, options: Any, output: str, kinds: set[str]) -> None:
    """``orch ls`` over the workspace graph."""
    from orch.compiler.workspace_graph import compile_workspace
    from orch.load.workspace import load_workspace
    from orch.selection import Selection, unmatched_message

    graph = compile_workspace(load_workspace(workspace_file), options, light=True)
    manifest = graph.manifest
    selected = Selection.from_options(options).evaluate(manifest)
    lines: list[str] = []  # one write: ten thousand echo calls cost a tenth of a second
    for name in graph.topological_names():
        node = manifest.nodes[name]
        if name not in selected.assets or (kinds and node.resource_type not in kinds):
            continue
        if output == "name":
            lines.append(name)
        elif output == "path":
            lines.append(node.path or "")
        else:
            lines.append(
                json.dumps(
                    {
                        "schema_version": 1,
                        "name": name,
                        "project": name.split(".", 1)[0],
                        "resource_type": node.resource_type,
                        "materialized": node.materialized,
                        "path": node.path,
                        "relation": str(node.relation.to_relation()) if node.relation else None,
                        "depends_on": manifest.parents.get(name, []),
                        "tags": node.tags,
                    }
                )
            )
    if not kinds or "check" in kinds:
        for check in sorted(selected.checks):
            lines.append(check if output != "path" else (manifest.checks[check].path or ""))
    if lines:
        click.echo("\n".join(lines))
    nothing = not selected.assets and not selected.checks
    note = unmatched_message(selected.unmatched, nothing_selected=nothing)
    if note:
        click.echo(note, err=True)


def status_across(workspace_file: Path, options: Any, output_format: str) -> None:
    """``orch status`` over the workspace: each member's assets of the selection, in order."""
    from dataclasses import replace

    from orch.cli.status_view import render_status
    from orch.load.workspace import load_workspace
    from orch.run.provenance import add_built_by
    from orch.run.status import status_json, status_report
    from orch.selection import Selection

    workspace = load_workspace(workspace_file)
    graph = compile_workspace_for(workspace, options)
    chosen = Selection.from_options(options).evaluate(graph.manifest).assets
    assets: list[dict[str, Any]] = []
    for member, names in graph.local(chosen).items():
        if not names:
            continue
        result = graph.compiled[member]
        member_options = replace(
            graph.compiler.options_for(workspace.members[member]), select=tuple(sorted(names))
        )
        report = status_report(result.manifest, result.project, member_options)
        if output_format == "json":
            rows = add_built_by(result.manifest, result.project, status_json(report))
            for row in rows:
                assets.append({**row, "asset": f"{member}.{row['asset']}", "project": member})
        else:
            click.echo(f"== {member} ({graph.compiler.prefix(member) or './'})")
            click.echo(render_status(report.rows))
    if output_format == "json":
        click.echo(json.dumps({"schema_version": 1, "assets": assets}, indent=2))
    for member, err in graph.errors.items():
        click.echo(
            redaction.scrub(f"Error: {member} did not load: {err.format_message()}"), err=True
        )
    if graph.errors:
        sys.exit(2)


def test_across(
    workspace_file: Path, options: Any, test_one: Callable[[Any, Any], int | None]
) -> None:
    """``orch test`` over the workspace: the selected checks of each member, run against that
    member's own warehouse and recorded in its own state store (``test_one`` runs and prints
    one member's checks and gives its exit code)."""
    from dataclasses import replace

    from orch.load.workspace import load_workspace
    from orch.selection import Selection, unmatched_message

    workspace = load_workspace(workspace_file)
    graph = compile_workspace_for(workspace, options)
    selected = Selection.from_options(options).evaluate(graph.manifest)
    codes = [err.exit_code for err in graph.errors.values()]
    ran = False
    for member, names in graph.local(selected.checks).items():
        if not names:
            continue
        click.echo(f"== {member} ({graph.compiler.prefix(member) or './'})")
        member_options = replace(
            graph.compiler.options_for(workspace.members[member]), select=tuple(sorted(names))
        )
        code = test_one(member_options, graph.compiled[member])
        ran = ran or code is not None
        codes.append(code or 0)
    for member, err in graph.errors.items():  # the others were tested all the same
        click.echo(
            redaction.scrub(f"Error: {member} did not load: {err.format_message()}"), err=True
        )
    if not ran:
        note = unmatched_message(selected.unmatched, nothing_selected=True)
        click.echo(note or "No checks selected in the workspace.", err=True)
    sys.exit(max(codes, default=0))


def compile_workspace_for(workspace: Any, options: Any) -> Any:
    """The workspace graph, members that fail to load left out (their errors kept)."""
    from orch.compiler.workspace_graph import compile_workspace

    return compile_workspace(workspace, options, keep_going=True, light=True)


def daemon_across(workspace_file: Path, options: Any, **daemon_args: Any) -> None:
    """``orch daemon`` over every member: one loop, a changed member reloaded in place."""
    import signal

    from orch.automation.workspace_daemon import WorkspaceDaemon
    from orch.load.workspace import load_workspace

    workspace = load_workspace(workspace_file)
    daemon = WorkspaceDaemon(workspace, options, report=click.echo, **daemon_args)
    click.echo(
        f"orch daemon: workspace of {len(workspace.members)} members "
        f"({', '.join(workspace.members)}) (SIGTERM or Ctrl-C to stop)"
    )
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: daemon.stop())
    try:
        daemon.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("orch daemon: stopped")


@cli.group("workspace")
def workspace_group() -> None:
    """Workspaces: several projects in one graph (orch_workspace.yml)."""


@workspace_group.command("members")
@project_options
@takes_workspace
def members_command(workspace: Path | None, **kwargs: Any) -> None:
    """List the members of the workspace, in the order their references build them.

    \b
    Examples:
      orch workspace members
      orch workspace members --workspace example_project
    """
    from orch.compiler.workspace_graph import compile_workspace
    from orch.load.workspace import load_workspace

    if workspace is None:
        raise click.UsageError("no orch_workspace.yml here or above: pass --workspace PATH")
    graph = compile_workspace(load_workspace(workspace), make_options(kwargs), light=True)
    counts = graph.local(graph.manifest.nodes)
    for member in graph.order:
        reads = graph.reads.get(member, [])
        shown = graph.compiler.prefix(member) or "."
        after = f"  reads {', '.join(reads)}" if reads else ""
        click.echo(f"{member:<20} {shown:<24} {len(counts[member]):>5} assets{after}")


@cli.group("contract")
def contract_group() -> None:
    """Contracts of public models that other workspace members read."""


@contract_group.command("accept")
@click.argument("models", nargs=-1)
@project_options
@takes_workspace
def accept_command(models: tuple[str, ...], workspace: Path | None, **kwargs: Any) -> None:
    """Accept the current columns of public contracted models as what they ship.

    After a breaking change made on purpose (the projects reading the model updated first),
    this records each named model's columns and types as its contract, so the check before
    every command compares with them. Without MODELS: every public contracted model of the
    workspace (or, inside a member, of that member). The next build records them as well.

    \b
    Examples:
      orch contract accept finance.revenue --workspace .
      orch contract accept revenue            # inside the member 'finance'
    """
    from orch.compiler.workspace import WorkspaceCompiler, accept_contracts, attach_workspace
    from orch.errors import ConfigError
    from orch.load.project import load_project
    from orch.load.workspace import load_workspace

    options = make_options(kwargs)
    if workspace is not None:
        compiler = WorkspaceCompiler(load_workspace(workspace), options)
        here = None
    else:
        project = load_project(options)
        found = attach_workspace(project, options)
        if found is None:
            raise click.UsageError(
                "this project is no member of a workspace: contracts between projects need an "
                "orch_workspace.yml listing it"
            )
        compiler, here = found, project.name
        compiler.compile(project.name, project)
    wanted: dict[str, set[str]] = {}
    for name in models:
        member, dot, model = name.partition(".")
        if not dot:
            if here is None:
                raise click.UsageError(f"name the model's project: 'PROJECT.{name}'")
            member, model = here, name
        if member not in compiler.workspace.members:
            raise ConfigError(
                f"'{name}': no workspace member is named '{member}'",
                hint="Members: " + ", ".join(sorted(compiler.workspace.members)),
            )
        wanted.setdefault(member, set()).add(model)
    members = sorted(wanted) if wanted else ([here] if here else list(compiler.workspace.members))
    for member in members:
        compiler.compile(member)
        specs = {s.model for s in compiler.contract_specs(member)}
        unknown = sorted(wanted.get(member, set()) - specs)
        if unknown:
            raise ConfigError(
                f"'{member}.{unknown[0]}' is no public model with an enforced contract",
                hint="Public contracted models of "
                + f"{member}: {', '.join(sorted(specs)) or 'none'}",
            )
        for spec, changes in accept_contracts(compiler, member, wanted.get(member)):
            what = "; ".join(changes) if changes else "no change"
            click.echo(f"{spec.asset}: contract accepted ({what})")
