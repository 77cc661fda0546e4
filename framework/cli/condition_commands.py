"""``orch automation``: assets' automation conditions — ls, explain, tick (and the daemon's run)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from orch.cli.base import cli, make_options, project_options
from orch.errors import SelectionError, suggestion


@cli.group("automation")
def automation_group() -> None:
    """Automation conditions of assets (eager, on_cron, on_missing, max_lag) and their reasons."""


def _ticker(kwargs: dict[str, Any], *, readonly: bool) -> Any:
    from orch.automation.condition_ticks import ConditionTicker
    from orch.automation.evaluate import MAX_ASSETS_PER_RUN
    from orch.load.project import load_project
    from orch.run.workflow import open_state

    options = make_options(kwargs)
    project = load_project(options)
    state = open_state(project.root, readonly=readonly, target=project.target)
    return ConditionTicker(
        options, project, state, max_assets=MAX_ASSETS_PER_RUN, report=click.echo
    )


@automation_group.command("ls")
@project_options
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def automation_ls_command(output_format: str, **kwargs: Any) -> None:
    """Each asset's condition and whether the last evaluation requested it.

    \b
    Examples:
      orch automation ls
    """
    from orch.automation.condition_ticks import manifest_for

    ticker = _ticker(kwargs, readonly=True)
    try:
        manifest = manifest_for(ticker.options)
        cursor = ticker.cursor()
        last_tick = ticker.state.last_tick("automation")
    finally:
        ticker.state.close()
    rows: list[dict[str, Any]] = []
    for name in manifest.topological_names():
        text = manifest.nodes[name].config.automation
        if not text:
            continue
        found = cursor.last.get(name)
        asked = cursor.requested.get(name)
        ephemeral = manifest.nodes[name].materialized == "ephemeral"
        rows.append({
            "asset": name,
            "condition": text,
            "requested": None if found is None else found.requested,
            "last_requested": asked.isoformat() if asked else None,
            "unsatisfiable": found.unsatisfiable if found else None,
            "ephemeral": ephemeral,
        })  # fmt: skip
    if output_format == "json":
        click.echo(json.dumps({"conditions": rows}, indent=1))
        return
    if not rows:
        click.echo("no asset has an automation condition")
        return
    when = cursor.tick.isoformat(timespec="seconds") if cursor.tick else "never"
    status = f" ({last_tick.status})" if last_tick is not None else ""
    click.echo(f"last evaluation: {when}{status}")
    width = max(len(r["asset"]) for r in rows)
    for r in rows:
        verdict = {None: "not evaluated", True: "requested", False: "not requested"}[r["requested"]]
        if r["unsatisfiable"]:
            verdict = "cannot be satisfied"
        elif r["ephemeral"]:
            verdict = "ephemeral: never built (its condition does nothing)"
        click.echo(f"{r['asset']:<{width}}  {r['condition']:<34} {verdict}")


@automation_group.command("explain")
@click.argument("asset")
@project_options
def automation_explain_command(asset: str, **kwargs: Any) -> None:
    """Why the last evaluation requested ASSET, or did not.

    \b
    Examples:
      orch automation explain orders_daily
    """
    ticker = _ticker(kwargs, readonly=True)
    try:
        cursor = ticker.cursor()
    finally:
        ticker.state.close()
    found = cursor.last.get(asset)
    if found is None:
        hint = suggestion(asset, cursor.last) or (
            "Run `orch automation tick --dry-run` or `orch daemon` to evaluate the conditions"
        )
        raise SelectionError(
            f"no automation evaluation recorded for '{asset}'"
            + ("" if cursor.tick is None else " (it has no automation condition?)"),
            hint=hint,
        )
    when = cursor.tick.isoformat(timespec="seconds") if cursor.tick else "?"
    verdict = "requested" if found.requested else "not requested"
    click.echo(f"{asset}: {found.condition or '(requested with another asset)'}")
    click.echo(f"evaluated at {when}: {verdict}")
    for line in found.reasons:
        click.echo(f"  {line}")
    if found.unsatisfiable:
        click.echo(f"cannot be satisfied: {found.unsatisfiable}")


@automation_group.command("tick")
@project_options
@click.option("--now", "now_", default=None, help="Evaluate as if it were this time (ISO 8601).")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; launch and store nothing.")
def automation_tick_command(now_: str | None, dry_run: bool, **kwargs: Any) -> None:
    """Evaluate every automation condition once; run what it requests (unless --dry-run).

    Without --dry-run it launches the runs the evaluation requests (schedules and sensors are
    left to `orch schedule tick`) and takes the daemon lock.

    \b
    Examples:
      orch automation tick --dry-run
    """
    from orch.automation.daemon import Daemon
    from orch.automation.schedules import parse_time, system_now

    now = parse_time(now_) if now_ else system_now()
    if dry_run:
        ticker = _ticker(kwargs, readonly=True)
        try:
            outcome = ticker.tick(now, dry_run=True)
        finally:
            ticker.state.close()
        evaluation = outcome.evaluation
        if evaluation is None:
            raise click.ClickException(outcome.error or "no evaluation")
        for name, found in evaluation.assets.items():
            verdict = "requested" if found.requested else "not requested"
            click.echo(f"{name}: {verdict}  ({found.condition or 'no condition of its own'})")
            for line in found.reasons:
                click.echo(f"  {line}")
        runs = evaluation.runs
        click.echo(f"{len(runs)} run(s) would be launched" + "".join(
            f"\n  build -s {' '.join(r.assets)}" + "".join(
                f"\n    {a}: only partitions {', '.join(k)}" for a, k in r.partitions.items()
            ) for r in runs
        ))  # fmt: skip
        return
    daemon = Daemon(
        make_options(kwargs), launcher="inline", report=click.echo, conditions_only=True
    )
    try:
        failed = daemon.tick_once(now)
    finally:
        daemon.close()
    sys.exit(1 if failed else 0)


@automation_group.command("run", hidden=True)
@project_options
@click.option("-s", "--select", "select", multiple=True, required=True)
@click.option("--run-id", required=True)
@click.option("--at", "at", default=None)
@click.option("--partitions", "partitions", default=None, help="JSON: asset -> the only keys.")
def automation_run_command(
    select: tuple[str, ...], run_id: str, at: str | None, partitions: str | None, **kwargs: Any
) -> None:
    """Build the assets an evaluation requested (the daemon's subprocess launcher).

    \b
    Examples:
      orch automation run -s stg_orders -s orders --run-id 3f2a... --at 2024-01-01T06:00Z
    """
    from orch.automation.condition_ticks import build_requested

    if not select:  # pragma: no cover - click requires it
        raise SelectionError("nothing to build")
    keys = {str(a): tuple(k) for a, k in json.loads(partitions).items()} if partitions else {}
    result = build_requested(make_options(kwargs), select, keys, run_id=run_id, at=at or "")
    summary = result.summary
    sys.exit(0 if summary is None or summary.status == "success" else 1)
