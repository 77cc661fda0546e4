"""Data versions: a fingerprint of what each materialization wrote, and of what it read.

After a step writes, :func:`measure` fingerprints the result, cheaply and where the data lives:

- a table (SQL table, incremental, seed, a Python output stored in the warehouse): one
  aggregate query through the adapter (:meth:`~orch.adapters.base.Adapter.content_fingerprint`:
  row count plus an order-independent hash per column and of whole rows);
- a file (``materialized='external'``, a Parquet or object IO manager): the hash of its bytes;
- a view stores no data: its version is *derived* from its column versions and the data
  versions it read, per column (a view over unchanged data with unchanged code has the same
  version however often it is recreated);
- a partition of a partitioned SQL model: the fingerprint of that partition's rows;
- a Python asset kept in memory or writing nothing: no data version (freshness falls back to
  "materialized after"). Freshness compares versions for every reader: of an unpartitioned
  asset, of a partition (what each partition read of each upstream partition is recorded).

:func:`orch.run.freshness.FreshnessMap` asks :func:`same_as_read` whether an upstream rebuilt
after an asset still holds what the asset read: then the asset is not stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from orch.manifest import Manifest, Node
from orch.run.materialize import partition_condition
from orch.state.records import MaterializationRecord, ObservationRecord, UpstreamRef

if TYPE_CHECKING:
    from orch.adapters.base import Adapter


@dataclass(frozen=True)
class DataVersion:
    """What a materialization wrote: one version for all of it, and one per column (if known)."""

    version: str
    columns: Mapping[str, str] = field(default_factory=dict)


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:16]


def of_table(adapter: Adapter, node: Node, where_sql: str | None = None) -> DataVersion | None:
    """The content fingerprint of an asset's table, computed in the warehouse."""
    if node.relation is None:
        return None
    rows, columns, whole = adapter.content_fingerprint(node.relation.to_relation(), where_sql)
    return DataVersion(
        _digest(rows, whole), {c.lower(): _digest(rows, h) for c, h in columns.items()}
    )


def of_file(path: Path) -> DataVersion | None:
    """The hash of a written file (or of every file in a folder, by relative path)."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else "").encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return DataVersion(digest.hexdigest()[:16])


def of_view(node: Node, upstream: Sequence[Mapping[str, Any]]) -> DataVersion | None:
    """A view's derived version: per column, its column version and the versions of what it
    reads; None when a read upstream has no data version."""
    read: dict[str, Mapping[str, Any]] = {}
    for ref in upstream:
        if ref.get("data_version") is None:
            return None
        read[str(ref["asset"])] = ref
    if not node.column_versions or node.reads is None:
        reads = (f"{a}={r['data_version']}" for a, r in sorted(read.items()))
        return DataVersion(_digest(node.fingerprint, *reads))
    inputs: list[str] = []  # what every column depends on: the rows' inputs, conservatively
    for asset, cols in sorted(node.reads.items()):
        found = read.get(asset)
        if found is None:
            continue
        known = found.get("columns") or {}
        inputs.extend(f"{asset}.{c}={known.get(c.lower(), found['data_version'])}" for c in cols)
    columns = {c: _digest(v, *inputs) for c, v in node.column_versions.items()}
    return DataVersion(_digest(*sorted(columns.items())), columns)


def measure(
    adapter: Adapter,
    node: Node,
    metadata: Mapping[str, Any],
    upstream: Sequence[Mapping[str, Any]],
    *,
    partition: str | None,
) -> DataVersion | None:
    """The data version of what one step wrote (see the module docstring), or None."""
    uri = metadata.get("uri")
    if isinstance(uri, str) and uri.startswith("file://"):
        return of_file(Path(unquote(urlparse(uri).path)))
    spec = node.config.partitioned_by
    if partition is not None or spec is not None:  # one partition's rows of the table
        if partition is None or spec is None or not spec.column or node.language == "python":
            return None
        if metadata.get("materialized") != "partition":
            return None
        return of_table(adapter, node, partition_condition(node, partition, adapter.dialect))
    if isinstance(uri, str) and uri.startswith("memory://"):
        return None
    if node.language == "python" and node.python is not None and node.python.output_kind == "none":
        return None
    if metadata.get("materialized") == "view" or node.materialized == "view":
        return of_view(node, upstream)
    if node.materialized in ("table", "incremental") or node.resource_type == "seed":
        return of_table(adapter, node)
    return None


def read_refs(
    manifest: Manifest,
    node: Node,
    parent: str,
    partition: str | None,
    run_id: str | None,
    version: DataVersion | None,
) -> dict[str, Any]:
    """The upstream reference a materialization records: run, data version and the versions
    of the columns it reads (all of them when what it reads is unknown)."""
    ref: dict[str, Any] = {"asset": parent, "partition": partition, "run_id": run_id}
    if version is None:
        return ref
    ref["data_version"] = version.version
    wanted = None if node.reads is None else node.reads.get(parent)
    if version.columns:
        if wanted is None:
            ref["columns"] = dict(version.columns)
        else:
            ref["columns"] = {
                c.lower(): version.columns[c.lower()]
                for c in wanted
                if c.lower() in version.columns
            }
    return ref


def same_as_read(
    node: Node, parent: str, ref: UpstreamRef | None, current: MaterializationRecord
) -> bool:
    """Whether ``parent``'s latest materialization still holds what ``node`` read of it.

    The same data version, or (when both sides know them) the same data version of every
    column ``node`` reads: a column added or changed upstream that ``node`` never reads leaves
    it up to date.
    """
    if ref is None or ref.data_version is None or current.data_version is None:
        return False
    if ref.data_version == current.data_version:
        return True
    now = current.column_data
    if not ref.columns or not now:
        return False
    wanted = node.reads.get(parent) if node.reads is not None else None
    if wanted is None:  # reads all of it: every column it saw must be unchanged, none removed
        return all(now.get(c) == v for c, v in ref.columns.items())
    # a column it reads now that it did not see then was added upstream (a non-breaking change,
    # orch.run.change): it holds no data the asset read
    return all(
        now.get(c.lower()) == ref.columns[c.lower()] for c in wanted if c.lower() in ref.columns
    )


def known_versions(
    latest: Mapping[tuple[str, str | None], MaterializationRecord],
    observations: Mapping[str, ObservationRecord],
) -> dict[tuple[str, str | None], DataVersion | None]:
    """The data versions a run starts from: each upstream's latest materialization, and each
    source's latest observation (its fingerprint is the source's data version)."""
    out: dict[tuple[str, str | None], DataVersion | None] = {
        key: DataVersion(rec.data_version, rec.column_data) if rec.data_version else None
        for key, rec in latest.items()
    }
    for source, seen in observations.items():
        out[(source, None)] = DataVersion(seen.fingerprint)
    return out


def versions_of(node: Node, version: DataVersion | None) -> dict[str, dict[str, str]]:
    """What a materialization stores besides its data version: its column data versions and the
    column versions of the code it was built with (for change classification)."""
    out: dict[str, dict[str, str]] = {}
    if version is not None and version.columns:
        out["columns"] = dict(version.columns)
    if node.column_versions:
        out["code"] = dict(node.column_versions)
    return out


__all__ = [
    "DataVersion",
    "known_versions",
    "measure",
    "of_file",
    "of_table",
    "of_view",
    "read_refs",
    "same_as_read",
    "versions_of",
]
