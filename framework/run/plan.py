"""Manifest + state -> a Plan of Steps: which assets (and partitions) to build, and why.

A step is one asset, or one partition of one asset. Steps depend on the steps of their upstream
assets that are in the same plan. ``changed_only`` keeps only what is missing or stale: never
built, built with another fingerprint, or an upstream re-materialized after it (or being rebuilt in
this plan); everything else is reported as up to date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orch.manifest import Manifest, Node

if TYPE_CHECKING:
    from orch.state import MaterializationRecord, StateReader

# Reasons a step runs or doesn't.
REQUESTED = "requested"
NEVER_BUILT = "never built"
CODE_CHANGED = "code changed"
UPSTREAM_NEWER = "upstream newer"
UPSTREAM_REBUILT = "upstream rebuilt"
UP_TO_DATE = "up to date"


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
    return asset if partition is None else f"{asset}[{partition}]"


def buildable(node: Node) -> bool:
    """Whether an asset becomes a step: sources and ephemeral models never do."""
    return node.resource_type != "source" and node.materialized != "ephemeral"


PartitionExpander = Callable[[Node, "StateReader | None"], list[tuple[str | None, str]]]


def build_plan(
    manifest: Manifest,
    selected: Iterable[str],
    state: StateReader | None,
    *,
    target: str,
    changed_only: bool = False,
    partitions: PartitionExpander | None = None,
) -> Plan:
    """The steps to run for ``selected`` assets, in DAG order.

    ``partitions`` expands a partitioned asset into (partition key, reason) pairs; without it
    every asset is one step.
    """
    chosen = {n for n in selected if n in manifest.nodes and buildable(manifest.nodes[n])}
    latest: dict[tuple[str, str | None], MaterializationRecord] = {}
    if state is not None and changed_only:
        latest = state.latest_materializations(
            sorted(chosen | _parents_of(manifest, chosen)), target=target
        )
    plan = Plan()
    steps_of: dict[str, list[str]] = {}
    for name in manifest.topological_names():
        if name not in chosen:
            continue
        node = manifest.nodes[name]
        upstream_assets = _effective_parents(manifest, name)
        waits = frozenset(s for up in upstream_assets for s in steps_of.get(up, []))
        if node.config.partitioned_by is not None and partitions is not None:
            keys = partitions(node, state)
            ids = []
            mapper = getattr(partitions, "upstream_partitions", None)
            for key, reason in keys:
                sid = step_id(name, key)
                step_waits = waits
                if mapper is not None and key is not None:
                    step_waits = _partition_waits(
                        manifest, plan, node, key, upstream_assets, steps_of, mapper
                    )
                plan.add(Step(sid, name, key, reason, step_waits))
                ids.append(sid)
            steps_of[name] = ids
            if not ids:
                plan.up_to_date[name] = UP_TO_DATE
            continue
        reason = REQUESTED
        if changed_only:
            reason = _staleness(node, upstream_assets, latest, steps_of)
            if reason == UP_TO_DATE:
                plan.up_to_date[name] = reason
                continue
        plan.add(Step(step_id(name, None), name, None, reason, waits))
        steps_of[name] = [step_id(name, None)]
    return plan


def _partition_waits(
    manifest: Manifest,
    plan: Plan,
    node: Node,
    key: str,
    upstream_assets: set[str],
    steps_of: dict[str, list[str]],
    mapper: Callable[[Node, str, Node], list[str] | None],
) -> frozenset[str]:
    """The steps one partition waits for: only the upstream partitions it maps to."""
    out: list[str] = []
    for up in upstream_assets:
        ids = steps_of.get(up, [])
        if not ids:
            continue
        up_node = manifest.nodes[up]
        mapped = mapper(node, key, up_node) if up_node.config.partitioned_by else None
        if mapped is None:
            out.extend(ids)
        else:
            out.extend(s for s in (step_id(up, k) for k in mapped) if s in plan.steps)
    return frozenset(out)


def _parents_of(manifest: Manifest, names: set[str]) -> set[str]:
    out: set[str] = set()
    for n in names:
        out.update(_effective_parents(manifest, n))
    return out


def _effective_parents(manifest: Manifest, name: str) -> set[str]:
    """Upstream assets, looking through ephemeral models (inlined, so never built themselves)."""
    out: set[str] = set()
    stack = list(manifest.parents.get(name, []))
    while stack:
        parent = stack.pop()
        node = manifest.nodes.get(parent)
        if node is None or node.resource_type == "source":
            continue
        if node.materialized == "ephemeral":
            stack.extend(manifest.parents.get(parent, []))
        else:
            out.add(parent)
    return out


def _staleness(
    node: Node,
    upstream: set[str],
    latest: dict[tuple[str, str | None], MaterializationRecord],
    steps_of: dict[str, list[str]],
) -> str:
    mine = latest.get((node.name, None))
    if mine is None:
        return NEVER_BUILT
    if mine.fingerprint != node.fingerprint:
        return CODE_CHANGED
    for up in sorted(upstream):
        if steps_of.get(up):
            return UPSTREAM_REBUILT
        theirs = latest.get((up, None))
        if theirs is not None and mine.finished_at and theirs.finished_at:
            if theirs.finished_at > mine.finished_at:
                return UPSTREAM_NEWER
    return UP_TO_DATE


def asset_status(
    node: Node, latest: MaterializationRecord | None, upstream_latest: list[MaterializationRecord]
) -> str:
    """One word for ``orch status``: up to date, code changed, upstream newer or never built."""
    if latest is None:
        return NEVER_BUILT
    if latest.fingerprint != node.fingerprint:
        return CODE_CHANGED
    for up in upstream_latest:
        if up.finished_at and latest.finished_at and up.finished_at > latest.finished_at:
            return UPSTREAM_NEWER
    return UP_TO_DATE
