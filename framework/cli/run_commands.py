"""``orch build``, ``run``, ``seed``, ``test``, ``status`` and ``backfill``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from orch import redaction
from orch.cli.base import (
    cli,
    load_manifest,
    make_options,
    project_options,
    selection_options,
    takes_workspace,
)

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
                     help="Only what is missing or stale (see orch status): never built, "
                          "code changed, a failed run or check, or a change upstream."),
        click.option("--rebuild-downstream", is_flag=True,
                     help="With --changed: a code change rebuilds everything downstream, even "
                          "when it is non-breaking for it (see docs/automation.md)."),
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
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter
    from orch.run.workflow import run_command

    options = make_options(
        kwargs,
        threads=kwargs["threads"],
        full_refresh=kwargs["full_refresh"],
        fail_fast=kwargs["fail_fast"],
        changed_only=kwargs["changed"],
        rebuild_downstream=kwargs["rebuild_downstream"],
        dry_run=kwargs["dry_run"],
        partition=kwargs.get("partition"),
        start=kwargs.get("start"),
        end=kwargs.get("end"),
        checks=kwargs.get("checks") or "built",
    )
    if kwargs.get("workspace") is not None:  # every member of orch_workspace.yml
        from orch.cli.workspace_commands import run_across

        return run_across(command, kwargs["workspace"], options, kwargs["log_format"])
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
    if plan.decisions:  # orch.run.change: what each code change rebuilds, and what it spares
        click.echo("Change classification:")
        for asset, decision in plan.decisions.items():
            click.echo(f"  {asset:<40} {decision}")


@cli.command("build")
@project_options
@selection_options
@run_options
@partition_options
@click.option("--checks", "checks", type=click.Choice(["built", "all"]), default="built",
              show_default=True,
              help="built: the checks of what this run builds (checks of assets skipped as up "
                   "to date keep their last result); all: every selected check.")  # fmt: skip
@takes_workspace
def build_command(**kwargs: Any) -> None:
    """Load seeds, build models (and run their checks) in dependency order.

    Plain `orch build` rebuilds the whole selection, since sources can change outside orch;
    `--changed` builds only what is missing or stale; the checks of assets it skips as up to
    date are not re-run (`--checks all` re-runs them). Exit code 1 when anything failed.

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
@takes_workspace
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
@takes_workspace
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
@click.option(
    "--store-failures",
    is_flag=True,
    help="Write every failing row of each failing check to <schema>_audit.<check>.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Checks evaluated in parallel (default: the target's 'threads').",
)
@click.option(
    "--fail-fast",
    "-x",
    is_flag=True,
    help="Stop at the first failing check (error severity) or erroring query.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per check result on stdout.",
)
@takes_workspace
def test_command(store_failures: bool, threads: int | None, fail_fast: bool, log_format: str,
                 **kwargs: Any) -> None:  # fmt: skip
    """Run the checks of the selected assets against what is in the warehouse, and their
    unit tests (in an in-memory DuckDB, first).

    Prints a table of results, then each failure with sample rows and the query to reproduce
    it (a unit test: its row diff). Exit code 1 when a check fails at error severity (or its
    query errors). Checks are selected like assets (a check of a selected asset is selected),
    by name, or by test_type: (not_null, unique, ..., singular, python; unit or data).

    \b
    Examples:
      orch test
      orch test -s +orders --exclude test_type:relationships
      orch test -s test_type:singular
      orch test -s test_type:unit
      orch test -s daily_sales --start 2024-01-01 --end 2024-01-31
      orch test --store-failures
      orch test -x --threads 1
      orch test --workspace . -s marketing.roi+   (across projects: member.asset)
    """
    from orch.compiler.artifacts import write_artifacts

    options = make_options(
        kwargs, threads=threads, partition=kwargs.get("partition"), start=kwargs.get("start"),
        end=kwargs.get("end"), fail_fast=fail_fast,
    )  # fmt: skip

    def test_one(member_options: Any, compiled: Any) -> int | None:
        return _run_and_print_checks(member_options, compiled, store_failures, log_format)

    if kwargs.get("workspace") is not None:  # every member's checks, member by member
        from orch.cli.workspace_commands import test_across

        return test_across(kwargs["workspace"], options, test_one)
    compiled = load_manifest(options, scoped=False)
    write_artifacts(compiled)  # the next command reuses this manifest (a no-op when reused)
    code = test_one(options, compiled)
    if code is None:
        click.echo("No checks selected.")
        return
    sys.exit(code)


def _run_and_print_checks(
    options: Any, compiled: Any, store_failures: bool, log_format: str
) -> int | None:
    """Run the selected checks of one project and print them; the exit code (None: no check
    was selected)."""
    from orch.run.reporting import JsonLinesReporter
    from orch.run.workflow import run_checks

    sinks = [JsonLinesReporter()] if log_format == "json" else []
    run = run_checks(options, sinks=sinks, store_failures=store_failures, compiled=compiled)
    if run is None:
        return None
    if log_format == "text":
        _print_check_results(run)
        if run.not_run and not run.failed_hooks:
            click.echo(
                f"--fail-fast: stopped after the first failure; {run.not_run} check(s) not run."
            )
    if run.failed_hooks:
        click.echo(f"Error: failed run hook(s): {', '.join(run.failed_hooks)}", err=True)
    return run.exit_code


