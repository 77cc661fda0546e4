"""``orch job``, ``orch schedule``, ``orch sensor`` and ``orch daemon``."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Any

import click
from orch.cli.base import (
    MultiValueOption,
    cli,
    make_options,
    project_options,
    takes_workspace,
)
from orch.config import RunOptions
from orch.errors import SelectionError, suggestion
from orch.selection import Selection

# --------------------------------------------------------------------------- jobs, schedules


def _automation(kwargs: dict[str, Any]) -> tuple[Any, Any, RunOptions]:
    """(project, automation, options) for the job/schedule/sensor commands.

    Schedules and sensors switched on or off in ``orch ui`` show as switched.
    """
    from orch.automation.schedules import load_automation
    from orch.automation.toggles import apply_switches
    from orch.load.project import load_project
    from orch.run.workflow import open_state

    options = make_options(kwargs)
    project = load_project(options)
    automation = load_automation(project)
    with open_state(project.root, readonly=True, target=project.target) as state:
        automation = apply_switches(automation, state)
    return project, automation, options


def _when(t: Any) -> str:
    from orch.automation.schedules import iso

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


_OUTPUT = click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help='json: one object {"schema_version": 1, ...} (docs/commands.md).',
)


def _tick_json(state: Any, name: str) -> dict[str, Any] | None:
    tick = state.last_tick(name)
    if tick is None:
        return None
    return {
        "tick_time": _when(tick.tick_time),
        "status": tick.status,
        "run_ids": list(tick.run_ids),
        "skip_reason": tick.skip_reason,
        "error": tick.error,
    }


def _echo_json(key: str, items: list[dict[str, Any]]) -> None:
    click.echo(json.dumps({"schema_version": 1, key: items}, indent=2, default=str))


@cli.group("job")
def job_group() -> None:
    """Jobs: asset jobs (`jobs:` in orch_project.yml) and op jobs (jobs/*.py)."""


@job_group.command("ls")
@project_options
@_OUTPUT
def job_ls_command(output_format: str, **kwargs: Any) -> None:
    """List the jobs, with their selection and the schedules and sensors that launch them.

    \b
    Examples:
      orch job ls
      orch job ls --output json
    """
    from orch.automation.jobs import op_job_summary

    project, automation, _ = _automation(kwargs)

    def launchers(name: str) -> tuple[list[str], list[str]]:
        return (
            sorted(s.name for s in automation.schedules.values() if s.job == name),
            sorted(s.name for s in automation.sensors.values() if s.job == name),
        )

    if output_format == "json":
        jobs = []
        for name, job in sorted(automation.jobs.items()):
            schedules, sensors = launchers(name)
            jobs.append({
                "name": name, "kind": "assets", "select": job.select, "exclude": job.exclude,
                "partitions": job.partitions, "vars": dict(job.vars),
                "description": job.description, "schedules": schedules, "sensors": sensors,
            })  # fmt: skip
        for name, op_job in automation.op_jobs.items():
            schedules, sensors = launchers(name)
            jobs.append({"name": name, "kind": "ops", **op_job_summary(op_job, project.root),
                         "schedules": schedules, "sensors": sensors})  # fmt: skip
        jobs.sort(key=lambda j: j["name"])
        _echo_json("jobs", jobs)
        return
    if not automation.jobs and not automation.op_jobs:
        click.echo(
            "No jobs: declare them under 'jobs:' in orch_project.yml, or define op jobs in "
            "jobs/*.py."
        )
        return
    for name in automation.names():
        schedules, sensors = launchers(name)
        if name in automation.op_jobs:
            summary = op_job_summary(automation.op_jobs[name], project.root)
            line = f"{name:<24} ops: {' → '.join(summary['order'])}"
        else:
            job = automation.jobs[name]
            line = f"{name:<24} select: {job.select}"
            if job.exclude:
                line += f"  exclude: {job.exclude}"
            if job.partitions:
                line += f"  partitions: {job.partitions}"
        if schedules or sensors:
            line += f"  ← {', '.join(sorted(schedules + sensors))}"
        click.echo(line)


@job_group.command("run")
@project_options
@click.argument("name")
@click.option(
    "--select",
    "-s",
    "select",
    cls=MultiValueOption,
    help="Only what the job selects and this selects (same syntax as orch build -s).",
)
@click.option("--exclude", cls=MultiValueOption, help="Also leave these out of the job's run.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--dry-run", is_flag=True, help="Print the plan without running anything.")
@click.option("--partition", default=None, help="Build this partition key (a partitioned job).")
@click.option("--partition-mode", default=None, hidden=True)
@click.option("--at", "at_", default=None, hidden=True, help="The tick time (daemon children).")
@click.option("--run-id", default=None, hidden=True, help="The run id a daemon claimed.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Parallel steps.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per event on stdout.")  # fmt: skip
@click.option(
    "--config",
    "run_config",
    default=None,
    help='Op jobs: run config as JSON, {"ops": {"OP": {"config": {...}}}}.',
)
@click.option("--tags", "tags", multiple=True, help="Op jobs: run tags, k=v (repeatable).")
@click.option("--from-failure", "from_failure", default=None, metavar="RUN_ID",
              help="Op jobs: re-run only what failed or did not run in RUN_ID.")  # fmt: skip
def job_run_command(
    name: str,
    run_config: str | None,
    tags: tuple[str, ...],
    from_failure: str | None,
    partition: str | None,
    partition_mode: str | None,
    at_: str | None,
    run_id: str | None,
    threads: int | None,
    log_format: str,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    full_refresh: bool,
    dry_run: bool,
    **kwargs: Any,
) -> None:
    """Run job NAME: an asset job builds its selection with its vars (build semantics); an op
    job runs its ops (exit 1 when a step failed, 130 when interrupted).

    -s narrows an asset job's selection, --exclude adds to its exclusions. --partition on a job
    without a partitioned asset is an error. --config, --tags and --from-failure are for op jobs.

    \b
    Examples:
      orch job run daily_revenue
      orch job run daily_revenue --partition 2024-03-01
      orch job run nightly -s orders customers --exclude tag:slow --dry-run
      orch job run train_model --config '{"ops": {"train": {"config": {"epochs": 5}}}}'
      orch job run train_model --from-failure 3f2a...
    """
    from orch.automation.jobs import run_job
    from orch.automation.schedules import parse_time
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter

    Selection.parse(_words(select), _words(exclude))  # a malformed selector fails before loading
    project, automation, options = _automation(kwargs)
    definition = automation.job(name)
    op_only = {"--config": run_config, "--tags": tags, "--from-failure": from_failure}
    if name in automation.op_jobs:
        asset_only = {"-s/--select": select, "--exclude": exclude, "--partition": partition,
                      "--full-refresh": full_refresh, "--threads": threads}  # fmt: skip
        _refuse(name, "an op job", asset_only)
        _run_op_job(project, definition, options, run_config, tags, from_failure, run_id,
                    log_format, dry_run)  # fmt: skip
        return
    _refuse(name, "an asset job", op_only)
    options = replace(
        options,
        threads=threads,
        select=_words(select),
        exclude=_words(exclude),
        full_refresh=full_refresh,
        dry_run=dry_run,
    )
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_job(
        options,
        name,
        automation.jobs[name],
        partition=partition,
        partition_mode=partition_mode,
        at=parse_time(at_) if at_ else None,
        run_id=run_id,
        sinks=[sink],
    )
    if result.summary is None:  # --dry-run
        from orch.cli.run_commands import _print_plan

        _print_plan(result)
    sys.exit(result.exit_code)


def _refuse(name: str, kind: str, given: dict[str, Any]) -> None:
    used = [flag for flag, value in given.items() if value]
    if used:
        raise click.UsageError(f"job '{name}' is {kind}: {', '.join(used)} does not apply to it")


def _parse_tags(tags: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{tag}' is not k=v", param_hint="--tags")
        out[key.strip()] = value
    return out


def _run_op_job(
    project: Any, job: Any, options: RunOptions, run_config: str | None,
    tags: tuple[str, ...], from_failure: str | None, run_id: str | None, log_format: str,
    dry_run: bool,
) -> None:  # fmt: skip
    from orch.automation.jobs import op_job_summary
    from orch.errors import ConfigError
    from orch.run.ops.workflow import run_op_job
    from orch.run.reporting import ConsoleReporter, JsonLinesReporter

    config = None
    if run_config is not None:
        try:
            config = json.loads(run_config)
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"--config is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
                hint='Write --config \'{"ops": {"OP": {"config": {"field": 1}}}}\'',
            ) from None
        if not isinstance(config, dict):
            raise ConfigError("--config must be a JSON object", hint='{"ops": {...}}')
    parsed_tags = _parse_tags(tags)
    if dry_run:
        summary = op_job_summary(job, project.root)
        click.echo(f"op job {job.name}: {len(summary['order'])} ops (nothing run)")
        for op_info in summary["ops"]:
            inputs = ", ".join(f"{k} ← {v}" for k, v in op_info["inputs"].items())
            mapped = f"  (once per {op_info['mapped_by']})" if op_info["mapped_by"] else ""
            click.echo(f"  {op_info['name']}({inputs}){mapped}")
        return
    sink = JsonLinesReporter() if log_format == "json" else ConsoleReporter()
    result = run_op_job(
        project, job, options=options, run_config=config, tags=parsed_tags,
        from_failure=from_failure, sinks=[sink], run_id=run_id,
    )  # fmt: skip
    if result.status != "success" and log_format == "text":
        click.echo(
            f"Run {result.run_id}: re-run what did not succeed with "
            f"'orch job run {job.name} --from-failure {result.run_id}'"
        )
    sys.exit({"success": 0, "failed": 1, "interrupted": 130}[result.status])


def _words(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(word for value in values for word in value.split())


@cli.group("schedule")
def schedule_group() -> None:
    """Schedules: cron ticks that launch jobs."""


@schedule_group.command("ls")
@project_options
@_OUTPUT
def schedule_ls_command(output_format: str, **kwargs: Any) -> None:
    """List schedules with their next tick and last outcome.

    \b
    Examples:
      orch schedule ls
      orch schedule ls --output json
    """
    from orch.automation.schedules import next_schedule_tick, system_now
    from orch.run.workflow import open_state

    project, automation, _ = _automation(kwargs)
    if output_format == "json":
        now = system_now()
        schedules = []
        with open_state(project.root, readonly=True, target=project.target) as state:
            for name, defn in sorted(automation.schedules.items()):
                nxt = next_schedule_tick(defn, state, now) if defn.enabled else None
                schedules.append({
                    "name": name, "job": defn.job, "cron": defn.cron, "timezone": defn.timezone,
                    "catchup": defn.catchup, "partition": defn.partition,
                    "enabled": defn.enabled, "next_tick": None if nxt is None else _when(nxt),
                    "due": nxt is not None and nxt <= now, "last_tick": _tick_json(state, name),
                })  # fmt: skip
        _echo_json("schedules", schedules)
        return
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
    from orch.automation.daemon import Daemon
    from orch.automation.schedules import parse_time

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
@_OUTPUT
def sensor_ls_command(output_format: str, **kwargs: Any) -> None:
    """List sensors with their interval, cursor and last outcome.

    \b
    Examples:
      orch sensor ls
      orch sensor ls --output json
    """
    from orch.run.workflow import open_state

    project, automation, _ = _automation(kwargs)
    if output_format == "json":
        sensors = []
        with open_state(project.root, readonly=True, target=project.target) as state:
            for name, sn in sorted(automation.sensors.items()):
                sensors.append({
                    "name": name, "kind": sn.kind, "job": sn.job,
                    "minimum_interval_seconds": sn.minimum_interval_seconds,
                    "enabled": sn.enabled, "cursor": state.get_cursor(name),
                    "last_tick": _tick_json(state, name),
                })  # fmt: skip
        _echo_json("sensors", sensors)
        return
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
    from orch.automation.schedules import SensorContext, evaluate_sensor, system_now
    from orch.run.workflow import open_state

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
        evaluation = evaluate_sensor(defn, context, project=project)
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
@click.option("--max-assets-per-run", type=click.IntRange(min=1), default=500, show_default=True,
              help="Automation conditions: the most assets one run builds.")  # fmt: skip
@click.option("--observe-every", default="5m", show_default=True, metavar="DURATION",
              help="Observe the sources automated assets read this often (30s, 5m, 1h; "
                   "'off': only `orch build` and `orch source observe` observe).")  # fmt: skip
@takes_workspace
def daemon_command(
    max_concurrent_runs: int,
    launcher: str,
    poll_interval: float,
    max_assets_per_run: int,
    observe_every: str,
    **kwargs: Any,
) -> None:
    """Evaluate schedules, sensors and assets' automation conditions in a loop, launch their runs.

    Runs until SIGTERM or Ctrl-C (see docs/automation.md for the conditions).

    Every tick is recorded (`orch schedule ls`, `orch sensor ls`); a restart neither re-runs a
    completed tick nor misses the ticks that fell due while it was down (catchup per schedule).
    One daemon per project. SIGTERM lets running runs finish, then exits.

    \b
    Examples:
      orch daemon
      orch daemon --launcher subprocess --poll-interval 10
      orch daemon --workspace .     (every member; a changed member is reloaded)
    """
    from orch.automation.daemon import Daemon
    from orch.conditions import parse_duration

    every = None if observe_every.strip().lower() in ("off", "0", "never") else observe_every
    try:
        seconds = parse_duration(every) if every is not None else None
    except ValueError as err:  # ConditionSyntaxError
        raise click.BadParameter(str(err), param_hint="--observe-every") from err
    options = make_options(kwargs)
    if kwargs.get("workspace") is not None:  # every member, reloaded when its files change
        from orch.cli.workspace_commands import daemon_across

        return daemon_across(
            kwargs["workspace"], options, launcher=launcher,
            max_concurrent_runs=max_concurrent_runs, poll_interval=poll_interval,
        )  # fmt: skip
    daemon = Daemon(
        options,
        launcher=launcher,
        max_concurrent_runs=max_concurrent_runs,
        poll_interval=poll_interval,
        report=click.echo,
        max_assets_per_run=max_assets_per_run,
        observe_every=seconds,
    )
    a = daemon.automation
    click.echo(
        f"orch daemon: project '{daemon.project.name}', {len(a.schedules)} schedules, "
        f"{len(a.sensors)} sensors, {len(a.jobs)} jobs"
        + (", automation conditions" if daemon.conditions.enabled else "")
        + " (SIGTERM or Ctrl-C to stop)"
    )
    try:
        daemon.run()
    finally:
        daemon.close()
    click.echo("orch daemon: stopped")
