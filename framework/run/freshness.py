"""The one definition of "never built / missing / stale (and why) / up to date".

``orch status``, ``build --changed`` (:func:`orch.run.plan.build_plan`), the partition expander
and the docs site all ask :class:`FreshnessMap`; nothing else decides freshness. It reads a
:class:`~orch.state.snapshot.StateSnapshot` and the manifest, never the warehouse.

For one asset (or one partition of a partitioned asset), the first that applies:

1. **last run failed**: its last attempt failed after its last success (**check failed** when
   the attempt was blocked by one of its checks, see 4).
2. **never built** (an unpartitioned asset) / **missing** (a partition): no success recorded;
   or **missing**: the local file its last success was stored in (its ``uri``: a Parquet
   partition, an object, an external model's file) has been deleted since.
3. **code changed**: built with another fingerprint (reformatting never changes a fingerprint).
4. **check failed**: the latest result of one of its error-severity or blocking checks (for a
   partition: on that partition) is ``fail`` or ``error``.
5. **upstream changed**: an upstream asset is stale for one of the reasons above, or is itself
   "upstream changed": a *pending change* propagates through every downstream asset, with the
   cause chain down to the root (``upstream stg_orders code changed``).
6. **upstream newer**: an upstream was materialized after it (``upstream a newer``), or an
   upstream is stale only because of that (a refresh propagates to what will be rebuilt after it).
7. **up to date**.

How an upstream counts depends on partitions:

- unpartitioned reading unpartitioned, or reading a partitioned asset (all of it): every stale
  upstream (any partition) propagates; data newer than its own build is "upstream newer".
- a partition reading a partitioned upstream: only the upstream partitions it maps to
  (:func:`orch.partitions.upstream_keys`) count, each as above.
- "newer" always means newer *data*: an upstream (or upstream partition) rebuilt after the
  reader that still holds what the reader read of it (its data version, or the versions of the
  columns the reader uses: :func:`orch.run.version.same_as_read`) leaves the reader up to date.
- a partition reading an **unpartitioned** upstream: only a *pending change* upstream (1-5:
  failed, never built, code changed, check failed, upstream changed) makes every partition
  stale. An unpartitioned upstream merely *refreshed* (rebuilt with unchanged code, no pending
  change) leaves the partitions' history up to date, or every ``orch build`` would rebuild every
  partition; rebuild them with ``orch backfill`` when the upstream's data changed.

A partitioned asset is up to date when every partition up to the last complete one is; else it
takes the status of its most significant stale partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlparse

from orch.manifest import CheckNode, Manifest, Node
from orch.partitions import PartitionDefinition, definition_of, partition_keys, upstream_keys
from orch.run.change import Affected, Change, classify, hits
from orch.run.version import same_as_read
from orch.state.records import MaterializationRecord, UpstreamRef
from orch.state.snapshot import StateSnapshot

Status = Literal[
    "never built",
    "missing",
    "code changed",
    "upstream changed",
    "upstream newer",
    "last run failed",
    "check failed",
    "up to date",
]
NEVER_BUILT: Final = "never built"
MISSING: Final = "missing"
CODE_CHANGED: Final = "code changed"
UPSTREAM_CHANGED: Final = "upstream changed"
UPSTREAM_NEWER: Final = "upstream newer"
LAST_RUN_FAILED: Final = "last run failed"
CHECK_FAILED: Final = "check failed"
UP_TO_DATE: Final = "up to date"
STATUSES: tuple[Status, ...] = (
    LAST_RUN_FAILED,
    NEVER_BUILT,
    MISSING,
    CODE_CHANGED,
    CHECK_FAILED,
    UPSTREAM_CHANGED,
    UPSTREAM_NEWER,
    UP_TO_DATE,
)  # most significant first
PENDING: frozenset[str] = frozenset(
    {LAST_RUN_FAILED, NEVER_BUILT, MISSING, CODE_CHANGED, CHECK_FAILED, UPSTREAM_CHANGED}
)
_RANK = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class Freshness:
    """Whether one asset (or partition) is up to date, and why not.

    ``causes`` lists step ids (``asset`` or ``asset[key]``) from the nearest upstream to the root
    cause; empty when the cause is the asset's own. ``root`` is the root cause's own phrase
    (``code changed``, ``check x failed``, ``newer``...).
    """

    status: Status
    reason: str
    causes: tuple[str, ...] = ()
    root: str = ""

    @property
    def stale(self) -> bool:
        """Anything but up to date: ``--changed`` rebuilds it."""
        return self.status != UP_TO_DATE

    @property
    def pending(self) -> bool:
        """A change not yet built (1-5 of the rule), as opposed to a mere refresh upstream."""
        return self.status in PENDING

    @property
    def label(self) -> str:
        """The partition-cell word: ``ok``, ``missing``, ``failed`` or ``stale``."""
        if not self.stale:
            return "ok"
        if self.status == LAST_RUN_FAILED:
            return "failed"
        if self.status in (MISSING, NEVER_BUILT):
            return "missing"
        return "stale"

    def to_json(self) -> dict[str, Any]:
        """``{"status", "reason", "causes"}``."""
        return {"status": self.status, "reason": self.reason, "causes": list(self.causes)}


FRESH = Freshness(UP_TO_DATE, UP_TO_DATE)
NO_PARTITION_YET = Freshness(UP_TO_DATE, "no complete partition yet")


def own(status: Status, reason: str | None = None) -> Freshness:
    """A freshness whose cause is the asset itself."""
    text = reason or status
    return Freshness(status, text, (), text)


def propagated(upstream_id: str, upstream: Freshness) -> Freshness:
    """What a stale upstream (step id ``upstream_id``) makes of what reads it."""
    causes = (upstream_id, *upstream.causes)
    root = upstream.root or upstream.reason
    status: Status = UPSTREAM_CHANGED if upstream.pending else UPSTREAM_NEWER
    return Freshness(status, f"upstream {causes[-1]} {root}", causes, root)


def newer(upstream_id: str) -> Freshness:
    """An upstream materialized after this asset."""
    return Freshness(UPSTREAM_NEWER, f"upstream {upstream_id} newer", (upstream_id,), "newer")


def deleted_file(metadata: Mapping[str, Any] | None) -> str | None:
    """The local file a materialization was stored in (``uri``, by an IO manager or an
    external model), when it no longer exists; None otherwise (a table, a URL, still there)."""
    uri = (metadata or {}).get("uri")
    if not isinstance(uri, str) or not uri.startswith("file://"):
        return None
    path = Path(unquote(urlparse(uri).path))
    return None if path.exists() else str(path)


def step_key(asset: str, key: str | None) -> str:
    """``asset`` or ``asset[key]`` (the plan's step ids)."""
    return asset if key is None else f"{asset}[{key}]"


def _best(candidates: Iterable[Freshness]) -> Freshness | None:
    best: Freshness | None = None
    for f in candidates:
        if best is None or _RANK[f.status] < _RANK[best.status]:
            best = f
    return best


def effective_parents(manifest: Manifest, name: str) -> list[str]:
    """Upstream assets that are built, looking through ephemeral models; sources never count."""
    direct = manifest.parents.get(name, [])
    nodes = manifest.nodes
    if all(  # the common case: no source, no ephemeral model among the parents
        (n := nodes.get(p)) is not None and n.resource_type != "source" and buildable(n)
        for p in direct
    ):
        return sorted(set(direct))
    out: set[str] = set()
    stack = list(manifest.parents.get(name, []))
    seen: set[str] = set()
    while stack:
        parent = stack.pop()
        if parent in seen:
            continue
        seen.add(parent)
        node = manifest.nodes.get(parent)
        if node is None or node.resource_type == "source":
            continue
        if node.materialized == "ephemeral":
            stack.extend(manifest.parents.get(parent, []))
        else:
            out.add(parent)
    return sorted(out)


def buildable(node: Node) -> bool:
    """Whether an asset is built (and so has a freshness): never sources or ephemeral models."""
    return node.resource_type != "source" and node.materialized != "ephemeral"


def upstream_closure(
    manifest: Manifest,
    names: Iterable[str],
    parents: Callable[[str], list[str]] | None = None,
) -> set[str]:
    """``names`` and every built asset upstream of them: what their freshness depends on."""
    parents_of = parents or (lambda n: effective_parents(manifest, n))
    out: set[str] = set()
    stack = [n for n in names if n in manifest.nodes]
    while stack:
        name = stack.pop()
        if name in out:
            continue
        out.add(name)
        stack.extend(parents_of(name))
    return {n for n in out if buildable(manifest.nodes[n])}


@dataclass(frozen=True)
class AssetFreshness:
    """An asset's freshness and, when partitioned, each partition's (in key order)."""

    asset: str
    freshness: Freshness
    partitions: Mapping[str, Freshness] | None = None

    def of_key(self, key: str) -> Freshness:
        """One partition's freshness (up to date for a key it does not list)."""
        return (self.partitions or {}).get(key, FRESH)

    def stale_keys(self) -> list[str]:
        """Partition keys that are not up to date."""
        return [k for k, f in (self.partitions or {}).items() if f.stale]


class FreshnessMap:
    """Freshness of every asset in ``names`` and of everything upstream of them.

    Computed once, in DAG order, from one snapshot; partitions up to the last complete one at
    ``now``.
    """

    def __init__(
        self,
        manifest: Manifest,
        snapshot: StateSnapshot,
        *,
        now: datetime,
        names: Iterable[str] | None = None,
        order: list[str] | None = None,
        parents: dict[str, list[str]] | None = None,
        closed: bool = False,
        prune: bool = True,
    ) -> None:
        """``order`` (the manifest's topological order), ``parents`` (a cache of
        :func:`effective_parents`) and ``closed`` (``names`` is already an
        :func:`upstream_closure`) save recomputing what the caller already has. ``prune``
        False (``--rebuild-downstream``): every pending change propagates, breaking or not."""
        self.manifest = manifest
        self.prune = prune
        # orch.run.change: the classification of each code change, and which columns of each
        # pending-stale asset may change (None: all)
        self.changes: dict[str, Change] = {}
        self.affected: dict[str, Affected] = {}
        self.pruned: dict[str, str] = {}  # asset -> why an upstream change does not reach it
        self.snapshot = snapshot
        self.now = now
        self._definitions: dict[str, PartitionDefinition | None] = {}
        self._keys: dict[str, list[str]] = {}
        self._assets: dict[str, AssetFreshness] = {}
        self._parents: dict[str, list[str]] = parents if parents is not None else {}
        self._last_finished: dict[str, datetime] = {}
        for (asset, _), rec in snapshot.latest.items():
            prev = self._last_finished.get(asset)
            if prev is None or rec.finished_at > prev:
                self._last_finished[asset] = rec.finished_at
        self._checks: dict[str, list[CheckNode]] = {}
        for check in sorted(manifest.checks.values(), key=lambda c: c.name):
            if check.asset and (check.severity == "error" or check.blocking):
                self._checks.setdefault(check.asset, []).append(check)
        if closed and names is not None:
            wanted = set(names)
        else:
            wanted = self._closure(manifest.nodes if names is None else names)
        for name in order if order is not None else manifest.topological_names():
            if name in wanted:
                self._assets[name] = self._assess(manifest.nodes[name])

    # ----------------------------------------------------------------- reading

    def __contains__(self, asset: object) -> bool:
        return asset in self._assets

    def asset(self, name: str) -> AssetFreshness:
        """The freshness of one asset (and its partitions)."""
        return self._assets[name]

    def of(self, name: str, key: str | None = None) -> Freshness:
        """The freshness of an asset, or of one of its partitions (FRESH for unknown keys)."""
        found = self._assets.get(name)
        if found is None:
            return FRESH
        if key is None:
            return found.freshness
        return (found.partitions or {}).get(key, FRESH)

    def definition(self, name: str) -> PartitionDefinition | None:
        """An asset's partition definition (None when unpartitioned), cached."""
        if name not in self._definitions:
            spec = self.manifest.nodes[name].config.partitioned_by
            self._definitions[name] = None if spec is None else definition_of(spec, asset=name)
        return self._definitions[name]

    def keys(self, name: str) -> list[str]:
        """The partition keys of an asset up to the last complete one (empty: unpartitioned)."""
        if name not in self._keys:
            definition = self.definition(name)
            self._keys[name] = [] if definition is None else partition_keys(definition, self.now)
        return self._keys[name]

    def parents(self, name: str) -> list[str]:
        """Built upstream assets (through ephemeral models), cached."""
        if name not in self._parents:
            self._parents[name] = effective_parents(self.manifest, name)
        return self._parents[name]

    # ----------------------------------------------------------------- the rule

    def _closure(self, names: Iterable[str]) -> set[str]:
        return upstream_closure(self.manifest, names, self.parents)

    def _own(self, node: Node, key: str | None) -> Freshness | None:
        snap = self.snapshot
        ok = snap.latest.get((node.name, key))
        attempt = snap.failures.get((node.name, key))
        check = self._failed_check(node.name, key)
        if attempt is not None and (ok is None or attempt.id > ok.id):
            if check is not None and check[1] >= attempt.started_at:
                return own(CHECK_FAILED, f"check {check[0]} failed")  # blocked by the check
            return own(LAST_RUN_FAILED)
        if ok is None:
            return own(MISSING) if key is not None else own(NEVER_BUILT)
        gone = deleted_file(ok.metadata)
        if gone is not None:
            return own(MISSING, f"missing: its file {gone} was deleted")
        if ok.fingerprint != node.fingerprint:
            if key is None:
                change = classify(self.manifest, node, ok)
                self.changes[node.name] = change
                self.affected[node.name] = change.affected if self.prune else None
            return own(CODE_CHANGED)
        if check is not None:
            return own(CHECK_FAILED, f"check {check[0]} failed")
        return None

    def _failed_check(self, asset: str, key: str | None) -> tuple[str, datetime] | None:
        """The first error-severity or blocking check whose latest result failed, and when."""
        for check in self._checks.get(asset, []):
            result = self.snapshot.checks.get((check.name, key))
            if result is not None and result.status in ("fail", "error"):
                return check.name, result.at
        return None

    def _assess(self, node: Node) -> AssetFreshness:
        definition = self.definition(node.name)
        if definition is None:
            mine = self._own(node, None) or self._from_upstream(node, None, None)
            if mine is not None and mine.pending and node.name not in self.affected:
                self.affected[node.name] = None
            return AssetFreshness(node.name, mine or FRESH)
        parts: dict[str, Freshness] = {}
        for key in self.keys(node.name):
            found = self._own(node, key) or self._from_upstream(node, definition, key)
            parts[key] = found or FRESH
        return AssetFreshness(node.name, self._summary(node.name, parts), parts)

    def _summary(self, name: str, parts: Mapping[str, Freshness]) -> Freshness:
        if not parts:
            return NO_PARTITION_YET
        stale = [(k, f) for k, f in parts.items() if f.stale]
        if not stale:
            return FRESH
        key, first = min(stale, key=lambda kf: _RANK[kf[1].status])
        if first.status == MISSING and len(stale) == len(parts):
            if name not in self._last_finished:  # no partition ever succeeded
                return own(NEVER_BUILT)
        text = f"{len(stale)} of {len(parts)} partitions stale; {key}: {first.reason}"
        return Freshness(first.status, text, first.causes, first.root or first.reason)

    def _from_upstream(
        self, node: Node, definition: PartitionDefinition | None, key: str | None
    ) -> Freshness | None:
        rec = self.snapshot.latest.get((node.name, key))
        if rec is None:  # pragma: no cover - _own answered first
            return None
        best: Freshness | None = self._observed(node, rec) if definition is None else None
        latest = self.snapshot.latest
        for parent in self.parents(node.name):
            up = self._assets.get(parent)
            if up is None:
                continue
            found: Freshness | None
            if definition is None and up.partitions is None and not up.freshness.stale:
                theirs = latest.get((parent, None))  # the common case, inline
                if theirs is None or theirs.finished_at <= rec.finished_at:
                    continue
                if same_as_read(node, parent, rec.read_of(parent), theirs):
                    continue  # rebuilt, but holds the data it read
                found = newer(parent)
            else:
                found = self._one_upstream(parent, definition, key, rec)
            if found is not None and (best is None or _RANK[found.status] < _RANK[best.status]):
                best = found
        return best

    def _one_upstream(
        self,
        parent: str,
        definition: PartitionDefinition | None,
        key: str | None,
        rec: MaterializationRecord,
    ) -> Freshness | None:
        up = self._assets[parent]
        up_definition = self.definition(parent)
        if up_definition is None:
            if up.freshness.stale and (definition is None or up.freshness.pending):
                if not up.freshness.pending or self.reaches(rec.asset, parent):
                    return propagated(parent, up.freshness)
            elif definition is not None:
                return None  # a refreshed unpartitioned upstream: history stays up to date
            if definition is not None:
                return None
            theirs = self.snapshot.latest.get((parent, None))
            if theirs is not None and theirs.finished_at > rec.finished_at:
                node = self.manifest.nodes[rec.asset]
                if same_as_read(node, parent, rec.read_of(parent), theirs):
                    return None  # rebuilt, but holds the data it read
                return newer(parent)
            return None
        mapped = None
        if definition is not None and key is not None:
            mapped = upstream_keys(definition, key, up_definition)
        if mapped is None:  # all of it
            stale = up.stale_keys()
            if stale:
                worst = min(stale, key=lambda k: _RANK[up.of_key(k).status])
                return propagated(step_key(parent, worst), up.of_key(worst))
            finished = self._last_finished.get(parent)
            if finished is not None and finished > rec.finished_at:
                if self._rebuilt_unlike_read(rec, parent, self.keys(parent)):
                    return newer(parent)
            return None
        found: list[Freshness] = []
        parts = up.partitions or {}
        for up_key in mapped:
            f = parts.get(up_key)
            if f is not None and f.stale:
                found.append(propagated(step_key(parent, up_key), f))
                continue
            if self._rebuilt_unlike_read(rec, parent, [up_key]):
                found.append(newer(step_key(parent, up_key)))
        return _best(found)

    def _rebuilt_unlike_read(
        self, rec: MaterializationRecord, parent: str, keys: Iterable[str]
    ) -> bool:
        """Whether a partition of ``parent`` among ``keys`` was materialized after ``rec`` with
        other data than ``rec`` read of it (the same data version, or the same versions of the
        columns it reads: still up to date, as for unpartitioned upstreams)."""
        latest = self.snapshot.latest
        node = self.manifest.nodes[rec.asset]
        refs: dict[str | None, UpstreamRef] | None = None
        for key in keys:
            theirs = latest.get((parent, key))
            if theirs is None or theirs.finished_at <= rec.finished_at:
                continue
            if refs is None:
                refs = {u.partition: u for u in rec.upstream if u.asset == parent}
            if not same_as_read(node, parent, refs.get(key), theirs):
                return True
        return False

    # ----------------------------------------------------------------- pruning, sources

    def reaches(self, name: str, parent: str) -> bool:
        """Whether a pending change of ``parent`` reaches ``name`` (see :mod:`orch.run.change`):
        always without pruning; else when ``name`` reads a column the change affects."""
        if not self.prune:
            return True
        node = self.manifest.nodes[name]
        direct = parent in self.manifest.parents.get(name, ())
        affected = self.affected.get(parent)
        reached, why = hits(node, parent, affected, direct=direct)
        if not reached:
            self.pruned.setdefault(name, why)
        return reached

    def _observed(self, node: Node, rec: MaterializationRecord) -> Freshness | None:
        """A declared source ``node`` reads whose observation changed since it read it."""
        observations = self.snapshot.observations
        if not observations:
            return None
        for source in sources_read(self.manifest, node.name):
            seen = observations.get(source)
            if seen is None:
                continue
            ref = rec.read_of(source)
            if ref is not None and ref.data_version is not None:
                changed = ref.data_version != seen.fingerprint
            else:
                changed = seen.changed_at is not None and seen.changed_at > rec.started_at
            if changed:
                return Freshness(UPSTREAM_NEWER, f"source {source} changed", (source,), "changed")
        return None


def sources_read(manifest: Manifest, name: str) -> list[str]:
    """The declared sources an asset reads, looking through ephemeral models."""
    out: set[str] = set()
    stack, seen = list(manifest.parents.get(name, [])), set()
    while stack:
        parent = stack.pop()
        node = manifest.nodes.get(parent)
        if parent in seen or node is None:
            continue
        seen.add(parent)
        if node.resource_type == "source":
            out.add(parent)
        elif node.materialized == "ephemeral":
            stack.extend(manifest.parents.get(parent, []))
    return sorted(out)


def read_freshness(
    manifest: Manifest,
    snapshot: StateSnapshot,
    *,
    now: datetime,
    names: Iterable[str] | None = None,
) -> FreshnessMap:
    """The freshness of ``names`` (None: every asset) and their upstreams."""
    return FreshnessMap(manifest, snapshot, now=now, names=names)


def checks_of(manifest: Manifest, names: Iterable[str]) -> list[str]:
    """The checks freshness reads for ``names`` (error-severity or blocking ones)."""
    wanted = set(names)
    return sorted(
        c.name
        for c in manifest.checks.values()
        if c.asset in wanted and (c.severity == "error" or c.blocking)
    )


__all__ = [
    "AssetFreshness",
    "CHECK_FAILED",
    "CODE_CHANGED",
    "FRESH",
    "Freshness",
    "FreshnessMap",
    "LAST_RUN_FAILED",
    "MISSING",
    "NEVER_BUILT",
    "STATUSES",
    "UPSTREAM_CHANGED",
    "UPSTREAM_NEWER",
    "UP_TO_DATE",
    "buildable",
    "checks_of",
    "effective_parents",
    "read_freshness",
    "sources_read",
    "step_key",
    "upstream_closure",
]