_CHECK_COLUMNS = ("status", "check", "asset", "partition", "failing rows", "seconds")


def _print_plain_table(
    console: Any, rows: Sequence[tuple[str, ...]], styles: Sequence[str]
) -> bool:
    """The check results laid out as rich's ``Table(box=None)`` lays them out when they fit the
    console (same text), written as one block: rich measuring 2,400 cells one by one took ~0.3 s
    of a 400-check ``orch test``. False (nothing printed) when the table would have to wrap."""
    from orch.run.reporting import plain
    from rich.cells import cell_len

    widths = [cell_len(c) for c in _CHECK_COLUMNS]
    for row in rows:
        for i, cell in enumerate(row):
            n = cell_len(cell)
            if n > widths[i]:
                widths[i] = n
    if sum(widths) + 2 * len(widths) > console.width:
        return False

    def line(cells: tuple[str, ...], first: str) -> str:
        out = [first]
        for i in range(1, len(cells)):
            pad = " " * (widths[i] - cell_len(cells[i]))
            text = plain(cells[i])
            out.append(f" {pad}{text} " if i >= 4 else f" {text}{pad} ")
        return "".join(out)

    header = line(_CHECK_COLUMNS, f" {_CHECK_COLUMNS[0]:<{widths[0]}} ")
    lines = [f"[bold]{plain(header)}[/]"]
    for row, row_style in zip(rows, styles, strict=True):
        status = f" [{row_style}]{row[0]}[/]{' ' * (widths[0] - cell_len(row[0]))} "
        lines.append(line(row, status))
    console.print("\n".join(lines))
    return True


def _print_check_results(run: Any) -> None:
    """A table of check results, then each failure with its sample rows and query."""
    from orch.run.reporting import plain
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # files and pipes: whole check names, no wrapping
        console = Console(highlight=False, soft_wrap=True, width=250)
    style = {"pass": "green", "warn": "yellow", "skipped": "yellow"}
    ordered = sorted(run.results, key=lambda r: (r.asset or "", r.check, str(r.partition)))
    rows = [
        (r.status.upper(), r.check, r.asset or "-", r.partition or "", f"{r.failing_rows:,}",
         f"{r.duration_s:.2f}")
        for r in ordered
    ]  # fmt: skip
    if not _print_plain_table(console, rows, [style.get(r.status, "red") for r in ordered]):
        table = Table(box=None, title_justify="left")
        for column in _CHECK_COLUMNS[:4]:
            table.add_column(column)
        table.add_column(_CHECK_COLUMNS[4], justify="right")
        table.add_column(_CHECK_COLUMNS[5], justify="right")
        for row, row_style in zip(rows, (style.get(r.status, "red") for r in ordered), strict=True):
            table.add_row(f"[{row_style}]{row[0]}[/]", *(plain(cell) for cell in row[1:]))
        console.print(table)
    for r in ordered:
        if r.status in ("pass", "skipped"):
            continue
        where = f"[{r.partition}]" if r.partition else ""
        console.print(
            f"\n[{style.get(r.status, 'red')} bold]{r.status.upper()}[/] "
            + plain(f"{r.check} on {r.asset or '-'}{where}: {r.failing_rows:,} failing rows")
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
@click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per asset (status, reason, causes, partitions).",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Also print a diff for each asset whose code changed since it was built.",
)
@takes_workspace
def status_command(output_format: str, show_diff: bool, **kwargs: Any) -> None:
    """Each asset's last materialization and whether it is up to date (and why not).

    \b
    Examples:
      orch status
      orch status -s +customers
      orch status --output json
      orch status --diff
    """
    from orch.cli.code_commands import echo_built_by
    from orch.cli.status_view import (
        render_metadata,
        render_partition_summaries,
        render_status,
        render_storage,
    )
    from orch.run.provenance import add_built_by
    from orch.run.status import metadata_rows, status_json, status_report, storage_rows

    options = make_options(kwargs)
    if kwargs.get("workspace") is not None:  # every member of orch_workspace.yml
        from orch.cli.workspace_commands import status_across

        return status_across(kwargs["workspace"], options, output_format)
    result = load_manifest(options, scoped=False)
    report = status_report(result.manifest, result.project, options)
    if output_format == "json":
        assets = add_built_by(result.manifest, result.project, status_json(report))
        payload: dict[str, Any] = {"schema_version": 1, "assets": assets}
        sources = _source_results(result.project)
        if sources:  # the last `orch source freshness`, when there is one
            payload["source_freshness"] = [r.to_json() for r in sources.values()]
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(render_status(report.rows))
    summaries = report.summaries
    if summaries:
        click.echo("\nPartitions (up to the last complete one):")
        click.echo(render_partition_summaries(summaries))
    stored = storage_rows(result.manifest, result.project, options)
    if stored:
        click.echo("\nStored (last materialization):")
        click.echo(render_storage(stored))
    meta = metadata_rows(result.manifest, result.project, options)
    if meta:
        click.echo("\nOutput metadata (last materialization):")
        click.echo(render_metadata(meta))
    _echo_source_freshness(result.project)
    echo_built_by(result, [r.asset for r in report.rows], diff=show_diff)
    _echo_op_jobs(result.project)


