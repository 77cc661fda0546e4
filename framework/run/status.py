"""``orch status``: each asset's freshness (:mod:`orch.run.freshness`) and last materialization.

Partitioned assets get a row summarizing their partitions and a section of their own
(rendered by :mod:`orch.cli.status_view`): counts of ok / missing / stale / failed partitions up to
the last complete one, the partitions as compressed ranges, and the asset's last run.
``--output json`` gives the same as one object per asset (:func:`status_json`). The state is read
in bulk, once (:class:`~orch.state.snapshot.StateSnapshot`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orch.assets import user_metadata
from orch.config import RunOptions
from orch.events import utcnow
from orch.load.project import Project
from orch.manifest import Manifest
from orch.partitions import compress
from orch.run.foreign_state import owner_versions
from orch.run.freshness import (
    FRESH,
    UP_TO_DATE,
    Freshness,
    FreshnessMap,
    buildable,
    deleted_file,
)
from orch.run.plan import plan_freshness
from orch.selection import select_nodes
from orch.state.kind import open_state_store
from orch.state.records import MaterializationRecord


@dataclass(frozen=True)
class StatusRow:
    """One line of ``orch status``."""

    asset: str
    materialized: str
    status: str  # the freshness reason (for partitioned assets: N/M partitions ok)
    last_run: str
    finished_at: str
    rows: str
    duration: str
    freshness: Freshness = field(default_factory=lambda: FRESH)
    data_version: str = "-"  # orch.run.version: what its last success wrote
    read: tuple[tuple[str, str], ...] = ()  # (upstream, the data version it read of it)


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


@dataclass
class StatusReport:
    """What ``orch status`` shows for a selection: rows, partition summaries, the freshness."""

    rows: list[StatusRow]
    summaries: list[PartitionSummary]
    freshness: FreshnessMap


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def status_report(
    manifest: Manifest, project: Project, options: RunOptions, *, now: datetime | None = None
) -> StatusReport:
    """The freshness of the selected buildable assets, in dependency order, from one state read."""
    selected = select_nodes(manifest, options.select, options.exclude)
    order = manifest.topological_names()
    names = [n for n in order if n in selected and buildable(manifest.nodes[n])]
    with open_state_store(project.root, project.target, readonly=True) as state:
        sources = [n for n, node in manifest.nodes.items() if node.resource_type == "source"]
        fmap = plan_freshness(
            manifest, names, state, target=project.target_name, now=now or utcnow(), order=order,
            observed=owner_versions(project, manifest, sources),
        )  # fmt: skip
    snap = fmap.snapshot
    newest_partition: dict[str, MaterializationRecord] = {}
    for records in (snap.latest, snap.failures):  # the newest attempt is one of these
        for (asset, key), rec in records.items():
            cur = newest_partition.get(asset)
            if key is not None and (
                cur is None or (rec.finished_at, rec.id) > (cur.finished_at, cur.id)
            ):
                newest_partition[asset] = rec
    rows: list[StatusRow] = []
    summaries: list[PartitionSummary] = []
    for name in names:
        node = manifest.nodes[name]
        found = fmap.asset(name)
        mine = snap.latest.get((name, None))
        definition = fmap.definition(name)
        if definition is None or found.partitions is None:
            rows.append(
                StatusRow(
                    asset=name,
                    materialized=node.materialized,
                    status=found.freshness.reason,
                    last_run=mine.run_id[:8] if mine else "-",
                    finished_at=_time(mine.finished_at if mine else None),
                    rows="-" if not mine or mine.rows is None else f"{mine.rows:,}",
                    duration="-"
                    if not mine or mine.duration_s is None
                    else f"{mine.duration_s:.2f}s",
                    freshness=found.freshness,
                    data_version=(mine.data_version or "-") if mine else "-",
                    read=tuple(
                        (u.asset, u.data_version)
                        for u in (mine.upstream if mine else ())
                        if u.data_version is not None
                    ),
                )
            )
            continue
        labels = [(k, f.label) for k, f in found.partitions.items()]
        counts = {"ok": 0, "missing": 0, "stale": 0, "failed": 0}
        for _, label in labels:
            counts[label] += 1
        newest = newest_partition.get(name)
        summary = PartitionSummary(
            asset=name,
            definition=definition.describe(),
            counts=counts,
            ranges=compress(labels, definition),
            last_run=newest.run_id[:8] if newest else "-",
            last_finished_at=_time(newest.finished_at if newest else None),
        )
        summaries.append(summary)
        ok, total = counts["ok"], summary.total
        rows.append(
            StatusRow(
                asset=name,
                materialized=node.materialized,
                status=UP_TO_DATE if ok == total and total else f"{ok}/{total} partitions ok",
                last_run=summary.last_run,
                finished_at=summary.last_finished_at,
                rows="-",
                duration="-",
                freshness=found.freshness,
            )
        )
    return StatusReport(rows, summaries, fmap)


def status_json(report: StatusReport) -> list[dict[str, Any]]:
    """One object per asset: status, reason, causes, and per-partition statuses when partitioned."""
    out = []
    for row in report.rows:
        found = report.freshness.asset(row.asset)
        item: dict[str, Any] = {
            "asset": row.asset,
            "materialized": row.materialized,
            **found.freshness.to_json(),
            "last_run": None if row.last_run == "-" else row.last_run,
            "finished_at": None if row.finished_at == "-" else row.finished_at,
            "data_version": None if row.data_version == "-" else row.data_version,
            "read": {asset: version for asset, version in row.read},
            "partitions": None,
        }
        if found.partitions is not None:
            item["partitions"] = [
                {"key": key, **f.to_json()} for key, f in found.partitions.items()
            ]
        out.append(item)
    return out


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
    newest: dict[str, MaterializationRecord] = {}
    for (asset, _), rec in latest.items():
        cur = newest.get(asset)
        if cur is None or (rec.finished_at, rec.id) > (cur.finished_at, cur.id):
            newest[asset] = rec
    out = []
    for name in names:
        last = newest.get(name)
        mine = user_metadata(last.metadata) if last is not None else {}
        if last is not None and "uri" in last.metadata:  # shown under "Stored"
            mine = {k: v for k, v in mine.items() if k not in STORAGE_KEYS}
        if last is not None and mine:
            out.append(MetadataRow(name, last.partition_key, last.run_id, mine))
    return out


# --------------------------------------------------------------------------- where outputs are


STORAGE_KEYS = ("uri", "format", "rows", "bytes", "type")


@dataclass(frozen=True)
class StorageRow:
    """Where an asset's newest successful materialization was stored (an IO manager's record)."""

    asset: str
    partition: str | None
    io_manager: str
    uri: str
    details: dict[str, Any]
    deleted: bool = False


def storage_rows(manifest: Manifest, project: Project, options: RunOptions) -> list[StorageRow]:
    """Selected assets stored outside the warehouse: URI, format, rows, bytes (or type) of
    their newest materialization, and whether its local file is gone."""
    selected = select_nodes(manifest, options.select, options.exclude)
    names = [n for n in manifest.topological_names() if n in selected]
    with open_state_store(project.root, project.target, readonly=True) as state:
        latest = state.latest_materializations(names, target=project.target_name)
    newest: dict[str, MaterializationRecord] = {}
    for (asset, _), rec in latest.items():
        cur = newest.get(asset)
        if cur is None or (rec.finished_at, rec.id) > (cur.finished_at, cur.id):
            newest[asset] = rec
    out = []
    for name in names:
        last = newest.get(name)
        meta = last.metadata if last is not None else {}
        uri = meta.get("uri")
        if last is None or not isinstance(uri, str):
            continue
        details = {k: meta[k] for k in STORAGE_KEYS[1:] if k in meta}
        io = str(meta.get("io_manager") or meta.get("materialized") or "")
        gone = deleted_file(meta) is not None
        out.append(StorageRow(name, last.partition_key, io, uri, details, gone))
    return out
