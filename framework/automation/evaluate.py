"""One tick of automation conditions: which assets to refresh now, and why (or why not).

Every asset with an ``automation`` condition (:mod:`orch.conditions`) is evaluated in
dependency order against one state snapshot. Whether an asset is stale, and why, is asked of
:class:`orch.run.freshness.FreshnessMap` (the one freshness rule); this module adds what the
kinds mean:

- ``eager``: its own change is pending (never built, code changed) or a *direct* upstream was
  materialized after it — and no upstream is missing or failing, unless that upstream is
  requested in the same tick (then both go in one run, upstream first); or a declared source
  it reads was observed changed since it read it (the daemon observes sources on a schedule).
- ``on_cron(c)``: the newest tick ``T`` of ``c`` (UTC) came after its last request, and every
  upstream was materialized at or after ``T`` (or is requested in this tick).
- ``on_missing``: never built, or missing partitions, and every upstream has data; a run
  builds only the missing partitions whose upstream partitions (as mapped) all have data.
- ``max_lag(d)``: its *data time* — the oldest upstream data it was built from
  (``min(own build start, data time of each upstream)``) — is older than ``d`` minus its last
  build's duration. Upstream assets whose own data time is too old are requested with it:
  refreshing it alone would not make its data younger.

Not spinning: an asset whose last run failed is not requested again until an upstream is
materialized after that failure (``on_cron``: a new tick; ``max_lag``: one lag after the last
request). An asset that waits for an upstream which was never built and has no condition is
*unsatisfiable*: reported once per evaluation, never requested.

Requested assets are grouped in dependency order into as few runs as possible, at most
``max_assets`` per run (the run's planner orders the steps).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from orch.conditions import (
    And,
    Condition,
    Eager,
    MaxLag,
    Not,
    OnCron,
    OnMissing,
    Or,
    format_duration,
    parse_condition,
)
from orch.load.project import Project
from orch.manifest import Manifest
from orch.partitions import upstream_keys
from orch.run.freshness import (
    CHECK_FAILED,
    LAST_RUN_FAILED,
    MISSING,
    NEVER_BUILT,
    Freshness,
    FreshnessMap,
    buildable,
)
from orch.run.source_freshness import describe_age
from orch.state.snapshot import StateSnapshot

MAX_ASSETS_PER_RUN = 500
UNUSABLE = frozenset({NEVER_BUILT, LAST_RUN_FAILED})  # an upstream a build cannot read yet
FAILED = frozenset({LAST_RUN_FAILED, CHECK_FAILED})


def iso(t: datetime) -> str:
    """Compact UTC ISO text (seconds)."""
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AssetEvaluation:
    """Why one asset was or was not requested in one tick."""

    asset: str
    condition: str
    requested: bool
    reasons: tuple[str, ...]
    unsatisfiable: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, as stored in the state store."""
        out: dict[str, Any] = {
            "condition": self.condition,
            "requested": self.requested,
            "reasons": list(self.reasons),
        }
        if self.unsatisfiable:
            out["unsatisfiable"] = self.unsatisfiable
        return out

    @classmethod
    def from_json(cls, asset: str, data: Mapping[str, Any]) -> AssetEvaluation:
        """The inverse of :meth:`to_json`."""
        return cls(
            asset,
            str(data.get("condition", "")),
            bool(data.get("requested")),
            tuple(data.get("reasons", ())),
            data.get("unsatisfiable"),
        )


@dataclass(frozen=True)
class PlannedRun:
    """One run a tick launches: a build of ``assets``."""

    run_key: str
    assets: tuple[str, ...]
    # assets requested only for some partitions (on_missing: the missing ones whose upstream
    # partitions are ready): asset -> those keys; every other asset is built as usual
    partitions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TickEvaluation:
    """Every evaluated asset of one tick, and the runs it requests."""

    tick: datetime
    assets: dict[str, AssetEvaluation]
    runs: tuple[PlannedRun, ...]

    @property
    def requested(self) -> list[str]:
        """The requested assets, in run order."""
        return [a for run in self.runs for a in run.assets]

    @property
    def unsatisfiable(self) -> list[AssetEvaluation]:
        """Assets whose condition cannot hold until someone builds an upstream."""
        return [e for e in self.assets.values() if e.unsatisfiable]


@dataclass(frozen=True)
class _Verdict:
    holds: bool
    lines: tuple[str, ...]
    unsatisfiable: str | None = None
    pulls: tuple[str, ...] = ()  # upstream assets max_lag requests with this one
    keys: tuple[str, ...] | None = None  # holds for these partitions only (None: the asset)


