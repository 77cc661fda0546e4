"""``orch status``: each asset's last materialization against the current code.

Partitioned assets get a row summarizing their partitions and a section of their own
(:func:`partition_summaries`): counts of materialized / missing / stale / failed partitions up to
the last complete one, the partitions as compressed ranges, and the asset's last run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from orch.assets import user_metadata
from orch.config import RunOptions
from orch.load.project import Project
from orch.manifest import Manifest
from orch.partitions import compress
from orch.run.partition_plan import PartitionExpander, PartitionRequest
from orch.run.plan import asset_status, buildable
from orch.selection import select_nodes
from orch.state.warehouse import open_state_store


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
    with open_state_store(project.root, project.target, readonly=True) as state:
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


# --------------------------------------------------------------------------- partitions


@dataclass(frozen=True)
class PartitionSummary:
    """The partitions of one partitioned asset, for ``orch status``."""

    asset: str
    definition: str
    counts: dict[str, int] = field(default_factory=dict)  # ok / missing / stale / failed
    ranges: list[str] = field(default_factory=list)
    last_run: str = "-"
    last_finished_at: str = "-"

    @property
    def total(self) -> int:
        """Partitions up to the last complete one."""
        return sum(self.counts.values())


def partition_summaries(
    manifest: Manifest, project: Project, options: RunOptions, *, now: datetime | None = None
) -> list[PartitionSummary]:
    """One summary per selected partitioned asset, in dependency order.

    A partition is ``failed`` when its last attempt failed, ``missing`` when it never
    succeeded, ``stale`` when built with other code or before an upstream partition it reads,
    else ``ok``. Costs two indexed state queries per asset, whatever the row counts.
    """
    selected = select_nodes(manifest, options.select, options.exclude)
    names = [
        n
        for n in manifest.topological_names()
        if n in selected
        and manifest.nodes[n].config.partitioned_by is not None
        and buildable(manifest.nodes[n])
    ]
    out: list[PartitionSummary] = []
    if not names:
        return out
    target = project.target_name
    expander = PartitionExpander(manifest, target, PartitionRequest(now=now))
    with open_state_store(project.root, project.target, readonly=True) as state:
        for name in names:
            node = manifest.nodes[name]
            definition = expander.definition(node)
            assert definition is not None
            keys = expander.candidates(node, definition)
            latest = expander.latest(name, state)
            attempts = {k: r for (_, k), r in state.latest_attempts([name], target=target).items()}
            parents = expander._partitioned_parents(node)
            labels: list[tuple[str, str]] = []
            counts = {"ok": 0, "missing": 0, "stale": 0, "failed": 0}
            for key in keys:
                attempt = attempts.get(key)
                rec = latest.get(key)
                if attempt is not None and attempt.status == "failed":
                    label = "failed"
                elif rec is None:
                    label = "missing"
                elif expander.staleness(node, definition, key, rec, parents, state):
                    label = "stale"
                else:
                    label = "ok"
                counts[label] += 1
                labels.append((key, label))
            newest = max(attempts.values(), key=lambda r: r.finished_at, default=None)
            out.append(
                PartitionSummary(
                    asset=name,
                    definition=definition.describe(),
                    counts=counts,
                    ranges=compress(labels, definition),
                    last_run=newest.run_id[:8] if newest else "-",
                    last_finished_at=newest.finished_at.strftime("%Y-%m-%d %H:%M:%S")
                    if newest
                    else "-",
                )
            )
    return out


def with_partition_status(
    rows: list[StatusRow], summaries: list[PartitionSummary]
) -> list[StatusRow]:
    """Status rows whose partitioned assets say ``N/M partitions ok`` instead of never built."""
    by_asset = {s.asset: s for s in summaries}
    out = []
    for row in rows:
        s = by_asset.get(row.asset)
        if s is None:
            out.append(row)
            continue
        ok = s.counts.get("ok", 0)
        status = "up to date" if ok == s.total and s.total else f"{ok}/{s.total} partitions ok"
        out.append(
            replace(
                row, status=status, last_run=s.last_run, finished_at=s.last_finished_at, rows="-"
            )
        )
    return out


def render_partition_summaries(summaries: list[PartitionSummary], *, max_ranges: int = 12) -> str:
    """``fct_orders (daily from 2024-01-01): 366 partitions: 360 ok, 4 missing ...`` + ranges."""
    lines: list[str] = []
    for s in summaries:
        counts = ", ".join(f"{v} {k}" for k, v in s.counts.items() if v)
        lines.append(f"{s.asset} ({s.definition}): {s.total} partitions: {counts or 'none yet'}")
        shown = s.ranges[:max_ranges]
        more = len(s.ranges) - len(shown)
        if shown:
            lines.append(
                "  " + ", ".join(shown) + (f", ... and {more} more ranges" if more else "")
            )
        lines.append(f"  last run: {s.last_run} at {s.last_finished_at} UTC")
    return "\n".join(lines)


# --------------------------------------------------------------------------- output metadata


@dataclass(frozen=True)
class MetadataRow:
    """The user metadata of an asset's newest successful materialization."""

    asset: str
    partition: str | None
    run_id: str
    metadata: dict[str, Any]


def metadata_rows(manifest: Manifest, project: Project, options: RunOptions) -> list[MetadataRow]:
    """Selected assets whose newest materialization carries ``add_output_metadata`` values."""
    selected = select_nodes(manifest, options.select, options.exclude)
    names = [n for n in manifest.topological_names() if n in selected]
    with open_state_store(project.root, project.target, readonly=True) as state:
        latest = state.latest_materializations(names, target=project.target_name)
    newest: dict[str, Any] = {}
    for (asset, _), rec in latest.items():
        cur = newest.get(asset)
        if cur is None or (rec.finished_at, rec.id) > (cur.finished_at, cur.id):
            newest[asset] = rec
    out = []
    for name in names:
        rec = newest.get(name)
        mine = user_metadata(rec.metadata) if rec is not None else {}
        if mine:
            out.append(MetadataRow(name, rec.partition_key, rec.run_id, mine))
    return out


def _short(value: Any, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_metadata(rows: list[MetadataRow], *, value_width: int = 60) -> str:
    """``segments: vips=1, top="acme"`` per asset (values as JSON, long ones cut)."""
    lines = []
    for r in rows:
        where = f" [{r.partition}]" if r.partition else ""
        pairs = ", ".join(f"{k}={_short(v, value_width)}" for k, v in r.metadata.items())
        lines.append(f"{r.asset}{where}: {pairs}")
    return "\n".join(lines)
