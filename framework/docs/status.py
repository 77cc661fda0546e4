"""What the state store says about each asset: freshness, partitions, checks, runs.

Everything here reads the state in a handful of bulk queries (latest materializations, latest
attempts, latest check results, recent runs) plus one history query per asset that has ever been
attempted, so a 10,000-asset project with state costs a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from orch.config import PartitionConfig
from orch.manifest import Manifest, Node
from orch.state import CheckResultRecord, MaterializationRecord, RunRecord, StateReader

MAX_PARTITION_CELLS = 1500
RUNS_PER_ASSET = 10
CHECK_RANK = {"pass": 1, "skipped": 0, "warn": 2, "fail": 3, "error": 3}


@dataclass
class StateSnapshot:
    """The state the site shows, read once."""

    latest: dict[tuple[str, str | None], MaterializationRecord] = field(default_factory=dict)
    attempts: dict[tuple[str, str | None], MaterializationRecord] = field(default_factory=dict)
    checks: dict[tuple[str, str | None], CheckResultRecord] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    history: dict[str, list[MaterializationRecord]] = field(default_factory=dict)
    check_history: dict[str, list[CheckResultRecord]] = field(default_factory=dict)
    last_finished: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def read(cls, manifest: Manifest, reader: StateReader | None) -> StateSnapshot:
        """Read what the site needs (empty without a reader)."""
        snap = cls()
        if reader is None:
            return snap
        target = manifest.project.target_name
        snap.latest = reader.latest_materializations(target=target)
        snap.attempts = reader.latest_attempts(target=target)
        snap.checks = reader.latest_check_results(target=target)
        snap.runs = reader.recent_runs(20, target=target)
        for asset in sorted({a for a, _ in snap.attempts} & set(manifest.nodes)):
            snap.history[asset] = reader.materialization_history(
                asset, RUNS_PER_ASSET, target=target
            )
        for (check, _), rec in snap.checks.items():
            if rec.status in ("fail", "error", "warn") and check not in snap.check_history:
                snap.check_history[check] = reader.check_history(check, 10, target=target)
        for (asset, _), rec in snap.latest.items():
            prev = snap.last_finished.get(asset)
            if prev is None or rec.finished_at > prev:
                snap.last_finished[asset] = rec.finished_at
        return snap


# --------------------------------------------------------------------------- partitions


def _month_add(d: date, months: int) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def _parse_day(text: str) -> date:
    return datetime.fromisoformat(text[:10]).date()


def expected_keys(cfg: PartitionConfig, now: datetime | None = None) -> list[str]:
    """The partition keys a definition has up to the last complete window (the newest last).

    Key formats follow the partitions design: ``2024-01-31`` (daily, weekly: the first day),
    ``2024-01-31T05`` (hourly), ``2024-01`` (monthly), or the static key itself.
    """
    if cfg.keys is not None:
        return list(cfg.keys)
    if cfg.start is None or cfg.grain is None:
        return []
    now = now or datetime.now(timezone.utc)
    try:
        start = datetime.fromisoformat(cfg.start)
        end = datetime.fromisoformat(cfg.end) if cfg.end else None
    except ValueError:
        return []
    start = start.replace(tzinfo=None)
    limit = now.replace(tzinfo=None)
    if end is not None:
        limit = min(limit, end.replace(tzinfo=None))
    keys: list[str] = []
    if cfg.grain == "hourly":
        cur = start.replace(minute=0, second=0, microsecond=0)
        first = max(cur, limit - timedelta(hours=MAX_PARTITION_CELLS))
        cur = cur + timedelta(hours=int((first - cur).total_seconds() // 3600))
        while cur + timedelta(hours=1) <= limit:
            keys.append(cur.strftime("%Y-%m-%dT%H"))
            cur += timedelta(hours=1)
    elif cfg.grain in ("daily", "weekly"):
        step = 1 if cfg.grain == "daily" else 7
        cur_d = start.date()
        first = max(cur_d, limit.date() - timedelta(days=step * MAX_PARTITION_CELLS))
        cur_d += timedelta(days=((first - cur_d).days // step) * step)
        while datetime.combine(cur_d + timedelta(days=step), datetime.min.time()) <= limit:
            keys.append(cur_d.isoformat())
            cur_d += timedelta(days=step)
    elif cfg.grain == "monthly":
        cur_d = start.date().replace(day=1)
        while datetime.combine(_month_add(cur_d, 1), datetime.min.time()) <= limit:
            keys.append(cur_d.strftime("%Y-%m"))
            cur_d = _month_add(cur_d, 1)
    return keys[-MAX_PARTITION_CELLS:]


def describe_partitions(cfg: PartitionConfig) -> str:
    """A one-line summary of a partition definition."""
    if cfg.keys is not None:
        return f"static keys ({len(cfg.keys)})"
    span = f"from {cfg.start}" + (f" to {cfg.end}" if cfg.end else "")
    column = f" on {cfg.column}" if cfg.column else ""
    return f"{cfg.grain} {span}{column}"


# --------------------------------------------------------------------------- per-asset status


def _upstream_newer(
    node: Node, rec: MaterializationRecord, snap: StateSnapshot, key: str | None
) -> bool:
    for parent in node.depends_on:
        same = snap.latest.get((parent, key)) if key is not None else None
        if same is not None:
            if same.finished_at > rec.finished_at:
                return True
            continue
        finished = snap.last_finished.get(parent)
        if finished is not None and finished > rec.finished_at:
            return True
    return False


def key_status(node: Node, key: str | None, snap: StateSnapshot) -> str:
    """``materialized``, ``stale``, ``failed`` or ``missing`` for one (asset, partition)."""
    ok = snap.latest.get((node.name, key))
    attempt = snap.attempts.get((node.name, key))
    if attempt is not None and attempt.status == "failed" and (ok is None or attempt.id > ok.id):
        return "failed"
    if ok is None:
        return "missing"
    if ok.fingerprint and node.fingerprint and ok.fingerprint != node.fingerprint:
        return "stale"
    if _upstream_newer(node, ok, snap, key):
        return "stale"
    return "materialized"


PARTITION_CODES = {"materialized": "m", "missing": "-", "stale": "s", "failed": "f"}


def partition_strip(node: Node, snap: StateSnapshot) -> dict[str, Any] | None:
    """Keys and one status code per key (``m``, ``-``, ``s``, ``f``) for a partitioned asset."""
    cfg = node.config.partitioned_by
    recorded = sorted(pk for (a, pk) in snap.attempts if a == node.name and pk is not None)
    if cfg is None and not recorded:
        return None
    keys = expected_keys(cfg) if cfg is not None else []
    seen = set(keys)
    extra = [k for k in recorded if k not in seen]
    if extra:
        keys = sorted(seen | set(extra)) if cfg is None or cfg.keys is None else keys + extra
    keys = keys[-MAX_PARTITION_CELLS:]
    codes = "".join(PARTITION_CODES[key_status(node, k, snap)] for k in keys)
    counts = {name: codes.count(code) for name, code in PARTITION_CODES.items()}
    return {
        "definition": describe_partitions(cfg) if cfg is not None else "partitions in state",
        "keys": keys,
        "codes": codes,
        "counts": counts,
    }


def asset_status(node: Node, snap: StateSnapshot, strip: Mapping[str, Any] | None) -> str:
    """One word for the graph: fresh, stale, failed, never, or none (not materialized)."""
    if node.resource_type == "source" or node.materialized in ("ephemeral", "none", "external"):
        return "none"
    if strip is not None:
        counts = strip["counts"]
        if counts["failed"]:
            return "failed"
        if counts["stale"] or (counts["missing"] and counts["materialized"]):
            return "stale"
        return "fresh" if counts["materialized"] else "never"
    status = key_status(node, None, snap)
    return {"materialized": "fresh", "missing": "never"}.get(status, status)


def worst_check(statuses: list[str]) -> str | None:
    """The most severe of some check statuses (fail > warn > pass), None when there are none."""
    if not statuses:
        return None
    return max(statuses, key=lambda s: CHECK_RANK.get(s, 0))