def conditions_of(manifest: Manifest) -> dict[str, Condition]:
    """Each asset's automation condition (parsed once per manifest)."""
    out: dict[str, Condition] = {}
    for name, node in manifest.nodes.items():
        text = node.config.automation
        if text and buildable(node):  # an ephemeral model is never built
            out[name] = _parse(text)
    return out


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Condition:
    return parse_condition(text)


@functools.lru_cache(maxsize=1024)
def _text(cond: Condition) -> str:
    """A condition's canonical text, computed once per condition value."""
    return cond.expression


def _cron_tick(cron: str, now: datetime) -> datetime:
    """The newest tick of ``cron`` (UTC) at or before ``now``."""
    from croniter import croniter  # ~35 ms to import: only when a condition uses on_cron

    start = now.astimezone(timezone.utc) + timedelta(microseconds=1)
    tick: datetime = croniter(cron, start).get_prev(datetime)
    return tick.astimezone(timezone.utc)


_AUTOMATION_WORD = re.compile(rb"\bautomation\b")


def declares_automation(project: Project) -> bool:
    """Whether any asset may carry a condition (a cheap scan: the daemon compiles only then)."""
    if "automation" in repr(project.config.models):
        return True
    if any(
        props.entry.automation is not None or "automation" in props.entry.config
        for props in project.properties.values()
    ):
        return True
    for model in project.models.values():
        try:
            if _AUTOMATION_WORD.search(model.abs_path.read_bytes()):
                return True
        except OSError:
            return True
    return False


