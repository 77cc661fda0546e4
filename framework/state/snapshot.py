"""A read-once view of the state: what freshness, ``orch status``, the plan and the site need.

:meth:`StateSnapshot.read` costs three bulk queries (latest successes, latest attempts that
failed, latest check results) whatever the number of assets; ``detail=True`` adds what only the
site shows (every latest attempt, recent runs, one history query per attempted asset, histories
of failing checks, and the code and git state that built each latest success).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orch.state.base import StateReader
from orch.state.records import (
    CheckResultRecord,
    CodeVersion,
    GitState,
    MaterializationRecord,
    ObservationRecord,
    RunRecord,
)

RUNS_PER_ASSET = 10
CHECK_HISTORY = 10
RECENT_RUNS = 20


@dataclass
class StateSnapshot:
    """The state of one target, read once."""

    latest: dict[tuple[str, str | None], MaterializationRecord] = field(default_factory=dict)
    failures: dict[tuple[str, str | None], MaterializationRecord] = field(default_factory=dict)
    attempts: dict[tuple[str, str | None], MaterializationRecord] = field(default_factory=dict)
    checks: dict[tuple[str, str | None], CheckResultRecord] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    history: dict[str, list[MaterializationRecord]] = field(default_factory=dict)
    check_history: dict[str, list[CheckResultRecord]] = field(default_factory=dict)
    last_finished: dict[str, datetime] = field(default_factory=dict)
    # with detail: the code behind each latest success's fingerprint, the git state of its run
    code: dict[str, CodeVersion] = field(default_factory=dict)
    git: dict[str, GitState] = field(default_factory=dict)
    observations: dict[str, ObservationRecord] = field(default_factory=dict)  # by source

    @classmethod
    def read(
        cls,
        reader: StateReader | None,
        target: str,
        *,
        assets: Sequence[str] | None = None,
        checks: Sequence[str] | None = None,
        detail: bool = False,
        known: frozenset[str] | set[str] | None = None,
    ) -> StateSnapshot:
        """Read the state of ``target`` (empty without a reader).

        Args:
            reader: the state store, or None.
            target: the target name.
            assets: limit materializations and attempts to these assets (None: all).
            checks: limit check results to these checks (None: all).
            detail: also read recent runs and histories (what the site shows).
            known: with ``detail``, the asset names whose history to read (None: all attempted).
        """
        snap = cls()
        if reader is None:
            return snap
        names = None if assets is None else sorted(set(assets))
        snap.latest = reader.latest_materializations(names, target=target)
        snap.observations = reader.latest_observations(target=target)
        if detail:
            snap.attempts = reader.latest_attempts(names, target=target)
            snap.failures = {k: r for k, r in snap.attempts.items() if r.status == "failed"}
        else:
            snap.failures = reader.latest_failures(names, target=target)
        if checks is None or checks:
            snap.checks = reader.latest_check_results(
                None if checks is None else sorted(set(checks)), target=target
            )
        for (asset, _), rec in snap.latest.items():
            prev = snap.last_finished.get(asset)
            if prev is None or rec.finished_at > prev:
                snap.last_finished[asset] = rec.finished_at
        if not detail:
            return snap
        snap.runs = reader.recent_runs(RECENT_RUNS, target=target)
        attempted = {a for a, _ in snap.attempts}
        for asset in sorted(attempted if known is None else attempted & set(known)):
            snap.history[asset] = reader.materialization_history(
                asset, RUNS_PER_ASSET, target=target
            )
        snap.code = reader.code_versions(
            [r.fingerprint for r in snap.latest.values() if r.fingerprint]
        )
        snap.git = reader.git_states([r.run_id for r in snap.latest.values()])
        for (check, _), result in snap.checks.items():
            if result.status in ("fail", "error", "warn") and check not in snap.check_history:
                snap.check_history[check] = reader.check_history(
                    check, CHECK_HISTORY, target=target
                )
        return snap

    @property
    def empty(self) -> bool:
        """Whether nothing was ever recorded."""
        return not (self.latest or self.failures or self.attempts or self.runs or self.checks)


__all__ = ["RUNS_PER_ASSET", "StateSnapshot"]
