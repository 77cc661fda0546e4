"""``orch code show ASSET`` and ``orch code diff ASSET``: the code that built an asset.

Also the "Built by" section ``orch status`` prints (:func:`echo_built_by`), and its ``--diff``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from orch.cli.base import cli, load_manifest, make_options, project_options

MAX_LISTED = 6  # assets named per "built by" line of orch status

if TYPE_CHECKING:
    from orch.compiler import CompileResult
    from orch.run.provenance import BuiltBy


@cli.group("code")
def code_group() -> None:
    """The code that built each asset: its compiled SQL or Python source, and git commit.

    Every materialization records the code behind its fingerprint (stored once) and the
    project's git commit and dirty flag; `orch code diff` compares it with today's code.
    """


def _one(kwargs: dict[str, Any], asset: str) -> BuiltBy:
    from orch.run.provenance import provenance_report

    result = load_manifest(make_options(kwargs), scoped=False)
    return provenance_report(result.manifest, result.project, [asset])[0]


def _header(found: BuiltBy) -> str:
    if found.record is None:
        return f"{found.asset}: never built"
    at = found.record.finished_at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{found.asset}: built by {found.describe()} at {at} UTC"


@code_group.command("show")
@project_options
@click.argument("asset")
@click.option(
    "--run",
    "run_id",
    default=None,
    help="An op job's run (id or prefix): ASSET names one of its op steps (orch runs show RUN).",
)
def code_show_command(asset: str, run_id: str | None, **kwargs: Any) -> None:
    """The code that built ASSET's newest materialization, and its git commit.

    With --run, the Python source an op step of that op job's run ran.

    \b
    Examples:
      orch code show customers
      orch code show fetch_orders --run 3f2a9c1b
    """
    if run_id is not None:
        return _show_op_step(kwargs, run_id, asset)
    found = _one(kwargs, asset)
    click.echo(_header(found))
    if found.record is None:
        return
    if found.built is None:
        click.echo("  its code was not recorded (built by an orch without code provenance)")
        return
    where = f" ({found.built.module})" if found.built.module else ""
    click.echo(f"  {found.built.kind} code{where}:\n")
    click.echo(found.built.code.rstrip("\n"))


def _show_op_step(kwargs: dict[str, Any], run_id: str, step: str) -> None:
    """``orch code show STEP --run RUN``: the op code an op step ran, and the run's git commit."""
    from orch.errors import SelectionError, suggestion
    from orch.run.history import find_run, op_code_of_run
    from orch.run.workflow import open_state

    options = make_options(kwargs)
    project = load_manifest(options, scoped=False).project
    with open_state(project.root, readonly=True, target=project.target) as state:
        run = find_run(state, run_id)
        steps = [o.step_key for o in state.run_op_steps(run.run_id)]
        code = op_code_of_run(state, run.run_id)
        git = state.git_states([run.run_id]).get(run.run_id)
    if step not in steps:
        what = "has no op steps (it is not an op job's run)" if not steps else "has no such op step"
        raise SelectionError(
            f"run '{run.run_id[:8]}' {what}: '{step}'",
            hint=suggestion(step, steps) or f"See its steps with 'orch runs show {run.run_id[:8]}'",
        )
    commit = "git unknown" if git is None else git.describe()
    click.echo(f"{step}: op step of run {run.run_id[:8]} ({run.args.get('job')}), {commit}")
    version = code.get(step)
    if version is None:
        click.echo("  its code was not recorded (reused from an earlier run, or no source)")
        return
    click.echo(f"  {version.kind} code ({version.module}):\n")
    click.echo(version.code.rstrip("\n"))


@code_group.command("diff")
@project_options
@click.argument("asset")
def code_diff_command(asset: str, **kwargs: Any) -> None:
    """A unified diff from the code that built ASSET to the code that would build it now.

    \b
    Examples:
      orch code diff customers
    """
    found = _one(kwargs, asset)
    click.echo(_header(found))
    if found.record is None:
        return
    if found.built is None:
        click.echo("  its code was not recorded (built by an orch without code provenance)")
    elif found.current is None:
        click.echo("  no current code to compare (the asset has no code of its own)")
    elif not found.changed:
        click.echo("  the code is unchanged since")
    else:
        click.echo(found.diff().rstrip("\n"))


def echo_built_by(result: CompileResult, names: list[str], *, diff: bool) -> None:
    """``orch status``'s "Built by" section: the runs and git commits that built the assets
    (grouped), the assets whose code changed since, and with ``diff`` their diffs."""
    from orch.run.provenance import provenance_report

    found = [b for b in provenance_report(result.manifest, result.project, names) if b.record]
    if not found:
        return
    groups: dict[str, list[str]] = {}
    for b in found:
        groups.setdefault(b.describe(), []).append(b.asset)
    click.echo("\nBuilt by (last materialization):")
    for what, assets in groups.items():
        shown = ", ".join(assets[:MAX_LISTED])
        more = f" and {len(assets) - MAX_LISTED} more" if len(assets) > MAX_LISTED else ""
        click.echo(f"  {what}: {shown}{more}")
    changed = [b for b in found if b.changed]
    if changed:
        click.echo(
            "Code changed since built: " + ", ".join(b.asset for b in changed)
            + ("" if diff else "  (orch status --diff, or orch code diff ASSET)")
        )  # fmt: skip
    if diff:
        for b in changed:
            click.echo("\n" + b.diff().rstrip("\n"))