class Evaluator:
    """Evaluates every condition of a manifest for one tick (see the module docstring).

    Args:
        manifest: the compiled project.
        snapshot: one read of the state (latest materializations, attempts, checks).
        requested_at: each asset's last request time (the conditions' cursor).
        now: the tick time (aware).
        max_assets: the most assets one run builds.
    """

    def __init__(
        self,
        manifest: Manifest,
        snapshot: StateSnapshot,
        requested_at: Mapping[str, datetime],
        now: datetime,
        *,
        max_assets: int = MAX_ASSETS_PER_RUN,
        conditions: Mapping[str, Condition] | None = None,
    ) -> None:
        self.manifest = manifest
        self.snapshot = snapshot
        self.requested_at = requested_at
        self.now = now
        self.max_assets = max(1, max_assets)
        self.conditions = dict(conditions if conditions is not None else conditions_of(manifest))
        order = manifest.topological_names()
        self.order = order
        # every built asset: the closure of the conditions' assets, without computing it
        built = [n for n, node in manifest.nodes.items() if buildable(node)]
        self.fresh = FreshnessMap(
            manifest, snapshot, now=now, names=built, order=order, closed=True
        )
        self.finished: dict[str, datetime] = {}
        self.started: dict[str, datetime] = {}
        for (asset, _), rec in snapshot.latest.items():
            if asset not in self.finished or rec.finished_at > self.finished[asset]:
                self.finished[asset] = rec.finished_at
            if asset not in self.started or rec.started_at < self.started[asset]:
                self.started[asset] = rec.started_at  # partitioned: the oldest partition's
        self.failed_at: dict[str, datetime] = {}
        for (asset, _), rec in snapshot.failures.items():
            ok = snapshot.latest.get((asset, rec.partition_key))
            if ok is None or rec.id > ok.id:
                prev = self.failed_at.get(asset)
                self.failed_at[asset] = max(prev, rec.started_at) if prev else rec.started_at
        self._data_time: dict[str, datetime | None] = {}
        self._lag_walked: set[str] = set()
        self._ticks: dict[str, datetime] = {}
        self.chosen: set[str] = set()
        self.keys: dict[str, tuple[str, ...]] = {}  # chosen for these partitions only

    # ------------------------------------------------------------------ the tick

    def evaluate(self, run_key_prefix: str = "automation") -> TickEvaluation:
        """Every condition in dependency order; the requested assets grouped into runs."""
        results: dict[str, AssetEvaluation] = {}
        for name in self.order:
            cond = self.conditions.get(name)
            if cond is None or name not in self.fresh:
                continue
            verdict = self._holds(cond, name)
            lines = verdict.lines
            if verdict.holds:
                self.chosen.add(name)
                if verdict.keys is not None:
                    self.keys[name] = verdict.keys
                for up in verdict.pulls:
                    if up not in self.chosen:
                        self.chosen.add(up)
                        results.setdefault(up, AssetEvaluation(
                            up, _text(self.conditions[up]) if up in self.conditions else "",
                            True, (f"requested with {name}: {_text(cond)}",),
                        ))  # fmt: skip
            results[name] = AssetEvaluation(
                name, _text(cond), verdict.holds, lines, verdict.unsatisfiable
            )
        ordered = [n for n in self.order if n in self.chosen]
        stamp = self.now.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        runs = []
        for i, j in enumerate(range(0, len(ordered), self.max_assets)):
            assets = tuple(ordered[j : j + self.max_assets])
            keys = {a: self.keys[a] for a in assets if a in self.keys}
            runs.append(PlannedRun(f"{run_key_prefix}:{stamp}#{i}", assets, keys))
        return TickEvaluation(self.now, results, tuple(runs))

    # ------------------------------------------------------------------ the kinds

    def _holds(self, cond: Condition, name: str) -> _Verdict:
        if isinstance(cond, And):
            parts = [self._holds(p, name) for p in cond.parts]
            return _Verdict(
                all(p.holds for p in parts),
                tuple(line for p in parts for line in p.lines),
                next((p.unsatisfiable for p in parts if p.unsatisfiable), None),
                tuple(u for p in parts for u in p.pulls) if all(p.holds for p in parts) else (),
                _narrowest([p.keys for p in parts]),
            )
        if isinstance(cond, Or):
            parts = [self._holds(p, name) for p in cond.parts]
            holds = any(p.holds for p in parts)
            blocked = None if holds else next((p.unsatisfiable for p in parts), None)
            return _Verdict(
                holds,
                tuple(line for p in parts for line in p.lines),
                blocked if all(p.unsatisfiable for p in parts) else None,
                tuple(u for p in parts if p.holds for u in p.pulls),
                _widest([p.keys for p in parts if p.holds]),
            )
        if isinstance(cond, Not):
            inner = self._holds(cond.part, name)
            return _Verdict(not inner.holds, tuple(f"not: {line}" for line in inner.lines))
        if isinstance(cond, Eager):
            return self._eager(name)
        if isinstance(cond, OnCron):
            return self._on_cron(name, cond)
        if isinstance(cond, OnMissing):
            return self._on_missing(name)
        if isinstance(cond, MaxLag):
            return self._max_lag(name, cond)
        raise TypeError(f"unknown condition {cond!r}")  # pragma: no cover

    def _mark(self, kind: str, holds: bool, text: str, **kw: Any) -> _Verdict:
        return _Verdict(holds, (f"{'✓' if holds else '✗'} {kind}: {text}",), **kw)

    def _blocking(self, name: str, kind: str) -> _Verdict | None:
        """An upstream a build cannot read yet (and that is not requested in this tick)."""
        for parent in self.fresh.parents(name):
            if parent in self.chosen:
                continue
            theirs = self.fresh.of(parent)
            if theirs.status not in UNUSABLE:
                continue
            text = f"waiting for upstream {parent} ({theirs.reason})"
            unsat = None
            if theirs.status == NEVER_BUILT and parent not in self.conditions:
                unsat = (
                    f"upstream {parent} was never built and has no automation condition: "
                    f"nothing will build it (run `orch build -s {parent}` once, or give it a "
                    "condition)"
                )
                text = unsat
            return self._mark(kind, False, text, unsatisfiable=unsat)
        return None

    def _retry_blocked(self, name: str, mine: Freshness, kind: str) -> _Verdict | None:
        """A failed asset waits for an upstream materialized after its failure."""
        if mine.status not in FAILED or mine.causes:
            return None
        failed = self.failed_at.get(name)
        asked = self.requested_at.get(name)
        if failed is None or asked is None or asked > failed:
            return None  # a failure of a run we did not request (or not yet seen): retry once
        for parent in self.fresh.parents(name):
            done = self.finished.get(parent)
            if parent in self.chosen or (done is not None and done > failed):
                return None
        return self._mark(kind, False, f"{mine.reason} at {iso(failed)}; not retried until an "
                          "upstream is materialized again (or `orch build`)")  # fmt: skip

    def _eager(self, name: str) -> _Verdict:
        mine = self.fresh.of(name)
        blocked = self._retry_blocked(name, mine, "eager") or self._blocking(name, "eager")
        if blocked is not None:
            return blocked
        if mine.stale and not mine.causes:  # its own change: never built, code changed...
            return self._mark("eager", True, mine.reason)
        if mine.stale and self._source_changed(mine):  # a source observation moved
            return self._mark("eager", True, mine.reason)
        built = self.finished.get(name)
        for parent in self.fresh.parents(name):
            if parent in self.chosen:
                return self._mark("eager", True, f"upstream {parent} is requested in this tick")
            done = self.finished.get(parent)
            if built is not None and done is not None and done > built:
                return self._mark("eager", True, f"upstream {parent} updated at {iso(done)}")
        if mine.stale:
            return self._mark("eager", False, f"{mine.reason}: waiting for it to be rebuilt")
        return self._mark("eager", False, "no upstream updated since its last build")

    def _source_changed(self, mine: Freshness) -> bool:
        """Whether the asset is stale because a declared source it reads was observed changed."""
        source = self.manifest.nodes.get(mine.causes[0]) if mine.causes else None
        return source is not None and source.resource_type == "source"

    def _on_cron(self, name: str, cond: OnCron) -> _Verdict:
        kind = _text(cond)
        tick = self._ticks.get(cond.cron)
        if tick is None:
            tick = self._ticks[cond.cron] = _cron_tick(cond.cron, self.now)
        asked = self.requested_at.get(name)
        if asked is not None and asked >= tick:
            return self._mark(kind, False, f"already requested for the tick {iso(tick)}")
        blocked = self._blocking(name, kind)
        if blocked is not None:
            return blocked
        finished, chosen = self.finished, self.chosen
        behind = [
            p for p in self.fresh.parents(name) if p not in chosen and finished.get(p, tick) < tick
        ]
        if behind:
            return self._mark(kind, False, f"tick {iso(tick)} passed; waiting for upstreams "
                              f"updated since: {', '.join(behind)}")  # fmt: skip
        return self._mark(kind, True, f"tick {iso(tick)} passed and its upstreams updated since")

    def _on_missing(self, name: str) -> _Verdict:
        found = self.fresh.asset(name)
        missing = [k for k, f in (found.partitions or {}).items() if f.status == MISSING]
        mine = found.freshness
        if not missing and mine.status != NEVER_BUILT:
            return self._mark("on_missing", False, "nothing missing")
        for parent in self.fresh.parents(name):
            if parent in self.chosen or parent in self.finished:
                continue
            unsat = None
            text = f"waiting for upstream {parent} to have data"
            if parent not in self.conditions:
                unsat = (
                    f"upstream {parent} was never built and has no automation condition: "
                    f"nothing will build it (run `orch build -s {parent}` once, or give it a "
                    "condition)"
                )
                text = unsat
            return self._mark("on_missing", False, text, unsatisfiable=unsat)
        if not missing:
            return self._mark("on_missing", True, "never built")
        ready = self._ready_keys(name, missing)
        if not ready:
            return self._mark("on_missing", False, f"{_keys(missing)}; waiting for their "
                              "upstream partitions")  # fmt: skip
        return self._mark("on_missing", True, _keys(ready), keys=tuple(ready))

    def _ready_keys(self, name: str, missing: list[str]) -> list[str]:
        """The missing partitions whose upstream partitions (as mapped) all have data."""
        definition = self.fresh.definition(name)
        latest = self.snapshot.latest
        ready = list(missing)
        for parent in self.fresh.parents(name):
            theirs = self.fresh.definition(parent)
            if parent in self.chosen or theirs is None or definition is None:
                continue
            ready = [
                k
                for k in ready
                if all((parent, up) in latest for up in upstream_keys(definition, k, theirs) or [])
            ]
        return ready

    def data_time(self, name: str) -> datetime | None:
        """The oldest upstream data ``name`` was built from (None: never built)."""
        if name in self._data_time:
            return self._data_time[name]
        started = self.started.get(name)
        found = started
        if started is not None:
            for parent in self.fresh.parents(name):
                theirs = self.data_time(parent)
                if theirs is not None and found is not None and theirs < found:
                    found = theirs
        self._data_time[name] = found
        return found

    def _max_lag(self, name: str, cond: MaxLag) -> _Verdict:
        kind = _text(cond)
        lag = timedelta(seconds=cond.seconds)
        mine = self.fresh.of(name)
        asked = self.requested_at.get(name)
        if mine.status in FAILED and not mine.causes and asked is not None:
            if self.now - asked < lag:
                every = format_duration(cond.seconds)
                text = f"{mine.reason}; retried one lag ({every}) after {iso(asked)}"
                return self._mark(kind, False, text)
        blocked = self._blocking(name, kind)
        if blocked is not None:
            return blocked
        when = self.data_time(name)
        if when is None:
            return self._mark(kind, True, "never built")
        rec_duration = self._duration(name)
        deadline = when + lag - rec_duration
        age = describe_age(max(0.0, (self.now - when).total_seconds()))
        if self.now < deadline:
            return self._mark(kind, False, f"data is {age} old (from {iso(when)}); due by "
                              f"{iso(deadline)}")  # fmt: skip
        pulls = self._lagging_upstream(name, self.now - lag + rec_duration)
        text = f"data is {age} old (from {iso(when)}), over {format_duration(cond.seconds)}"
        if pulls:
            text += f" minus its build time; refreshing upstream {', '.join(pulls)} with it"
        return self._mark(kind, True, text, pulls=tuple(pulls))

    def _duration(self, name: str) -> timedelta:
        rec = self.snapshot.latest.get((name, None))
        return timedelta(seconds=rec.duration_s) if rec is not None else timedelta()

    def _lagging_upstream(self, name: str, limit: datetime) -> list[str]:
        """Built upstream assets whose own data time is before ``limit`` (nearest first)."""
        out: list[str] = []
        stack = list(self.fresh.parents(name))
        seen: set[str] = set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            when = self.data_time(parent)
            if when is not None and when < limit:
                out.append(parent)
                if parent not in self._lag_walked:  # its own lagging upstream is pulled already
                    stack.extend(self.fresh.parents(parent))
        self._lag_walked.update(out)
        self._lag_walked.add(name)
        return sorted(out)


