"""``orch compile``, ``orch ls``, ``orch lineage``, ``orch init``: no warehouse needed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from orch.cli.base import (
    cli,
    exit_uncollected,
    load_manifest,
    make_options,
    project_options,
    selection_options,
    takes_workspace,
)
from orch.config import RunOptions
from orch.errors import SelectionError, suggestion
from orch.manifest import Manifest

if TYPE_CHECKING:
    from orch.load.project import Project

# --------------------------------------------------------------------------- compile / ls


def check_automation(project: Project) -> None:
    """Jobs, schedules and sensors load (a schedule naming an unknown job is an error, exit 2)."""
    from orch.load.definitions import sensor_files

    config = project.config
    if config.jobs or config.schedules or config.sensors or sensor_files(project):
        from orch.automation.schedules import load_automation  # ~0.15 s: only when needed

        load_automation(project)


@cli.command("compile")
@project_options
@selection_options
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def compile_command(quiet: bool, **kwargs: Any) -> None:
    """Compile every model for the target: manifest.json and compiled SQL, no warehouse needed.

    With --select, prints the compiled SQL of the selected models; the parse is limited to
    them and their ancestors when the selection allows it (and manifest.json is left as it was).

    \b
    Examples:
      orch compile
      orch compile -s +orders --target prod
    """
    from orch.compiler.artifacts import write_artifacts
    from orch.selection import Selection, select_nodes, unmatched_message

    started = time.perf_counter()
    options = make_options(kwargs)
    result = load_manifest(options)
    manifest = result.manifest
    live_notes: list[str] = []
    if any(n.rendered_at_run_time for n in manifest.nodes.values()):
        # like dbt compile: models that query the warehouse while rendering, rendered against it
        from orch.run.live_render import render_for_compile

        wanted = select_nodes(manifest, options.select, options.exclude) if options.select \
            else set(manifest.nodes)  # fmt: skip
        manifest, outcome = render_for_compile(result.project, manifest, wanted)
        result.manifest = manifest
        if outcome.rendered:
            result.unchanged = False  # the reused manifest gains their SQL and lineage
        live_notes = outcome.messages()
    if not result.scoped:
        check_automation(result.project)
        write_artifacts(result)
        write_artifacts_for(result, {n for n in manifest.nodes
                                     if manifest.nodes[n].rendered_at_run_time})  # fmt: skip
    for line in live_notes:
        if not quiet:
            click.echo(line, err=True)
    elapsed = time.perf_counter() - started
    if options.select:
        selected = select_nodes(manifest, options.select, options.exclude)
        if result.scoped:
            write_artifacts_for(result, selected)
        if not quiet:
            for name in manifest.topological_names():
                node = manifest.nodes[name]
                if name in selected and node.resource_type == "model":
                    click.echo(f"-- {name} ({node.path})")
                    click.echo(node.compiled_code.rstrip() + "\n")
            for check in manifest.checks.values():  # their checks' queries (failing rows)
                if check.asset in selected and check.sql:
                    click.echo(f"-- check {check.name} ({check.path}): rows returned fail")
                    click.echo(check.sql.rstrip() + "\n")
        unmatched = Selection.from_options(options).evaluate(manifest).unmatched
        note = unmatched_message(unmatched, nothing_selected=not selected)
        if note:
            click.echo(note, err=True)
        exit_uncollected()
        return
    if not quiet:
        click.echo(
            f"Compiled {_counts(manifest)} in {elapsed:.2f}s → "
            f"{result.project.config.target_path}/manifest.json"
        )
    exit_uncollected()


def write_artifacts_for(result: Any, selected: set[str]) -> None:
    """Write compiled SQL files for some models (a scoped compile keeps the full manifest)."""
    target_dir = result.project.target_dir
    for name in selected:
        node = result.manifest.nodes.get(name)
        if node is None or node.resource_type != "model" or not node.path:
            continue
        out = (target_dir / "compiled" / node.path).with_suffix(".sql")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(node.compiled_code.rstrip() + "\n", encoding="utf-8")


def _counts(manifest: Manifest) -> str:
    kinds: dict[str, int] = {}
    for node in manifest.nodes.values():
        kinds[node.resource_type] = kinds.get(node.resource_type, 0) + 1
    parts = [
        f"{kinds.get(k, 0)} {k}{'s' if kinds.get(k, 0) != 1 else ''}"
        for k in ("model", "seed", "source")
    ]
    if manifest.checks:
        parts.append(f"{len(manifest.checks)} checks")
    return ", ".join(parts)


@cli.command("ls")
@project_options
@selection_options
@click.option(
    "--output",
    "-o",
    type=click.Choice(["name", "path", "json"]),
    default="name",
    show_default=True,
    help="One name per line, one file path per line, or one JSON object per line.",
)
@click.option(
    "--resource-type",
    multiple=True,
    type=click.Choice(["model", "seed", "source", "check"]),
    help="Only these kinds.",
)
@takes_workspace
def ls_command(output: str, resource_type: tuple[str, ...], **kwargs: Any) -> None:
    """List the assets (and checks) a selection contains, in dependency order.

    \b
    Examples:
      orch ls
      orch ls -s tag:finance --output json
      orch ls -s +orders --exclude resource_type:seed
    """
    from orch.selection import Selection, unmatched_message

    options = make_options(kwargs)
    kinds = set(resource_type)
    if kwargs.get("workspace") is not None:  # every member of orch_workspace.yml
        from orch.cli.workspace_commands import ls_across

        return ls_across(kwargs["workspace"], options, output, kinds)
    result = load_manifest(options, scoped=False)
    manifest = result.manifest
    selected = Selection.from_options(options).evaluate(manifest)
    for name in manifest.topological_names():
        node = manifest.nodes[name]
        if name not in selected.assets or (kinds and node.resource_type not in kinds):
            continue
        if output == "name":
            click.echo(name)
        elif output == "path":
            click.echo(node.path or "")
        else:
            click.echo(
                json.dumps(
                    {
                        "schema_version": 1,
                        "name": name,
                        "resource_type": node.resource_type,
                        "materialized": node.materialized,
                        "path": node.path,
                        "relation": str(node.relation.to_relation()) if node.relation else None,
                        "depends_on": node.depends_on,
                        "tags": node.tags,
                        "group": node.config.group,
                        "description": node.description,
                    }
                )
            )
    if not kinds or "check" in kinds:
        for check in sorted(selected.checks):
            c = manifest.checks[check]
            if output == "json":
                line = {"schema_version": 1, "name": check, "resource_type": "check"}
                click.echo(json.dumps({**line, "asset": c.asset}))
            else:
                click.echo(check if output == "name" else (c.path or ""))
    nothing = not selected.assets and not selected.checks
    note = unmatched_message(selected.unmatched, nothing_selected=nothing)
    if note:  # on stderr: the listing on stdout stays one name (or object) per line
        click.echo(note, err=True)


# --------------------------------------------------------------------------- resources


@cli.group("resources")
def resources_group() -> None:
    """Resources: the external systems Python assets, ops and IO managers use."""


@resources_group.command("ls")
@project_options
@click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def resources_ls_command(output: str, **kwargs: Any) -> None:
    """List the resources of the target: type, settings (secrets masked), and what uses them
    (Python assets, checks, sensors and schedules).

    \b
    Examples:
      orch resources ls
      orch resources ls --target prod --output json
    """
    from orch.automation.schedules import resource_users
    from orch.run.resources import describe

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    project = result.project
    used_by = resource_users(project, result.manifest)
    rows = describe(project.config.resources, project.target_name, used_by)
    if output == "json":
        for row in rows:
            click.echo(json.dumps({"schema_version": 1, **row}, default=str))
        return
    if not rows:
        click.echo("No resources: declare them under 'resources:' in orch_project.yml.")
        return
    click.echo(f"Resources of target {project.target_name}:")
    for row in rows:
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "(no settings)"
        line = f"  {row['name']:<16} {row['type'] or '-':<16} {settings}"
        if row["used_by"]:
            line += f"  ← {', '.join(row['used_by'])}"
        click.echo(line)


# --------------------------------------------------------------------------- lineage


@cli.command("lineage")
@project_options
@click.argument("target_spec", metavar="MODEL[.COLUMN]")
@click.option(
    "--downstream", "-d", is_flag=True, help="Also show what reads it (loads the whole project)."
)
@click.option("--depth", type=int, default=None, help="Levels to show (default: all).")
@takes_workspace
def lineage_command(target_spec: str, downstream: bool, depth: int | None, **kwargs: Any) -> None:
    """Show where an asset or a column comes from (and, with -d, where it goes).

    Upstream only by default: then only the asset's own ancestry is parsed.

    \b
    Examples:
      orch lineage customers
      orch lineage customers.lifetime_value
      orch lineage stg_orders -d
      orch lineage --workspace . marketing.roi.doubled   (across projects: member.model.column)
    """
    from orch.cli.lineage_view import asset_tree, column_tree, split_target

    if kwargs.get("workspace") is not None:  # the workspace graph: names are member.asset
        from orch.cli.workspace_views import lineage_across

        options = make_options(kwargs)
        return lineage_across(kwargs["workspace"], options, target_spec, downstream, depth)
    options = make_options(kwargs)
    asset, column = split_target(target_spec)
    scoped = not downstream
    selection = (f"+{asset}",) if scoped else ()
    result = load_manifest(RunOptions(**{**options.__dict__, "select": selection}), scoped=scoped)
    manifest = result.manifest
    if asset not in manifest.nodes:
        raise SelectionError(
            f"unknown asset '{asset}'", hint=suggestion(asset, manifest.nodes) or "See 'orch ls'"
        )
    if column is None:
        lines = asset_tree(manifest, asset, downstream=downstream, depth=depth)
    else:
        lines = column_tree(manifest, asset, column, downstream=downstream, depth=depth)
    for line in lines:
        click.echo(line)


# --------------------------------------------------------------------------- init


@cli.command("init")
@click.argument("name")
@click.option("--debug", is_flag=True, hidden=True)
def init_command(name: str, debug: bool) -> None:
    """Create a new project folder NAME with a small working example.

    \b
    Examples:
      orch init my_project && cd my_project && orch build
    """
    from orch.cli.scaffold import create_project

    path = create_project(Path(name))
    click.echo(f"Created project '{path.name}' in {path}.\nNext: cd {name} && orch build")
