"""The ``orch`` command line: the only place an OrchError becomes output and an exit code."""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from orch import redaction
from orch.config import RunOptions
from orch.errors import InternalError, OrchError, SelectionError, suggestion
from orch.manifest import Manifest


class OrchGroup(click.Group):
    """A click group whose ``main`` turns orch errors into messages and exit codes."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Run the CLI; user errors print one line (no traceback) and exit 2."""
        argv = kwargs.get("args")
        if argv is None:
            argv = args[0] if args else sys.argv[1:]
        debug = "--debug" in argv  # from the arguments given (CliRunner passes them, not argv)
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as err:
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.ClickException as err:
            err.show()
            sys.exit(2 if err.exit_code == 1 else err.exit_code)
        except OrchError as err:
            if debug or isinstance(err, InternalError):
                traceback.print_exc()
            click.echo(redaction.scrub(f"Error: {err.format_message()}"), err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception:  # a bug: show it
            click.echo(redaction.scrub(traceback.format_exc()), err=True)
            click.echo(
                "This is a bug in orch: please report it with the traceback above.", err=True
            )
            sys.exit(3)


def _parse_vars(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    import yaml

    try:
        data = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise click.BadParameter(f"not valid YAML/JSON: {err}") from None
    if not isinstance(data, dict):
        raise click.BadParameter('give a mapping, e.g. --vars \'{"start_date": "2024-01-01"}\'')
    return data


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--project-dir, --profiles-dir, --target, --vars, --debug (dbt's names)."""

    @click.option(
        "--project-dir",
        type=click.Path(path_type=Path),
        default=".",
        show_default=True,
        help="Folder holding orch_project.yml (or dbt_project.yml).",
    )
    @click.option(
        "--profiles-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder holding profiles.yml (default: the project folder, then ~/.dbt).",
    )
    @click.option("--target", "-t", default=None, help="Target (output) of the profile to use.")
    @click.option(
        "--vars", "vars_", callback=_parse_vars, default=None, help="YAML/JSON mapping of vars."
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(
            level=logging.DEBUG if kwargs["debug"] else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return func(*args, **kwargs)

    return wrapper


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-s/--select and --exclude, repeatable, space-separated unions inside."""
    func = click.option(
        "--exclude", multiple=True, help="Assets to leave out (same syntax as --select)."
    )(func)
    func = click.option(
        "--select",
        "-s",
        multiple=True,
        help="Assets to include: name, +name, name+, tag:x, path:dir, group:x, source:x, "
        "config.materialized:table, a,b (intersection), 'a b' (union).",
    )(func)
    return func


def make_options(kwargs: dict[str, Any], **extra: Any) -> RunOptions:
    """RunOptions from the parsed command line."""
    return RunOptions(
        project_dir=kwargs["project_dir"],
        profiles_dir=kwargs.get("profiles_dir"),
        target=kwargs.get("target"),
        vars=kwargs.get("vars_") or {},
        select=_split(kwargs.get("select", ())),
        exclude=_split(kwargs.get("exclude", ())),
        **extra,
    )


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out.extend(v for v in value.split() if v)
    return tuple(out)


@click.group(cls=OrchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orch", prog_name="orch")
def cli() -> None:
    """orch: SQL and Python models as a graph of data assets.

    \b
    Start here:
      orch init my_project        scaffold a working project
      orch build                  seeds, models and checks, in dependency order
      orch ls -s +orders          what a selection contains
      orch lineage orders.amount  where a column comes from
    """


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="orch")


# --------------------------------------------------------------------------- compile / ls


def load_manifest(options: RunOptions, *, scoped: bool = True):  # type: ignore[no-untyped-def]
    """Compile the project (only what the selection needs, when it can tell)."""
    from orch.artifacts import compile_or_reuse
    from orch.selection import names_needed_for

    names = names_needed_for(options.select, options.exclude) if scoped else None
    result = compile_or_reuse(options, names)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return result


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
    from orch.artifacts import write_artifacts
    from orch.selection import select_nodes

    started = time.perf_counter()
    options = make_options(kwargs)
    result = load_manifest(options)
    manifest = result.manifest
    if not result.scoped:
        write_artifacts(result)
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
        return
    if not quiet:
        click.echo(
            f"Compiled {_counts(manifest)} in {elapsed:.2f}s → "
            f"{result.project.config.target_path}/manifest.json"
        )


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
def ls_command(output: str, resource_type: tuple[str, ...], **kwargs: Any) -> None:
    """List the assets (and checks) a selection contains, in dependency order.

    \b
    Examples:
      orch ls
      orch ls -s tag:finance --output json
      orch ls -s +orders --exclude resource_type:seed
    """
    from orch.selection import evaluate_selection

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    manifest = result.manifest
    selected = evaluate_selection(manifest, options.select, options.exclude)
    kinds = set(resource_type)
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
                click.echo(json.dumps({"name": check, "resource_type": "check", "asset": c.asset}))
            else:
                click.echo(check if output == "name" else (c.path or ""))


# --------------------------------------------------------------------------- lineage


@cli.command("lineage")
@project_options
@click.argument("target_spec", metavar="MODEL[.COLUMN]")
@click.option(
    "--downstream", "-d", is_flag=True, help="Also show what reads it (loads the whole project)."
)
@click.option("--depth", type=int, default=None, help="Levels to show (default: all).")
def lineage_command(target_spec: str, downstream: bool, depth: int | None, **kwargs: Any) -> None:
    """Show where an asset or a column comes from (and, with -d, where it goes).

    Upstream only by default: then only the asset's own ancestry is parsed.

    \b
    Examples:
      orch lineage customers
      orch lineage customers.lifetime_value
      orch lineage stg_orders -d
    """
    from orch.lineage_view import asset_tree, column_tree, split_target

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
    from orch.scaffold import create_project

    path = create_project(Path(name))
    click.echo(f"Created project '{path.name}' in {path}.\nNext: cd {name} && orch build")


# --------------------------------------------------------------------------- build / run / seed


def run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by build, run and seed."""
    options = [
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Parallel steps (default: the target's 'threads')."),
        click.option("--full-refresh", is_flag=True,
                     help="Rebuild incremental models (and partitions) from scratch."),
        click.option("--fail-fast", "-x", is_flag=True, help="Stop at the first failure."),
        click.option("--changed", is_flag=True,
                     help="Only what is missing or stale: never built, code changed, or an "
                          "upstream was re-materialized since."),
        click.option("--dry-run", is_flag=True, help="Print the plan; build nothing."),
        click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
                     show_default=True, help="json: one JSON object per event on stdout."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def partition_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--partition, --start, --end: restrict partitioned assets to a key or a range."""
    options = [
        click.option("--partition", default=None, metavar="KEY",
                     help="Run exactly this partition of the partitioned assets "
                          "(2024-01-31, 2024-01-31T05, 2024-W05, 2024-01 or a static key)."),
        click.option("--start", default=None, metavar="KEY",
                     help="First partition of the range (included); any grain: 2024-01 "
                          "covers January."),
        click.option("--end", default=None, metavar="KEY",
                     help="Last partition of the range (included)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _run(command: str, kwargs: dict[str, Any]) -> None:
    from orch.reporting import ConsoleReporter, JsonLinesReporter
    from orch.runner import run_command

    options = make_options(
        kwargs,
        threads=kwargs["threads"],
        full_refresh=kwargs["full_refresh"],
        fail_fast=kwargs["fail_fast"],
        changed_only=kwargs["changed"],
        dry_run=kwargs["dry_run"],
        partition=kwargs.get("partition"),
        start=kwargs.get("start"),
        end=kwargs.get("end"),
    )
    sink = JsonLinesReporter() if kwargs["log_format"] == "json" else ConsoleReporter()
    result = run_command(options, command, sinks=[sink])  # type: ignore[arg-type]
    for warning in result.compiled.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if result.summary is None:
        _print_plan(result)
    sys.exit(result.exit_code)


def _print_plan(result: Any) -> None:
    plan = result.plan
    click.echo(f"Plan: {len(plan)} steps (dry run, nothing was built)")
    for step in plan.order:
        node = result.manifest.nodes[step.asset]
        click.echo(f"  {step.step_id:<40} {node.materialized:<12} {step.reason}")
    for asset, why in sorted(plan.up_to_date.items()):
        click.echo(f"  {asset:<40} {'':<12} {why} (skipped)")


@cli.command("build")
@project_options
@selection_options
@run_options
@partition_options
def build_command(**kwargs: Any) -> None:
    """Load seeds, build models (and run their checks) in dependency order.

    Plain `orch build` rebuilds the whole selection, since sources can change outside orch;
    `--changed` builds only what is missing or stale. Exit code 1 when anything failed.

    \b
    Examples:
      orch build
      orch build -s +customers --threads 8
      orch build --changed
      orch build -s orders --full-refresh --dry-run
    """
    _run("build", kwargs)


@cli.command("run")
@project_options
@selection_options
@run_options
@partition_options
def run_command_cli(**kwargs: Any) -> None:
    """Build models only (no seeds, no checks).

    \b
    Examples:
      orch run -s stg_orders
      orch run -s tag:daily --exclude orders
    """
    _run("run", kwargs)


@cli.command("seed")
@project_options
@selection_options
@run_options
def seed_command(**kwargs: Any) -> None:
    """Load seeds (CSV files in seeds/) as tables.

    \b
    Examples:
      orch seed
      orch seed -s raw_customers --full-refresh
    """
    _run("seed", kwargs)


# --------------------------------------------------------------------------- status


@cli.command("test")
@project_options
@selection_options
@partition_options
@click.option("--store-failures", is_flag=True,
              help="Write every failing row of each failing check to <schema>_audit.<check>.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Checks evaluated in parallel (default: the target's 'threads').")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per check result on stdout.")
def test_command(store_failures: bool, threads: int | None, log_format: str,
                 **kwargs: Any) -> None:  # fmt: skip
    """Run the checks of the selected assets against what is in the warehouse.

    Prints a table of results, then each failure with sample rows and the query to reproduce
    it. Exit code 1 when a check fails at error severity (or its query errors). Checks are
    selected like assets (a check of a selected asset is selected), by name, or by
    test_type: (not_null, unique, ..., singular, python).

    \b
    Examples:
      orch test
      orch test -s +orders --exclude test_type:relationships
      orch test -s test_type:singular
      orch test -s daily_sales --start 2024-01-01 --end 2024-01-31
      orch test --store-failures
    """
    from orch.adapters import get_adapter
    from orch.check_runner import run_tests
    from orch.events import FanOut
    from orch.partitions import definition_of
    from orch.reporting import JsonLinesReporter, RunResultsWriter
    from orch.runner import open_state
    from orch.selection import select_checks, select_nodes
    from orch.state import StateRecorder

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    manifest, project = result.manifest, result.project
    selected = select_nodes(manifest, options.select, options.exclude)
    checks = sorted(select_checks(manifest, selected, options.select, options.exclude))
    if not checks:
        click.echo("No checks selected.")
        return
    partition, start, end = kwargs.get("partition"), kwargs.get("start"), kwargs.get("end")
    partitions_of = None
    if partition or start or end:

        def partitions_of(node: Any) -> list[str | None]:
            definition = definition_of(node.config.partitioned_by, asset=node.name)
            if partition:
                return [definition.validate(partition)]
            first = start or definition.first_key()
            last = end or first
            return list(definition.keys_between(first, last))

    adapter = get_adapter(project.target, project.root)
    log_dir = project.root / project.config.log_path
    log_dir.mkdir(parents=True, exist_ok=True)
    with open_state(project.root, target=project.target) as state, (
        log_dir / "orch.jsonl"
    ).open("a", encoding="utf-8") as log_file:
        sinks: list[Any] = [StateRecorder(state), JsonLinesReporter(log_file)]
        sinks.append(
            RunResultsWriter(
                project.target_dir / "run_results.json",
                manifest,
                {"command": "test", "select": list(options.select), "target": project.target_name},
            )
        )
        if log_format == "json":
            sinks.append(JsonLinesReporter())
        adapter.open()
        try:
            run = run_tests(
                manifest, adapter, checks, FanOut(sinks), project_root=project.root,
                target=project.target_name, partitions_of=partitions_of,
                threads=threads or project.target.threads, store_failures=store_failures,
                selection=" ".join(options.select),
            )  # fmt: skip
        finally:
            adapter.close()
    if log_format == "text":
        _print_check_results(run)
    sys.exit(run.exit_code)


def _print_check_results(run: Any) -> None:
    """A table of check results, then each failure with its sample rows and query."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # files and pipes: whole check names, no wrapping
        console = Console(highlight=False, soft_wrap=True, width=250)
    style = {"pass": "green", "warn": "yellow", "skipped": "yellow"}
    table = Table(box=None, title_justify="left")
    for column in ("status", "check", "asset", "partition"):
        table.add_column(column)
    table.add_column("failing rows", justify="right")
    table.add_column("seconds", justify="right")
    ordered = sorted(run.results, key=lambda r: (r.asset or "", r.check, str(r.partition)))
    for r in ordered:
        table.add_row(
            f"[{style.get(r.status, 'red')}]{r.status.upper()}[/]", r.check, r.asset or "-",
            r.partition or "", f"{r.failing_rows:,}", f"{r.duration_s:.2f}",
        )  # fmt: skip
    console.print(table)
    for r in ordered:
        if r.status in ("pass", "skipped"):
            continue
        where = f"[{r.partition}]" if r.partition else ""
        console.print(
            f"\n[{style.get(r.status, 'red')} bold]{r.status.upper()}[/] {r.check} on "
            f"{r.asset or '-'}{where}: {r.failing_rows:,} failing rows"
            + (" (blocking)" if r.blocking else ""),
        )
        if r.message:
            console.print(f"  {redaction.scrub(r.message)}", markup=False)
        for row in r.sample:
            console.print("  " + redaction.scrub(json.dumps(row, default=str)), markup=False)
        if r.sql:
            console.print("  reproduce with:", markup=False)
            console.print("  " + redaction.scrub(r.sql).replace("\n", "\n  "), markup=False)
    counts: dict[str, int] = {}
    for r in run.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    verdict = "[red bold]FAILED[/]" if run.exit_code else "[green bold]PASSED[/]"
    console.print(
        f"\n{verdict} {len(run.results)} check results in {run.duration_s:.2f}s: {summary}"
    )


@cli.command("status")
@project_options
@selection_options
def status_command(**kwargs: Any) -> None:
    """Each asset's last materialization and whether it is up to date.

    \b
    Examples:
      orch status
      orch status -s +customers
    """
    from orch.status import (
        asset_rows,
        partition_summaries,
        render_partition_summaries,
        render_status,
        with_partition_status,
    )

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    rows = asset_rows(result.manifest, result.project, options)
    summaries = partition_summaries(result.manifest, result.project, options)
    click.echo(render_status(with_partition_status(rows, summaries)))
    if summaries:
        click.echo("\nPartitions (up to the last complete one):")
        click.echo(render_partition_summaries(summaries))


# --------------------------------------------------------------------------- backfill


@cli.command("backfill")
@project_options
@selection_options
@click.option("--start", default=None, metavar="KEY",
              help="First partition (included; default: each asset's first partition).")
@click.option("--end", default=None, metavar="KEY",
              help="Last partition (included; default: the last complete partition).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Partitions run in parallel (default: the target's 'threads').")
@click.option("--dry-run", is_flag=True,
              help="List the partitions and estimate the time; run nothing.")
@click.option("--yes", "-y", is_flag=True,
              help="Run even when above the project's backfill_confirm_above partitions.")
@click.option("--fail-fast", "-x", is_flag=True, help="Stop at the first failure.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per event on stdout.")
def backfill_command(
    start: str | None, end: str | None, threads: int | None, dry_run: bool, yes: bool,
    fail_fast: bool, log_format: str, **kwargs: Any,
) -> None:  # fmt: skip
    """Run every partition of a range for the selected assets, in parallel, resumably.

    Partitions run even when already materialized. Interrupted (Ctrl-C, a killed process, a
    failure) and started again with the same arguments, a backfill skips the partitions it
    completed. Above `backfill_confirm_above` partitions (orch_project.yml, default 1000) it
    needs --yes.

    \b
    Examples:
      orch backfill -s fct_order_events --start 2024-01-01 --end 2024-03-31 --dry-run
      orch backfill -s fct_order_events+ --start 2024-01 --end 2024-12 --threads 8 --yes
    """
    from orch.errors import PartitionError
    from orch.partition_plan import (
        PartitionExpander,
        PartitionRequest,
        backfill_identity,
        estimate_seconds,
        resume_point,
    )
    from orch.partitions import compress, definition_of
    from orch.reporting import ConsoleReporter, JsonLinesReporter
    from orch.runner import compile_for, open_state, run_command

    options = make_options(kwargs, threads=threads, start=start, end=end, fail_fast=fail_fast)
    compiled = compile_for(options)
    for warning in compiled.warnings:
        click.echo(f"Warning: {warning}", err=True)
    project, manifest = compiled.project, compiled.manifest
    target = project.target_name
    identity = backfill_identity(options)
    with open_state(project.root, readonly=True, target=project.target) as state:
        backfill_id, done_runs = resume_point(state, target, identity)
        request = PartitionRequest.from_options(options, backfill=True, done_runs=done_runs)
        planned = run_command(
            RunOptions(**{**options.__dict__, "dry_run": True}), "backfill",  # type: ignore[arg-type]
            compiled=compiled, partitions=PartitionExpander(manifest, target, request),
        )  # fmt: skip
        steps = [s for s in planned.plan.order if s.partition is not None]
        workers = threads or project.target.threads
        estimate, unknown = estimate_seconds(steps, state, target, workers)
    partitioned = {s.asset for s in steps} | {
        n for n in planned.plan.up_to_date if manifest.nodes[n].config.partitioned_by
    }
    if not partitioned:
        raise PartitionError(
            "the selection holds no partitioned asset",
            hint="Select partitioned models with -s (see 'orch ls -s config.partitioned_by:*')",
        )
    if done_runs:
        click.echo(
            f"Resuming backfill {backfill_id[:8]} ({len(done_runs)} earlier run(s)): the "
            "partitions it completed are skipped"
        )
    if dry_run:
        click.echo(f"Backfill plan: {len(steps)} partitions (dry run, nothing was run)")
        for asset in sorted({s.asset for s in steps}, key=manifest.topological_names().index):
            keys = [(str(s.partition), "") for s in steps if s.asset == asset]
            spec = manifest.nodes[asset].config.partitioned_by
            ranges = [r.strip() for r in compress(keys, definition_of(spec, asset=asset))]  # type: ignore[arg-type]
            more = " ..." if len(ranges) > 6 else ""
            click.echo(f"  {asset:<32} {len(keys):>6} partitions  {', '.join(ranges[:6])}{more}")
        others = [s for s in planned.plan.order if s.partition is None]
        for s in others:
            click.echo(f"  {s.asset:<32} {'':>6} (unpartitioned, runs once)")
        if estimate is None:
            click.echo("Estimated time: unknown (no partition of these assets ran before)")
        else:
            note = f"; {unknown} partitions without a record not counted" if unknown else ""
            click.echo(f"Estimated time: {_duration(estimate)} with {workers} threads "
                       f"(from recorded durations{note})")
        return
    limit = project.config.backfill_confirm_above
    if len(steps) > limit and not yes:
        raise PartitionError(
            f"this backfill runs {len(steps)} partitions, above backfill_confirm_above "
            f"({limit})",
            hint="Pass --yes to run it (or --dry-run to see it), or narrow --start/--end",
        )
    request = PartitionRequest.from_options(options, backfill=True, done_runs=done_runs)
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_command(
        options, "backfill",  # type: ignore[arg-type]
        sinks=[sink], compiled=compiled,
        partitions=PartitionExpander(manifest, target, request),
        run_args={"backfill": identity, "backfill_id": backfill_id},
    )  # fmt: skip
    sys.exit(result.exit_code)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


# --------------------------------------------------------------------------- docs


@cli.group("docs")
def docs_group() -> None:
    """The static lineage site: generate it, or serve it on localhost."""


@docs_group.command("generate")
@project_options
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write the site to (default: <project>/target/docs).",
)
def docs_generate_command(output: Path | None, **kwargs: Any) -> None:
    """Write the lineage site (HTML, CSS, JS and data; opens from file://, no network).

    Reads the state store read-only, so it is safe while a build runs.

    \b
    Examples:
      orch docs generate
      orch docs generate -o /tmp/site && open /tmp/site/index.html
    """
    from orch.docs import generate_site
    from orch.runner import open_state

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    out = output or result.project.target_dir / "docs"
    project = result.project
    with open_state(project.root, readonly=True, target=project.target) as reader:
        stats = generate_site(result.manifest, reader, out)
    index = (out / "index.html").resolve()
    click.echo(
        f"Wrote the docs site for {stats.assets} assets and {stats.checks} checks "
        f"({stats.files} files, {stats.bytes / 1e6:.1f} MB) in {stats.seconds:.2f}s → "
        f"{index.as_uri()}"
    )


@docs_group.command("serve")
@project_options
@click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--dir",
    "site_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of the site (default: <project>/target/docs).",
)
def docs_serve_command(port: int, site_dir: Path | None, **kwargs: Any) -> None:
    """Serve the generated site on http://127.0.0.1:PORT (Ctrl-C stops it).

    \b
    Examples:
      orch docs generate && orch docs serve --port 8000
    """
    import http.server

    from orch.errors import UserError

    root = site_dir or Path(kwargs["project_dir"]) / "target" / "docs"
    if not (root / "index.html").is_file():
        raise UserError(
            f"no docs site in {root}", hint="Run 'orch docs generate' first (or pass --dir)."
        )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"Serving {root} on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        server.serve_forever()


# --------------------------------------------------------------------------- jobs, schedules


def _automation(kwargs: dict[str, Any]) -> tuple[Any, Any, RunOptions]:
    """(project, automation, options) for the job/schedule/sensor commands."""
    from orch.project import load_project
    from orch.schedules import load_automation

    options = make_options(kwargs)
    project = load_project(options)
    return project, load_automation(project), options


def _when(t: Any) -> str:
    from orch.schedules import iso

    return iso(t) if t is not None else "-"


def _last(state: Any, name: str) -> str:
    tick = state.last_tick(name)
    if tick is None:
        return "never"
    detail = ""
    if tick.status == "skipped" and tick.skip_reason:
        detail = f" ({tick.skip_reason})"
    elif tick.status == "failed" and tick.error:
        detail = f" ({tick.error.strip().splitlines()[-1]})"
    elif tick.run_ids:
        detail = f" (run {', '.join(r[:8] for r in tick.run_ids)})"
    return f"{_when(tick.tick_time)} {tick.status}{detail}"


@cli.group("job")
def job_group() -> None:
    """Jobs: named selections from orch_project.yml (`jobs:`)."""


@job_group.command("ls")
@project_options
def job_ls_command(**kwargs: Any) -> None:
    """List the jobs, with their selection and the schedules and sensors that launch them.

    \b
    Examples:
      orch job ls
    """
    _, automation, _ = _automation(kwargs)
    if not automation.jobs:
        click.echo("No jobs: declare them under 'jobs:' in orch_project.yml.")
        return
    for name, job in sorted(automation.jobs.items()):
        launchers = [s.name for s in automation.schedules.values() if s.job == name]
        launchers += [s.name for s in automation.sensors.values() if s.job == name]
        line = f"{name:<24} select: {job.select}"
        if job.exclude:
            line += f"  exclude: {job.exclude}"
        if job.partitions:
            line += f"  partitions: {job.partitions}"
        if launchers:
            line += f"  ← {', '.join(sorted(launchers))}"
        click.echo(line)


@job_group.command("run")
@project_options
@click.argument("name")
@click.option("--partition", default=None, help="Build this partition key (a partitioned job).")
@click.option("--partition-mode", default=None, hidden=True)
@click.option("--at", "at_", default=None, hidden=True, help="The tick time (daemon children).")
@click.option("--run-id", default=None, hidden=True, help="The run id a daemon claimed.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Parallel steps.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per event on stdout.")  # fmt: skip
def job_run_command(
    name: str,
    partition: str | None,
    partition_mode: str | None,
    at_: str | None,
    run_id: str | None,
    threads: int | None,
    log_format: str,
    **kwargs: Any,
) -> None:
    """Run job NAME: build its selection with its vars (build semantics, exit 1 on failure).

    \b
    Examples:
      orch job run daily_revenue
      orch job run daily_revenue --partition 2024-03-01
    """
    from orch.jobs import run_job
    from orch.reporting import ConsoleReporter, JsonLinesReporter
    from orch.schedules import parse_time

    _, automation, options = _automation(kwargs)
    options = RunOptions(**{**options.__dict__, "threads": threads})
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_job(
        options,
        name,
        automation.job(name),
        partition=partition,
        partition_mode=partition_mode,
        at=parse_time(at_) if at_ else None,
        run_id=run_id,
        sinks=[sink],
    )
    sys.exit(result.exit_code)


@cli.group("schedule")
def schedule_group() -> None:
    """Schedules: cron ticks that launch jobs."""


@schedule_group.command("ls")
@project_options
def schedule_ls_command(**kwargs: Any) -> None:
    """List schedules with their next tick and last outcome.

    \b
    Examples:
      orch schedule ls
    """
    from orch.runner import open_state
    from orch.schedules import next_schedule_tick, system_now

    project, automation, _ = _automation(kwargs)
    if not automation.schedules:
        click.echo("No schedules.")
        return
    now = system_now()
    with open_state(project.root, readonly=True, target=project.target) as state:
        for name, defn in sorted(automation.schedules.items()):
            nxt = next_schedule_tick(defn, state, now)
            due = " (due)" if nxt is not None and nxt <= now else ""
            click.echo(
                f"{name:<24} job {defn.job:<20} {defn.cron} ({defn.timezone}, catchup "
                f"{defn.catchup})  next: {_when(nxt) + due if defn.enabled else 'disabled'}  "
                f"last: {_last(state, name)}"
            )


@schedule_group.command("tick")
@project_options
@click.option("--now", "now_", default=None, help="Evaluate as if it were this time (ISO 8601).")
def schedule_tick_command(now_: str | None, **kwargs: Any) -> None:
    """Evaluate every schedule and sensor once, run what is due, and exit (for cron or CI).

    Takes the daemon lock: it refuses while `orch daemon` runs for this project.
    Exit code 1 when a tick failed.

    \b
    Examples:
      orch schedule tick
      orch schedule tick --now 2024-03-02T00:00
    """
    from orch.daemon import Daemon
    from orch.schedules import parse_time

    options = make_options(kwargs)
    now = parse_time(now_) if now_ else None
    daemon = Daemon(options, launcher="inline", report=click.echo)
    try:
        failed = daemon.tick_once(now)
    finally:
        daemon.close()
    sys.exit(1 if failed else 0)


@cli.group("sensor")
def sensor_group() -> None:
    """Sensors: functions (and built-in file/asset sensors) that request runs."""


@sensor_group.command("ls")
@project_options
def sensor_ls_command(**kwargs: Any) -> None:
    """List sensors with their interval, cursor and last outcome.

    \b
    Examples:
      orch sensor ls
    """
    from orch.runner import open_state

    project, automation, _ = _automation(kwargs)
    if not automation.sensors:
        click.echo("No sensors.")
        return
    with open_state(project.root, readonly=True, target=project.target) as state:
        for name, sn in sorted(automation.sensors.items()):
            cursor = state.get_cursor(name)
            click.echo(
                f"{name:<24} {sn.kind:<7} job {sn.job:<20} every "
                f"{sn.minimum_interval_seconds:g}s{'' if sn.enabled else ' (disabled)'}  "
                f"last: {_last(state, name)}  cursor: {cursor if cursor is not None else '-'}"
            )


@sensor_group.command("test")
@project_options
@click.argument("name")
@click.option("--cursor", default=None, help="Evaluate from this cursor instead of the stored one.")
def sensor_test_command(name: str, cursor: str | None, **kwargs: Any) -> None:
    """Evaluate sensor NAME once and print what it would request; launch and store nothing.

    \b
    Examples:
      orch sensor test landing_files
    """
    from orch.runner import open_state
    from orch.schedules import SensorContext, evaluate_sensor, system_now

    project, automation, _ = _automation(kwargs)
    if name not in automation.sensors:
        raise SelectionError(
            f"unknown sensor '{name}'",
            hint=suggestion(name, automation.sensors) or "See 'orch sensor ls'",
        )
    defn = automation.sensors[name]
    with open_state(project.root, readonly=True, target=project.target) as state:
        stored = state.get_cursor(name)
        context = SensorContext(
            sensor=name, now=system_now(), project_root=project.root,
            cursor=cursor if cursor is not None else stored, state=state,
            target=project.target_name, last_tick=state.last_tick(name),
        )  # fmt: skip
        before = context.cursor
        evaluation = evaluate_sensor(defn, context)
        if evaluation.error is not None:
            click.echo(evaluation.error.rstrip(), err=True)
            click.echo(f"sensor '{name}' raised (this would be a failed tick)", err=True)
            sys.exit(1)
        for request in evaluation.requests:
            used = request.run_key is not None and state.run_key_used(name, request.run_key)
            click.echo(
                f"run request: job {request.job or defn.job}  run_key {request.run_key}"
                + (f"  partition {request.partition}" if request.partition else "")
                + (f"  vars {json.dumps(dict(request.vars), default=str)}" if request.vars else "")
                + ("  (run key already used: would not run)" if used else "")
            )
        if not evaluation.requests:
            click.echo(f"skipped: {evaluation.skip_reason}")
        if evaluation.cursor != before:
            click.echo(f"cursor: {before} -> {evaluation.cursor} (not stored)")


@cli.command("daemon")
@project_options
@click.option(
    "--max-concurrent-runs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs launched at once (runs on one target also wait for its run lock).",
)
@click.option(
    "--launcher",
    type=click.Choice(["thread", "subprocess"]),
    default="thread",
    show_default=True,
    help="Run jobs in worker threads or in child processes.",
)
@click.option("--poll-interval", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Longest sleep between two evaluations, in seconds.")  # fmt: skip
def daemon_command(
    max_concurrent_runs: int, launcher: str, poll_interval: float, **kwargs: Any
) -> None:
    """Evaluate schedules and sensors in a loop and launch their runs, until SIGTERM or Ctrl-C.

    Every tick is recorded (`orch schedule ls`, `orch sensor ls`); a restart neither re-runs a
    completed tick nor misses the ticks that fell due while it was down (catchup per schedule).
    One daemon per project. SIGTERM lets running runs finish, then exits.

    \b
    Examples:
      orch daemon
      orch daemon --launcher subprocess --poll-interval 10
    """
    from orch.daemon import Daemon

    options = make_options(kwargs)
    daemon = Daemon(
        options,
        launcher=launcher,
        max_concurrent_runs=max_concurrent_runs,
        poll_interval=poll_interval,
        report=click.echo,
    )
    a = daemon.automation
    click.echo(
        f"orch daemon: project '{daemon.project.name}', {len(a.schedules)} schedules, "
        f"{len(a.sensors)} sensors, {len(a.jobs)} jobs (SIGTERM or Ctrl-C to stop)"
    )
    try:
        daemon.run()
    finally:
        daemon.close()
    click.echo("orch daemon: stopped")
