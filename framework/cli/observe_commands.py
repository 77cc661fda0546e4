"""``orch source observe``: fingerprint the declared sources (docs/automation.md)."""

from __future__ import annotations

import json
from typing import Any

import click
from orch.cli.base import make_options, project_options
from orch.cli.source_commands import source_group  # the one `orch source` group


@source_group.command("observe")
@project_options
@click.option(
    "-s",
    "--select",
    "names",
    multiple=True,
    metavar="SOURCE",
    help="Observe only these sources (default: every declared source).",
)
@click.option(
    "--output",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def source_observe_command(names: tuple[str, ...], output_format: str, **kwargs: Any) -> None:
    """Take an observation of each declared source: its row count and newest load time, or its
    `observe:` query. A source whose observation changed makes its readers stale for
    `orch build --changed`.

    \b
    Examples:
      orch source observe
      orch source observe -s shop.orders --output json
    """  # fmt: skip
    from orch.adapters import get_adapter
    from orch.errors import SelectionError
    from orch.run.observe import observe_sources
    from orch.run.workflow import compile_for, open_state

    options = make_options(kwargs)
    compiled = compile_for(options)
    manifest, project = compiled.manifest, compiled.project
    declared = sorted(n for n, node in manifest.nodes.items() if node.resource_type == "source")
    for name in names:
        if name not in declared:
            raise SelectionError(
                f"unknown source '{name}'",
                hint="Declared sources: " + (", ".join(declared) or "none"),
            )
    with open_state(project.root, target=project.target) as state:
        adapter = get_adapter(project.target, project.root)
        adapter.open()
        try:
            seen = observe_sources(
                manifest, adapter, state, target=project.target_name,
                sources=list(names) or declared,
            )  # fmt: skip
        finally:
            adapter.close()
    if output_format == "json":
        items = [
            {"source": o.record.source, "fingerprint": o.record.fingerprint,
             "values": o.record.detail.get("values", []), "changed": o.changed,
             "changed_at": o.record.changed_at, "observed_at": o.record.observed_at}
            for o in seen
        ]  # fmt: skip
        click.echo(json.dumps({"schema_version": 1, "observations": items}, default=str))
        return
    if not seen:
        click.echo("No declared sources to observe.")
    for o in seen:
        state_word = "changed" if o.changed else "unchanged"
        values = ", ".join(o.record.detail.get("values", []))
        click.echo(f"  {o.record.source:<32} {o.record.fingerprint}  {state_word:<9} ({values})")
