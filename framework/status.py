"""``orch status``: each asset's last materialization against the current code."""

from __future__ import annotations

from dataclasses import dataclass

from orch.config import RunOptions
from orch.manifest import Manifest
from orch.plan import asset_status, buildable
from orch.project import Project
from orch.selection import select_nodes
from orch.state import SQLiteStateStore


@dataclass(frozen=True)
class StatusRow:
    """One line of ``orch status``."""

    asset: str
    materialized: str
    status: str
    last_run: str
    finished_at: str
    rows: str
    duration: str


def asset_rows(manifest: Manifest, project: Project, options: RunOptions) -> list[StatusRow]:
    """Status rows for the selected buildable assets, in dependency order."""
    selected = select_nodes(manifest, options.select, options.exclude)
    names = [
        n for n in manifest.topological_names() if n in selected and buildable(manifest.nodes[n])
    ]
    with SQLiteStateStore.for_project(project.root, readonly=True) as state:
        latest = state.latest_materializations(None, target=project.target_name)
    rows = []
    for name in names:
        node = manifest.nodes[name]
        mine = latest.get((name, None))
        ups = [latest[(p, None)] for p in manifest.parents.get(name, []) if (p, None) in latest]
        status = asset_status(node, mine, ups)
        rows.append(
            StatusRow(
                asset=name,
                materialized=node.materialized,
                status=status,
                last_run=mine.run_id[:8] if mine else "-",
                finished_at=mine.finished_at.strftime("%Y-%m-%d %H:%M:%S")
                if mine and mine.finished_at
                else "-",
                rows="-" if not mine or mine.rows is None else f"{mine.rows:,}",
                duration="-" if not mine or mine.duration_s is None else f"{mine.duration_s:.2f}s",
            )
        )
    return rows


def render_status(rows: list[StatusRow]) -> str:
    """A plain-text table."""
    headers = ("asset", "materialized", "status", "last run", "finished (UTC)", "rows", "duration")
    table = [headers] + [
        (r.asset, r.materialized, r.status, r.last_run, r.finished_at, r.rows, r.duration)
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no assets selected")
    return "\n".join(lines)
