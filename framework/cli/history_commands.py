"""``orch runs``, ``orch runs show`` and ``orch retry``: the history of runs, and running again."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from orch.cli.base import cli, make_options, project_options

_OUTPUT = click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object (documented in docs/commands.md, with a schema_version).",
)


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def _started(run: Any) -> str:
    return str(run.started_at.strftime("%Y-%m-%d %H:%M:%S"))


@cli.group("runs", invoke_without_command=True)
@project_options
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the newest runs to list.")  # fmt: skip
@_OUTPUT
@click.pass_context
def runs_group(ctx: click.Context, limit: int, output_format: str, **kwargs: Any) -> None:
    """The recorded runs, newest first: status, duration, steps ok/failed/skipped, selection.

    A run whose process died shows as `interrupted`. With --target, only that target's runs.
    `orch runs show RUN_ID` shows one run.

    \b
    Examples:
      orch runs
      orch runs --limit 5 --output json
      orch runs show 3f2a9c1b
    """
    if ctx.invoked_subcommand is not None:
        return
    from orch.run.history import list_runs, runs_json

    runs = list_runs(make_options(kwargs), limit)
    if output_format == "json":
        click.echo(json.dumps(runs_json(runs), indent=2))
        return
    if not runs:
        click.echo("No runs recorded yet: 'orch build' records one.")
        return
    click.echo(
        f"{'run':<8}  {'command':<8}  {'status':<11}  {'started (UTC)':<19}  {'duration':>9}  "
        f"{'ok':>4}  {'failed':>6}  {'skipped':>7}  selection"
    )
    for run in runs:
        c = run.counts
        click.echo(
            f"{run.run_id[:8]:<8}  {run.command:<8}  {run.status:<11}  {_started(run):<19}  "
            f"{_duration(run.duration_s):>9}  {c.get('success', 0):>4}  {c.get('failed', 0):>6}  "
            f"{c.get('skipped', 0):>7}  {run.selection or '(all)'}"
        )


@runs_group.command("show")
@project_options
@click.argument("run_id")
@_OUTPUT
def runs_show_command(run_id: str, output_format: str, **kwargs: Any) -> None:
    """One run: its steps (status, duration, rows, error) and its check results.

    RUN_ID may be a prefix of the id when only one run starts with it.

    \b
    Examples:
      orch runs show 3f2a9c1b
      orch runs show 3f2a --output json
    """
    from orch import redaction
    from orch.run.history import run_detail_json, show_run

    detail = show_run(make_options(kwargs), run_id)
    if output_format == "json":
        click.echo(json.dumps(run_detail_json(detail), indent=2))
        return
    run = detail.run
    c = run.counts
    click.echo(f"Run {run.run_id}: {run.command} on target '{run.target}', {run.status}")
    click.echo(
        f"  started {_started(run)} UTC, took {_duration(run.duration_s)}; steps: "
        f"{c.get('success', 0)} ok, {c.get('failed', 0)} failed, {c.get('skipped', 0)} skipped"
    )
    click.echo(f"  selection: {run.selection or '(all)'}")
    if detail.git is not None:
        click.echo(f"  git: {detail.git.describe()}")
    if detail.op_steps:
        _echo_op_steps(detail.op_steps, detail.op_code)
    elif detail.steps:
        click.echo("\nSteps:")
    else:
        click.echo("\nSteps: none recorded")
    for m in detail.steps:
        name = m.asset + (f"[{m.partition_key}]" if m.partition_key else "")
        rows = "-" if m.rows is None else f"{m.rows:,}"
        click.echo(f"  {m.status:<8} {name:<40} {_duration(m.duration_s):>9}  rows {rows}")
        if m.error:
            error = redaction.scrub(m.error.strip()).replace("\n", "\n      ")
            click.echo(f"      {error}")
    if detail.checks:
        click.echo("\nChecks:")
    for r in detail.checks:
        name = r.check + (f"[{r.partition_key}]" if r.partition_key else "")
        click.echo(
            f"  {r.status:<8} {name:<40} {r.asset or '-':<24} failing rows {r.failing_rows:,}"
        )
        if r.message:
            click.echo(f"      {redaction.scrub(r.message)}")
    _echo_hooks(detail.hooks)


def _echo_hooks(hooks: Any) -> None:
    """``Hooks:`` one line per hook that ran (a failed one with its error); a failing success or
    failure hook never changed its step's status, which the line says."""
    from orch import redaction

    if not hooks:
        return
    click.echo("\nHooks:")
    for h in hooks:
        where = f" of {h.step}" if h.step and not h.name.endswith(f" of {h.step}") else ""
        status = "ok" if h.status == "success" else "FAILED"
        click.echo(
            f"  {status:<8} {h.phase} {h.index + 1}: {h.name}{where}  {_duration(h.duration_s)}"
        )
        if h.error:
            click.echo(f"      {redaction.scrub(h.error.strip())}".replace("\n", "\n      "))
        if h.error and h.phase in ("success-hook", "failure-hook"):
            click.echo("      (a hook failure; the step's own status is unchanged)")


