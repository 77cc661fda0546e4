"""What ``orch status`` prints: the status table, partition summaries and output metadata.

The rows come from :mod:`orch.run.status` (which asks :mod:`orch.run.freshness`); this module
only lays them out as text.
"""

from __future__ import annotations

import json
from typing import Any

from orch.run.status import MetadataRow, PartitionSummary, StatusRow, StorageRow


def render_status(rows: list[StatusRow]) -> str:
    """A plain-text table."""
    headers = (
        "asset", "materialized", "status", "last run", "finished (UTC)", "rows", "duration",
        "data version", "read",
    )  # fmt: skip
    table = [headers] + [
        (r.asset, r.materialized, r.status, r.last_run, r.finished_at, r.rows, r.duration,
         r.data_version[:8], ", ".join(f"{a}@{v[:8]}" for a, v in r.read))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.freshness.status] = counts.get(r.freshness.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no assets selected")
    return "\n".join(lines)


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


def render_storage(rows: list[StorageRow]) -> str:
    """``lake [2024-01-02]: file:///.../data.parquet (parquet, 120 rows, 3,456 bytes)``."""
    lines = []
    for r in rows:
        where = f" [{r.partition}]" if r.partition else ""
        parts = [str(r.details["format"])] if "format" in r.details else []
        if isinstance(r.details.get("rows"), int):
            parts.append(f"{r.details['rows']:,} rows")
        if isinstance(r.details.get("bytes"), int):
            parts.append(f"{r.details['bytes']:,} bytes")
        if "type" in r.details:
            parts.append(str(r.details["type"]))
        gone = " — DELETED" if r.deleted else ""
        via = f"{r.io_manager}: " if r.io_manager else ""
        lines.append(f"{r.asset}{where}: {via}{r.uri} ({', '.join(parts)}){gone}")
    return "\n".join(lines)
