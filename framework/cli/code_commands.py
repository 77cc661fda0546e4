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
def code_show_command(asset: str, **kwargs: Any) -> None:
    """The code that built ASSET's newest materialization, and its git commit.

    \b
    Examples:
      orch code show customers
    """
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