def _narrowest(found: list[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """The partitions an ``&`` holds for: those every partition-limited part holds for."""
    limited = [set(k) for k in found if k is not None]
    if not limited:
        return None
    common = set.intersection(*limited)
    return tuple(k for k in found[next(i for i, k in enumerate(found) if k is not None)] or ()
                 if k in common)  # fmt: skip


def _widest(found: list[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """The partitions an ``|`` holds for: the whole asset when a holding part is unlimited."""
    if not found or any(k is None for k in found):
        return None
    return tuple(dict.fromkeys(k for keys in found for k in keys or ()))


def _keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return f"{len(keys)} missing partitions: {shown}"


@dataclass
class AutomationCursor:
    """What the daemon keeps between ticks (one state-store cursor, written atomically).

    ``requested``: each asset's last request; ``open``: the runs of a tick not yet finished
    (a restart relaunches those whose run never started); ``last``: the last evaluation.
    """

    requested: dict[str, datetime] = field(default_factory=dict)
    tick: datetime | None = None
    open_runs: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, AssetEvaluation] = field(default_factory=dict)

    NAME = "automation:conditions"

    def to_text(self) -> str:
        """The cursor's JSON."""
        return json.dumps(
            {
                "requested": {a: t.isoformat() for a, t in sorted(self.requested.items())},
                "tick": self.tick.isoformat() if self.tick else None,
                "open": self.open_runs,
                "last": {a: e.to_json() for a, e in self.last.items()},
            },
            sort_keys=True,
            ensure_ascii=False,
        )

    @classmethod
    def from_text(cls, text: str | None) -> AutomationCursor:
        """Parse a stored cursor (an empty one when none)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            requested={a: datetime.fromisoformat(t) for a, t in data.get("requested", {}).items()},
            tick=datetime.fromisoformat(data["tick"]) if data.get("tick") else None,
            open_runs=list(data.get("open") or []),
            last={a: AssetEvaluation.from_json(a, e) for a, e in data.get("last", {}).items()},
        )


def evaluate_tick(
    manifest: Manifest,
    snapshot: StateSnapshot,
    cursor: AutomationCursor,
    now: datetime,
    *,
    max_assets: int = MAX_ASSETS_PER_RUN,
) -> TickEvaluation:
    """Evaluate every condition at ``now`` (nothing stored or launched)."""
    return Evaluator(manifest, snapshot, cursor.requested, now, max_assets=max_assets).evaluate()


__all__ = [
    "AssetEvaluation",
    "AutomationCursor",
    "Evaluator",
    "MAX_ASSETS_PER_RUN",
    "PlannedRun",
    "TickEvaluation",
    "conditions_of",
    "declares_automation",
    "evaluate_tick",
]
