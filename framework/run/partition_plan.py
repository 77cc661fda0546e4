"""Which partitions a run builds: the ``partitions=`` expander of :func:`orch.run.plan.build_plan`.

For each selected partitioned asset, in DAG order, :class:`PartitionExpander` returns the keys to
run and why, up to the last complete window (see :mod:`orch.partitions` for keys and windows):

- ``orch build`` / ``orch run``: partitions that :mod:`orch.run.freshness` calls stale (missing,
  failed, code changed, check failed, an upstream partition they map to stale or newer, a pending
  change in an unpartitioned upstream), partitions reading an upstream partition being
  re-materialized in this run (``upstream rebuilt``), plus the definition's ``lookback`` newest
  partitions. ``--start/--end`` restrict that to a range; ``--partition KEY`` runs exactly that
  partition (a key of another grain: the partitions overlapping its window, so ``--partition
  2024-02`` runs every day of February of a daily asset). An *unpartitioned* upstream merely
  refreshed does not make historical partitions stale (rebuild them with ``orch backfill``).
- ``orch backfill``: every partition of the range, except those an interrupted backfill of the
  same selection and range already completed (with the current code): resumable.

It also tells the planner which upstream partitions each partition waits for
(:meth:`PartitionExpander.upstream_partitions`), so a partition of a downstream asset starts as
soon as the partitions it reads are written. Planning reads the state once, in bulk (the
snapshot freshness reads), and never touches the warehouse: its cost grows with the number of
partitions, not with rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orch.config import RunOptions
from orch.errors import PartitionError
from orch.events import utcnow
from orch.manifest import Manifest, Node
from orch.partitions import (
    PartitionDefinition,
    StaticKeys,
    TimeWindows,
    advance,
    definition_of,
    key_grain,
    parse_time_key,
    partition_keys,
    upstream_keys,
)
from orch.run.freshness import FreshnessMap
from orch.run.plan import REQUESTED, UPSTREAM_REBUILT

if TYPE_CHECKING:
    pass

LOOKBACK = "lookback"
BACKFILL = "backfill"
FULL_REFRESH = "full refresh"


@dataclass(frozen=True)
class PartitionRequest:
    """What the command line asked of partitions."""

    partition: str | None = None
    start: str | None = None
    end: str | None = None
    backfill: bool = False
    full_refresh: bool = False
    done_runs: frozenset[str] = frozenset()  # backfill resume: partitions these runs completed
    now: datetime | None = None
    # automation's on_missing: per asset, the only partitions this run may build (the missing
    # ones whose upstream partitions are ready); other assets are expanded as usual
    only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: RunOptions, **extra: Any) -> PartitionRequest:
        """The request a RunOptions carries (``--partition``, ``--start``, ``--end``)."""
        request = cls(
            partition=options.partition,
            start=options.start,
            end=options.end,
            full_refresh=options.full_refresh,
            **extra,
        )
        request.validate()
        return request

    @property
    def restricted(self) -> bool:
        """Whether the run is limited to a key or a range."""
        return bool(self.partition or self.start or self.end)

    def keys_of(self, node: Node) -> list[str | None]:
        """The partition keys of ``node`` the request names (``orch test`` checks those)."""
        definition = definition_of(node.config.partitioned_by, asset=node.name)  # type: ignore[arg-type]
        if self.partition:
            return [definition.validate(self.partition)]
        first = self.start or (
            definition.keys[0] if isinstance(definition, StaticKeys) else definition.first_key()
        )
        return list(definition.keys_between(first, self.end or first))

    def validate(self) -> None:
        """Errors that need no definition: both a key and a range; start after end."""
        if self.partition and (self.start or self.end):
            raise PartitionError(
                "give either --partition or --start/--end, not both",
                hint="Use --start KEY --end KEY for a range",
            )
        if self.start and self.end and key_grain(self.start) and key_grain(self.end):
            lo, _ = time_bounds(self.start)
            _, hi = time_bounds(self.end)
            if hi <= lo:
                raise PartitionError(
                    f"the range starts after it ends: --start {self.start} --end {self.end}",
                    hint="Swap them: --start is the first partition, --end the last (included)",
                )


def time_bounds(key: str) -> tuple[datetime, datetime]:
    """The window of a time key of any grain: ``2024-01`` covers January."""
    grain, start = parse_time_key(key)
    return start, advance(grain, start)


@dataclass
class PartitionExpander:
    """Expands partitioned assets into partition keys for :func:`orch.run.plan.build_plan`."""

    manifest: Manifest
    target: str
    request: PartitionRequest = field(default_factory=PartitionRequest)
    _definitions: dict[str, PartitionDefinition | None] = field(default_factory=dict)
    _now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self._now = self.request.now if self.request.now is not None else utcnow()

    @property
    def now(self) -> datetime:
        """The moment that decides the last complete partition."""
        return self._now

    # ------------------------------------------------------------------ definitions

    def definition(self, node: Node) -> PartitionDefinition | None:
        """The node's partition definition (None when unpartitioned), cached."""
        if node.name not in self._definitions:
            spec = node.config.partitioned_by
            self._definitions[node.name] = (
                None if spec is None else definition_of(spec, asset=node.name)
            )
        return self._definitions[node.name]

    # ------------------------------------------------------------------ the hook

    def expand(
        self, node: Node, freshness: FreshnessMap, scheduled: Mapping[str, set[str]]
    ) -> list[tuple[str, str]]:
        """(key, reason) for each partition of ``node`` this run materializes, in key order.

        ``scheduled`` holds the partitions of upstream assets already in the plan.
        """
        definition = self.definition(node)
        assert definition is not None
        candidates = self.candidates(node, definition)
        request = self.request
        if node.name in request.only:
            allowed = set(request.only[node.name])
            candidates = [k for k in candidates if k in allowed]
        latest = freshness.snapshot.latest
        lookback = set(candidates[-definition.lookback :]) if definition.lookback else set()
        parents = self._partitioned_parents(node)
        out: list[tuple[str, str]] = []
        for key in candidates:
            reason: str | None
            if request.backfill:
                rec = latest.get((node.name, key))
                done = (
                    rec is not None
                    and rec.run_id in request.done_runs
                    and rec.fingerprint == node.fingerprint
                )
                reason = None if done else BACKFILL
            elif request.partition:
                reason = REQUESTED
            elif request.full_refresh:
                reason = FULL_REFRESH
            else:
                mine = freshness.of(node.name, key)
                reason = mine.reason if mine.stale else None
                if reason is None and self._upstream_scheduled(definition, key, parents, scheduled):
                    reason = UPSTREAM_REBUILT
                if reason is None and key in lookback and not request.restricted:
                    reason = LOOKBACK
            if reason is not None:
                out.append((key, reason))
        return out

    def upstream_partitions(self, node: Node, key: str, upstream: Node) -> list[str] | None:
        """The keys of ``upstream`` partition ``key`` of ``node`` reads (None: all of it)."""
        definition = self.definition(node)
        if definition is None:
            return None
        return upstream_keys(definition, key, self.definition(upstream))

    # ------------------------------------------------------------------ internals

    def _upstream_scheduled(
        self,
        definition: PartitionDefinition,
        key: str,
        parents: list[Node],
        scheduled: Mapping[str, set[str]],
    ) -> bool:
        """Whether a partition of a partitioned upstream that ``key`` reads is in the plan."""
        for parent in parents:
            theirs = scheduled.get(parent.name)
            if not theirs:
                continue
            keys = upstream_keys(definition, key, self.definition(parent))
            if keys is None or not theirs.isdisjoint(keys):
                return True
        return False

    def candidates(self, node: Node, definition: PartitionDefinition) -> list[str]:
        """Every key the request allows, up to the last complete one."""
        request = self.request
        last = definition.last_complete_key(self._now)
        if isinstance(definition, StaticKeys):
            if request.partition:
                return [definition.validate(request.partition)]
            first = request.start or definition.keys[0]
            final = request.end or definition.keys[-1]
            return definition.keys_between(first, final)
        if request.partition and key_grain(request.partition) == definition.grain:
            return [self._explicit_key(node, definition, request.partition, last)]
        if request.partition:  # a key of another grain: the partitions overlapping its window
            lo, hi = time_bounds(request.partition)
            keys = definition.keys_overlapping(lo, hi, last)
            if not keys:
                raise PartitionError(
                    f"'{node.name}' has no complete partition in {request.partition}",
                    hint=f"Its partitions: {definition.describe()}, last complete: "
                    f"{last or 'none yet'}",
                )
            return keys
        if request.start or request.end:
            lo = time_bounds(request.start)[0] if request.start else definition.start
            hi = time_bounds(request.end)[1] if request.end else datetime.max
            keys = definition.keys_overlapping(lo, hi, last)
            if not keys:
                raise PartitionError(
                    f"'{node.name}' has no complete partition in "
                    f"{request.start or '...'}..{request.end or '...'}",
                    hint=f"Its partitions: {definition.describe()}, last complete: "
                    f"{last or 'none yet'}",
                )
            return keys
        return partition_keys(definition, self._now)

    def _explicit_key(self, node: Node, definition: TimeWindows, key: str, last: str | None) -> str:
        definition.validate(key)
        if last is None or definition.parse(key) > definition.parse(last):
            raise PartitionError(
                f"partition {key} of '{node.name}' is not complete yet",
                hint=f"The last complete partition is {last or 'none'}",
            )
        return key

    def _partitioned_parents(self, node: Node) -> list[Node]:
        out = []
        for name in self.manifest.parents.get(node.name, []):
            parent = self.manifest.nodes.get(name)
            if parent is not None and parent.config.partitioned_by is not None:
                out.append(parent)
        return out


__all__ = [
    "BACKFILL",
    "LOOKBACK",
    "PartitionExpander",
    "PartitionRequest",
    "time_bounds",
]
