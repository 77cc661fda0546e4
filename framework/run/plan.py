"""Manifest + state -> a Plan of Steps: which assets (and partitions) to build, and why.

A step is one asset, or one partition of one asset. Steps depend on the steps of their upstream
assets that are in the same plan; a partition waits for the upstream partitions it maps to (and,
when none of those is in the plan, for the upstream asset's first step, so the upstream table
exists before it is read). Whether an asset or a partition is stale is decided by
:mod:`orch.run.freshness` alone: ``changed_only`` keeps what it calls stale, plus what reads an
asset rebuilt in this plan (``upstream rebuilt``); everything else is reported as up to date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from orch.events import utcnow
from orch.manifest import Manifest, Node
from orch.run.freshness import (
    UP_TO_DATE,
    FreshnessMap,
    buildable,
    checks_of,
    effective_parents,
    step_key,
    upstream_closure,
)
from orch.state.records import ObservationRecord
from orch.state.snapshot import StateSnapshot

if TYPE_CHECKING:
    from orch.state import StateReader

# Reasons a step runs that are not a freshness status.
REQUESTED = "requested"
UPSTREAM_REBUILT = "upstream rebuilt"


class PartitionSource(Protocol):
    """What :func:`build_plan` asks about partitions (``partition_plan.PartitionExpander``)."""

    @property
    def now(self) -> datetime:
        """The moment that decides the last complete partition."""
        ...

    def expand(
        self, node: Node, freshness: FreshnessMap, scheduled: Mapping[str, set[str]]
    ) -> list[tuple[str, str]]:
        """(key, reason) for each partition of ``node`` to run, in key order."""
        ...

    def upstream_partitions(self, node: Node, key: str, upstream: Node) -> list[str] | None:
        """The keys of ``upstream`` partition ``key`` of ``node`` reads (None: all of it)."""
        ...


@dataclass(frozen=True)
class Step:
    """One unit of work: materialize ``asset`` (one partition of it, when partitioned)."""

    step_id: str
    asset: str
    partition: str | None
    reason: str
    upstream: frozenset[str] = frozenset()  # step ids this one waits for


@dataclass
class Plan:
    """Steps in a valid execution order, plus what was left out as up to date."""

    steps: dict[str, Step] = field(default_factory=dict)
    up_to_date: dict[str, str] = field(default_factory=dict)  # asset -> why it is skipped
    # asset -> the change-classification decision behind its step or its skip (orch.run.change)
    decisions: dict[str, str] = field(default_factory=dict)

    @property
    def order(self) -> list[Step]:
        """Steps in insertion order, which is topological."""
        return list(self.steps.values())

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: Step) -> None:
        """Add a step (after the steps it depends on)."""
        self.steps[step.step_id] = step


def step_id(asset: str, partition: str | None) -> str:
    """``asset`` or ``asset[partition]``."""
    return step_key(asset, partition)


def plan_freshness(
    manifest: Manifest,
    names: Iterable[str],
    state: StateReader | None,
    *,
    target: str,
    now: datetime,
    order: list[str] | None = None,
    prune: bool = True,
    observed: Mapping[str, str] | None = None,
) -> FreshnessMap:
    """The freshness of ``names`` and their upstreams, from one bulk read of the state.

    ``observed``: source -> a fingerprint known now, over what the state last recorded (a
    workspace member's model: its owner's data version, :mod:`orch.run.foreign_state`).
    """
    parents: dict[str, list[str]] = {}

    def parents_of(name: str) -> list[str]:
        if name not in parents:
            parents[name] = effective_parents(manifest, name)
        return parents[name]

    closure = upstream_closure(manifest, names, parents_of)
    snapshot = StateSnapshot.read(
        state, target, assets=sorted(closure), checks=checks_of(manifest, closure)
    )
    for source, fingerprint in (observed or {}).items():
        seen = snapshot.observations.get(source)
        if seen is None or seen.fingerprint != fingerprint:
            snapshot.observations[source] = ObservationRecord(
                target, source, fingerprint, {"owner_version": fingerprint}, now, now
            )
    return FreshnessMap(
        manifest,
        snapshot,
        now=now,
        names=closure,
        order=order,
        parents=parents,
        closed=True,
        prune=prune,
    )


def build_plan(
    manifest: Manifest,
    selected: Iterable[str],
    state: StateReader | None,
    *,
    target: str,
    changed_only: bool = False,
    partitions: PartitionSource | None = None,
    prune: bool = True,
    observed: Mapping[str, str] | None = None,
) -> Plan:
    """The steps to run for ``selected`` assets, in DAG order.

    ``partitions`` expands a partitioned asset into (partition key, reason) pairs; without it
    every asset is one step. With ``changed_only``, an asset downstream of a rebuilt one is
    rebuilt only when the rebuild reaches it (:meth:`FreshnessMap.reaches`: a non-breaking
    change does not); ``prune`` False rebuilds everything downstream.
    """
    chosen = {n for n in selected if n in manifest.nodes and buildable(manifest.nodes[n])}
    partitioned = partitions is not None and any(
        manifest.nodes[n].config.partitioned_by is not None for n in chosen
    )
    order = manifest.topological_names()
    freshness: FreshnessMap | None = None
    if changed_only or partitioned:
        now = partitions.now if partitions is not None else utcnow()
        freshness = plan_freshness(
            manifest, chosen, state, target=target, now=now, order=order, prune=prune,
            observed=observed,
        )  # fmt: skip
    plan = Plan()
    steps_of: dict[str, list[str]] = {}
    scheduled: dict[str, set[str]] = {}
    for name in order:
        if name not in chosen:
            continue
        node = manifest.nodes[name]
        upstream_assets = (
            freshness.parents(name) if freshness is not None else effective_parents(manifest, name)
        )
        waits = frozenset(s for up in upstream_assets for s in steps_of.get(up, []))
        if node.config.partitioned_by is not None and partitions is not None:
            assert freshness is not None
            ids = []
            for key, reason in partitions.expand(node, freshness, scheduled):
                sid = step_id(name, key)
                step_waits = _partition_waits(
                    manifest, plan, node, key, upstream_assets, steps_of, partitions
                )
                plan.add(Step(sid, name, key, reason, step_waits))
                ids.append(sid)
            steps_of[name] = ids
            scheduled[name] = {str(plan.steps[i].partition) for i in ids}
            if not ids:
                plan.up_to_date[name] = UP_TO_DATE
            continue
        reason = REQUESTED
        if changed_only:
            assert freshness is not None
            mine = freshness.of(name)
            change = freshness.changes.get(name)
            if change is not None:
                rebuilt_alone = "rebuilt alone" if not change.breaking else "downstream readers too"
                plan.decisions[name] = f"{change.reason} ({rebuilt_alone})"
            rebuilt = [up for up in upstream_assets if steps_of.get(up)]
            if mine.stale:
                reason = mine.reason
            elif any(freshness.reaches(name, up) for up in rebuilt):
                reason = UPSTREAM_REBUILT
            else:
                plan.up_to_date[name] = UP_TO_DATE
                if rebuilt and name in freshness.pruned:
                    plan.decisions[name] = f"not rebuilt: {freshness.pruned[name]}"
                continue
        plan.add(Step(step_id(name, None), name, None, reason, waits))
        steps_of[name] = [step_id(name, None)]
    return plan


def _partition_waits(
    manifest: Manifest,
    plan: Plan,
    node: Node,
    key: str,
    upstream_assets: list[str],
    steps_of: dict[str, list[str]],
    partitions: PartitionSource,
) -> frozenset[str]:
    """The steps one partition waits for: only the upstream partitions it maps to.

    When none of those is in the plan but the upstream asset has steps, the partition waits for
    the upstream's first step: the upstream relation may not exist before it (a fresh build of a
    weekly asset whose first week maps to no day of its daily upstream).
    """
    out: list[str] = []
    for up in upstream_assets:
        ids = steps_of.get(up, [])
        if not ids:
            continue
        up_node = manifest.nodes[up]
        mapped = (
            partitions.upstream_partitions(node, key, up_node)
            if up_node.config.partitioned_by is not None
            else None
        )
        if mapped is None:
            out.extend(ids)
            continue
        found = [s for s in (step_id(up, k) for k in mapped) if s in plan.steps]
        out.extend(found or ids[:1])
    return frozenset(out)


__all__ = [
    "REQUESTED",
    "UPSTREAM_REBUILT",
    "PartitionSource",
    "Plan",
    "Step",
    "build_plan",
    "buildable",
    "plan_freshness",
    "step_id",
]
