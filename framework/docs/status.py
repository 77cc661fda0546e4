"""What the site shows of each asset's freshness: partition strips and one status word.

Freshness itself is :mod:`orch.run.freshness` (the same answer ``orch status`` and
``build --changed`` give); this module only turns it into the site's codes. Partition keys come
from :func:`orch.partitions.partition_keys` (the newest ``MAX_PARTITION_CELLS``).
"""

from __future__ import annotations

from typing import Any

from orch.manifest import Node
from orch.partitions import partition_keys
from orch.run.freshness import (
    LAST_RUN_FAILED,
    NEVER_BUILT,
    FreshnessMap,
)

MAX_PARTITION_CELLS = 1500
CHECK_RANK = {"pass": 1, "skipped": 0, "warn": 2, "fail": 3, "error": 3}
PARTITION_CODES = {"materialized": "m", "missing": "-", "stale": "s", "failed": "f"}
_CODE_OF_LABEL = {"ok": "m", "missing": "-", "stale": "s", "failed": "f"}  # Freshness.label


def partition_strip(node: Node, fmap: FreshnessMap) -> dict[str, Any] | None:
    """Keys and one status code per key (``m``, ``-``, ``s``, ``f``) for a partitioned asset."""
    definition = fmap.definition(node.name) if node.name in fmap else None
    if definition is None:
        return None
    keys = partition_keys(definition, fmap.now, MAX_PARTITION_CELLS)
    found = fmap.asset(node.name)
    codes = "".join(_CODE_OF_LABEL[found.of_key(k).label] for k in keys)
    counts = {name: codes.count(code) for name, code in PARTITION_CODES.items()}
    return {
        "definition": definition.describe(),
        "keys": keys,
        "codes": codes,
        "counts": counts,
        "reason": found.freshness.reason,
    }


def asset_status(node: Node, fmap: FreshnessMap, strip: dict[str, Any] | None) -> str:
    """One word for the graph: fresh, stale, failed, never, or none (not materialized)."""
    if node.resource_type == "source" or node.materialized in ("ephemeral", "none"):
        return "none"
    if node.name not in fmap:
        return "none"
    if strip is not None:
        counts = strip["counts"]
        if counts["failed"]:
            return "failed"
        if counts["stale"] or (counts["missing"] and counts["materialized"]):
            return "stale"
        if counts["missing"]:
            return "never"
        return "stale" if fmap.asset(node.name).freshness.stale else "fresh"
    f = fmap.of(node.name)
    if not f.stale:
        return "fresh"
    return {NEVER_BUILT: "never", LAST_RUN_FAILED: "failed"}.get(f.status, "stale")


def worst_check(statuses: list[str]) -> str | None:
    """The most severe of some check statuses (fail > warn > pass), None when there are none."""
    if not statuses:
        return None
    return max(statuses, key=lambda s: CHECK_RANK.get(s, 0))
