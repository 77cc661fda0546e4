"""The asset page's data versions: what an asset holds now, what it read, what its readers read.

Data versions are recorded by :mod:`orch.run.version`; this module only lays them out for the
site (the same values ``orch status`` prints). "Same" is :func:`orch.run.version.same_as_read`,
the test freshness uses: a reader that read another version of the data is stale, one that
read this version (or the same versions of the columns it uses) is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orch.manifest import Manifest
from orch.run.version import same_as_read
from orch.state.records import MaterializationRecord, UpstreamRef
from orch.state.snapshot import StateSnapshot

MAX_ROWS = 50  # per list: a partitioned reader of a partitioned asset reads one ref per key


class DataVersions:
    """Each asset's latest materializations by partition, indexed once for every page."""

    def __init__(self, manifest: Manifest, snap: StateSnapshot) -> None:
        self.m = manifest
        self.snap = snap
        self.by_asset: dict[str, dict[str | None, MaterializationRecord]] = {}
        for (asset, key), rec in snap.latest.items():
            self.by_asset.setdefault(asset, {})[key] = rec

    def current(self, name: str, key: str | None = None) -> str | None:
        """The data version an asset (or partition, or observed source) holds now."""
        seen = self.snap.observations.get(name)
        if seen is not None:
            return seen.fingerprint
        rec = self.by_asset.get(name, {}).get(key)
        return rec.data_version if rec is not None else None

    def _row(self, reader: MaterializationRecord, ref: UpstreamRef) -> dict[str, Any]:
        now = self.current(ref.asset, ref.partition)
        theirs = self.by_asset.get(ref.asset, {}).get(ref.partition)
        node = self.m.nodes.get(reader.asset)
        if theirs is not None and node is not None:
            same = same_as_read(node, ref.asset, ref, theirs)
        else:  # a source: its observation is its version
            same = ref.data_version is not None and ref.data_version == now
        return {
            "reader": reader.asset,
            "reader_partition": reader.partition_key,
            "asset": ref.asset,
            "partition": ref.partition,
            "read": ref.data_version,
            "now": now,
            "same": same,
            "at": reader.finished_at.isoformat(),
        }

    def _capped(self, rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        out = list(rows)
        return out[:MAX_ROWS], max(0, len(out) - MAX_ROWS)

    def of(self, name: str) -> dict[str, Any] | None:
        """The asset page's section (None when nothing about it was recorded)."""
        mine = self.by_asset.get(name, {})
        keyed = sorted((k for k in mine if k is not None), reverse=True)
        read, read_more = self._capped(
            self._row(rec, ref)
            for key in ([None] if None in mine else []) + keyed
            for rec in [mine[key]]
            for ref in rec.upstream
            if ref.data_version is not None
        )
        readers, readers_more = self._capped(
            self._row(rec, ref)
            for child in self.m.children.get(name, [])
            for key, rec in sorted(
                self.by_asset.get(child, {}).items(), key=lambda kv: str(kv[0]), reverse=True
            )
            for ref in rec.upstream
            if ref.asset == name
        )
        current = self.current(name)
        partitions = [[k, mine[k].data_version] for k in keyed if mine[k].data_version]
        if current is None and not partitions and not read and not readers:
            return None
        return {
            "current": current,
            "partitions": partitions[:MAX_ROWS],
            "partitions_more": max(0, len(partitions) - MAX_ROWS),
            "read": read,
            "read_more": read_more,
            "readers": readers,
            "readers_more": readers_more,
        }


__all__ = ["DataVersions"]