def _source_results(project: Any) -> dict[str, Any]:
    """The last `orch source freshness` results of the target, by source."""
    from orch.run.source_freshness import latest_results
    from orch.run.workflow import open_state

    with open_state(project.root, readonly=True, target=project.target) as state:
        return latest_results(state, project.target_name)


def _echo_source_freshness(project: Any) -> None:
    """The last `orch source freshness` results, when there are any."""
    found = _source_results(project)
    if not found:
        return
    click.echo("\nSource freshness (last `orch source freshness`):")
    for r in found.values():
        click.echo(f"  {r.status.upper():<14} {r.message}  (checked {r.checked_at[:19]})")


def _echo_op_jobs(project: Any) -> None:
    """The op jobs, their ops and their last runs (a broken job file is one line, not a failure)."""
    from orch.automation.jobs import op_job_overview
    from orch.automation.schedules import job_files
    from orch.errors import OrchError
    from orch.load.python_files import collect_op_jobs
    from orch.run.workflow import open_state

    if not job_files(project):
        return
    try:
        jobs = collect_op_jobs(project.root, job_files(project))
    except OrchError as err:
        click.echo(f"\nOp jobs: could not load them: {err.format_message()}")
        return
    if not jobs:
        return
    with open_state(project.root, readonly=True, target=project.target) as state:
        overview = op_job_overview(jobs, state, project.root, runs=3)
    click.echo("\nOp jobs (orch job run NAME):")
    for job in overview:
        click.echo(f"  {job['name']:<28} ops: {' → '.join(job['order'])}")
        if not job["runs"]:
            click.echo("      never run")
        for run in job["runs"]:
            c = run["counts"]
            click.echo(
                f"      {run['status']:<11} {run['started_at'][:19].replace('T', ' ')} UTC  "
                f"run {run['run_id'][:8]}  {c.get('success', 0)} ok, {c.get('failed', 0)} "
                f"failed, {c.get('skipped', 0)} skipped"
            )
        for step in job["last_steps"]:
            if step["status"] != "success":
                where = f" ({step['path']})" if step.get("path") else ""
                error = (step.get("error") or "").strip().splitlines()
                click.echo(
                    f"        {step['status']:<11} {step['step']}: "
                    f"{error[-1] if error else ''}{where}"
                )


# --------------------------------------------------------------------------- backfill


@cli.command("backfill")
@project_options
@selection_options
@click.option(
    "--start",
    default=None,
    metavar="KEY",
    help="First partition (included; default: each asset's first partition).",
)
@click.option(
    "--end",
    default=None,
    metavar="KEY",
    help="Last partition (included; default: the last complete partition).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions run in parallel (default: the target's 'threads').",
)
@click.option(
    "--dry-run", is_flag=True, help="List the partitions and estimate the time; run nothing."
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Run even when above the project's backfill_confirm_above partitions.",
)
@click.option("--fail-fast", "-x", is_flag=True, help="Stop at the first failure.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per event on stdout.",
)
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
    from orch.partitions import compress, definition_of
    from orch.run.backfill import plan_backfill, run_backfill
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter

    options = make_options(kwargs, threads=threads, start=start, end=end, fail_fast=fail_fast)
    backfill = plan_backfill(options)
    for warning in backfill.compiled.warnings:
        click.echo(f"Warning: {warning}", err=True)
    manifest = backfill.compiled.manifest
    steps = backfill.partition_steps
    if backfill.done_runs:
        click.echo(
            f"Resuming backfill {backfill.backfill_id[:8]} ({len(backfill.done_runs)} earlier "
            "run(s)): the partitions it completed are skipped"
        )
    if dry_run:
        click.echo(f"Backfill plan: {len(steps)} partitions (dry run, nothing was run)")
        for asset in sorted({s.asset for s in steps}, key=manifest.topological_names().index):
            keys = [(str(s.partition), "") for s in steps if s.asset == asset]
            spec = manifest.nodes[asset].config.partitioned_by
            assert spec is not None
            ranges = [r.strip() for r in compress(keys, definition_of(spec, asset=asset))]
            more = " ..." if len(ranges) > 6 else ""
            click.echo(f"  {asset:<32} {len(keys):>6} partitions  {', '.join(ranges[:6])}{more}")
        for s in backfill.plan.order:
            if s.partition is None:
                click.echo(f"  {s.asset:<32} {'':>6} (unpartitioned, runs once)")
        if backfill.estimate_s is None:
            click.echo("Estimated time: unknown (no partition of these assets ran before)")
        else:
            unknown = backfill.unknown
            note = f"; {unknown} partitions without a record not counted" if unknown else ""
            click.echo(
                f"Estimated time: {_duration(backfill.estimate_s)} with {backfill.threads} "
                f"threads (from recorded durations{note})"
            )
        return
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_backfill(backfill, sinks=[sink], confirmed=yes)
    sys.exit(result.exit_code)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"