def _echo_op_steps(steps: Any, code: Any) -> None:
    from orch import redaction

    click.echo("\nOp steps:")
    for o in steps:
        tries = f"  {o.attempts} attempts" if o.attempts > 1 else ""
        reused = f"  (reused from run {o.reused_from[:8]})" if o.reused_from else ""
        click.echo(f"  {o.status:<11} {o.step_key:<32} {_duration(o.duration_s):>9}{tries}{reused}")
        ran = code.get(o.step_key)
        if ran is not None:  # orch code show STEP --run RUN prints it
            click.echo(f"      code: {ran.module or ran.kind} ({ran.fingerprint[:15]})")
        for name, info in o.outputs.items():
            size = f" ({info['size']})" if info.get("size") else ""
            keys = info.get("mapping_keys")
            preview = f" = {info['preview']}" if info.get("preview") else ""
            preview = f" keys {', '.join(keys)}" if keys is not None else preview
            click.echo(f"      {name}: {info.get('type', '?')}{size}{redaction.scrub(preview)}")
            for key, value in (info.get("metadata") or {}).items():
                click.echo(f"        {key}: {redaction.scrub(str(value))}")
        for number, error in enumerate(o.attempt_errors, start=1):
            click.echo(f"      attempt {number}: {redaction.scrub(error)}")
        if o.error:
            where = f" ({o.path})" if o.path else ""
            click.echo(f"      {redaction.scrub(o.error.strip())}{where}")


@cli.command("retry")
@project_options
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per event on stdout.")  # fmt: skip
def retry_command(log_format: str, **kwargs: Any) -> None:
    """Run again what failed or was skipped in the last build, run or seed on the target.

    Same command, selection and options (--full-refresh, --vars, partitions, threads) as that
    run; only its steps that did not materialize run. Exit code 1 when anything failed again.

    \b
    Examples:
      orch build -s +orders     # a model fails; what depends on it is skipped
      orch retry                # fix it, then build exactly those steps again
    """
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter
    from orch.run.retry import plan_retry, run_retry

    retry = plan_retry(make_options(kwargs))
    for warning in retry.compiled.warnings:
        click.echo(f"Warning: {warning}", err=True)
    last = retry.last_run
    if not retry.steps:
        click.echo(
            f"Nothing to retry: the last {last.command} ({last.run_id[:8]}) "
            + ("succeeded." if last.status == "success" else "left no step to run again.")
        )
        return
    names = [a + (f"[{k}]" if k else "") for a, k in retry.steps]
    click.echo(
        f"Retrying {len(names)} steps of {last.command} {last.run_id[:8]} ({last.status}): "
        + ", ".join(names),
        err=log_format == "json",
    )
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_retry(retry, sinks=[sink])
    sys.exit(0 if result is None else result.exit_code)
