"""``orch source freshness``: dbt's source freshness check (and its lines in ``orch status``)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from orch.cli.base import cli, load_manifest, make_options, project_options, selection_options


@cli.group("source")
def source_group() -> None:
    """Declared sources: how fresh their data is, and observing them (a change makes what
    reads them stale)."""


@source_group.command("freshness")
@project_options
@selection_options
@click.option("--output", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object per source table.")  # fmt: skip
def source_freshness_command(output_format: str, **kwargs: Any) -> None:
    """Check each source table's newest loaded_at_field against warn_after / error_after.

    Exit code 1 when a table is past error_after or its query fails (as dbt); results are kept
    in the state store for `orch status` and the docs site.

    \b
    Examples:
      orch source freshness
      orch source freshness -s source:raw
    """
    from orch.run.source_freshness import FAILING, check_freshness
    from orch.run.workflow import open_state
    from orch.selection import select_nodes

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    manifest, project = result.manifest, result.project
    selected = select_nodes(manifest, options.select, options.exclude) if options.select else None
    with open_state(project.root, target=project.target) as state:
        results = check_freshness(
            manifest, project.target, project.root, state, target=project.target_name,
            selected=selected,
        )  # fmt: skip
    if output_format == "json":
        payload = {"schema_version": 1, "sources": [r.to_json() for r in results]}
        click.echo(json.dumps(payload, indent=2))
    elif not results:
        click.echo(
            "no source table has a freshness rule (loaded_at_field + warn_after/error_after)"
        )
    else:
        for r in results:
            click.echo(f"{r.status.upper():<14} {r.message}")
        counts = {s: sum(r.status == s for r in results) for s in
                  ("pass", "warn", "error", "runtime error", "skipped")}  # fmt: skip
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    if any(r.status in FAILING for r in results):
        sys.exit(1)
