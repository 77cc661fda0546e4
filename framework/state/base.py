"""The state store interfaces (:class:`StateReader`, :class:`StateStore`) and the run lock.

What the two stores share lives here: the writes validate their values and shape the row once
(``StateStore.record_*``), and each store only writes it (``_insert_*``, ``_update_run``,
``_save_observation``); the reads derived from others (``get_run``, ``last_tick``,
``run_key_used``, ``partitions_of``, the three "latest" queries over ``_latest``) too.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

from orch.errors import InternalError
from orch.events import utcnow
from orch.state.records import (
    CHECK_STATUSES,
    HOOK_STATUSES,
    LOCK_HEARTBEAT_S,
    LOCK_STALE_AFTER_S,
    MATERIALIZATION_STATUSES,
    OP_STEP_STATUSES,
    RUN_STATUSES,
    CheckResultRecord,
    CodeVersion,
    GitState,
    HookRunRecord,
    LockInfo,
    LockOwner,
    MaterializationRecord,
    ObservationRecord,
    OpStepRecord,
    RunRecord,
    TickRecord,
    UpstreamRef,
    _json,
    _ts,
    as_interrupted,
    check_status,
    observation_from_row,
    orphaned_because,
    sample_json,
    upstream_dict,
)

log = logging.getLogger(__name__)

# what StateReader._latest answers per (asset, partition key): the last success, the last
# attempt, or the last attempt where it failed
LatestKind = Literal["success", "attempt", "failure"]

# --------------------------------------------------------------------------- interfaces


class StateReader(ABC):
    """The read side of the state: what the planner, ``orch status`` and the docs site need."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None; a ``running`` run whose process died is ``interrupted``."""
        run = self._stored_run(run_id)
        return None if run is None else self._settle_orphans([run], self._stored_run)[0]

    @abstractmethod
    def _stored_run(self, run_id: str) -> RunRecord | None:
        """One run as stored (a dead ``running`` run left as it is), or None."""

    @abstractmethod
    def recent_runs(self, limit: int = 20, *, target: str | None = None) -> list[RunRecord]:
        """The newest runs first."""

    def latest_materializations(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last successful materialization per (asset, partition_key), in one query."""
        return self._latest("success", assets, target)

    def latest_attempts(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt, failed or not, per (asset, partition_key), in one query."""
        return self._latest("attempt", assets, target)

    def latest_failures(
        self, assets: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """The last attempt per (asset, partition_key), only where it failed (so after the last
        success): what freshness needs of attempts, without reading every attempt."""
        return self._latest("failure", assets, target)

    @abstractmethod
    def _latest(
        self, kind: LatestKind, assets: Sequence[str] | None, target: str | None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        """Per (asset, partition_key) the last success, the last attempt, or the last attempt
        where it failed; ``target`` None: across targets, newest wins."""

    def partitions_of(
        self, asset: str, *, target: str | None = None
    ) -> dict[str, MaterializationRecord]:
        """The last successful materialization per partition key of one asset."""
        latest = self.latest_materializations([asset], target=target)
        return {pk: rec for (_, pk), rec in latest.items() if pk is not None}

    @abstractmethod
    def materialization_history(
        self, asset: str, limit: int = 50, *, target: str | None = None
    ) -> list[MaterializationRecord]:
        """Every attempt on one asset (all partitions), newest first."""

    @abstractmethod
    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in the order they were recorded."""

    @abstractmethod
    def run_check_results(self, run_id: str) -> list[CheckResultRecord]:
        """Every check result of one run, in the order they were recorded."""

    @abstractmethod
    def latest_check_results(
        self, checks: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], CheckResultRecord]:
        """The last result per (check, partition_key)."""

    @abstractmethod
    def check_history(
        self, check: str, limit: int = 50, *, target: str | None = None
    ) -> list[CheckResultRecord]:
        """Results of one check, newest first."""

    @abstractmethod
    def run_op_steps(self, run_id: str) -> list[OpStepRecord]:
        """Every op step of one run (an op job's), in the order they were recorded."""

    @abstractmethod
    def ticks(self, name: str, limit: int = 50) -> list[TickRecord]:
        """Ticks of one schedule or sensor, newest first."""

    def last_tick(self, name: str) -> TickRecord | None:
        """The newest tick of one schedule or sensor."""
        found = self.ticks(name, 1)
        return found[0] if found else None

    @abstractmethod
    def get_cursor(self, sensor: str) -> str | None:
        """A sensor's cursor, None before its first ``set_cursor``."""

    def run_key_used(self, name: str, run_key: str) -> bool:
        """Whether a schedule or sensor already ran this run key."""
        return self.run_for_key(name, run_key) is not None

    @abstractmethod
    def run_for_key(self, name: str, run_key: str) -> str | None:
        """The run id that claimed a run key of a schedule or sensor, or None."""

    @abstractmethod
    def latest_observations(self, *, target: str | None = None) -> dict[str, ObservationRecord]:
        """The latest observation of each declared source (by source name)."""

    @abstractmethod
    def lock_holder(self, target: str) -> LockInfo | None:
        """The current run lock of a target, stale or not, or None."""

    @abstractmethod
    def code_versions(self, fingerprints: Sequence[str]) -> dict[str, CodeVersion]:
        """The code stored for each of these fingerprints (what built their materializations)."""

    def code_version(self, fingerprint: str) -> CodeVersion | None:
        """The code stored for one fingerprint, or None."""
        return self.code_versions([fingerprint]).get(fingerprint)

    @abstractmethod
    def git_states(self, run_ids: Sequence[str]) -> dict[str, GitState]:
        """The git state recorded when each of these runs started (runs without one left out)."""

    @abstractmethod
    def run_hook_runs(self, run_id: str) -> list[HookRunRecord]:
        """Every hook that ran in one run, in the order they ran."""

    @abstractmethod
    def op_step_code(self, run_id: str) -> dict[str, str]:
        """step key -> the fingerprint of the op code each op step of a run ran."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (and any locks this store holds)."""

    def __enter__(self) -> StateReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _settle_orphans(
        self, runs: list[RunRecord], reread: Callable[[str], RunRecord | None]
    ) -> list[RunRecord]:
        """``runs`` with each orphaned ``running`` run shown as ``interrupted``.

        A run whose process died cannot record its end: readers tell it from a live one with
        :func:`~orch.state.records.orphaned_because` (its pid, its target's lock). The lock is
        read after the runs, and a run that looks orphaned is read again (``reread``, the raw
        row): one that finished in between is shown as it finished. The next run that takes
        the target's lock writes ``interrupted`` into the store.
        """
        if not any(r.status == "running" for r in runs):
            return runs
        now = utcnow()
        locks: dict[str, LockInfo | None] = {}
        settled = []
        for run in runs:
            if run.status == "running":
                if run.target not in locks:
                    locks[run.target] = self.lock_holder(run.target)
                if orphaned_because(run, locks[run.target], now=now) is not None:
                    again = reread(run.run_id) or run
                    run = as_interrupted(again) if again.status == "running" else again
            settled.append(run)
        return settled


class StateStore(StateReader):
    """Reads plus writes and the run lock; every write is one transaction."""

    def __enter__(self) -> StateStore:
        return self

    def start_run(
        self,
        command: str,
        *,
        target: str,
        selection: str = "",
        args: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        pid: int | None = None,
        host: str | None = None,
        started_at: datetime | None = None,
    ) -> str:
        """Record a run as ``running``; returns its run_id (idempotent for a given run_id)."""
        run_id = run_id or uuid.uuid4().hex
        self._insert_run({
            "run_id": run_id, "command": command, "selection": selection, "target": target,
            "started_at": _ts(started_at or utcnow()), "finished_at": None, "status": "running",
            "pid": pid if pid is not None else os.getpid(), "host": host or socket.gethostname(),
            "args": _json(dict(args or {})), "counts": "{}",
        })  # fmt: skip
        return run_id

    @abstractmethod
    def _insert_run(self, row: dict[str, Any]) -> None:
        """Write a new run (``row``: every column of ``runs``), unless its run_id is there."""

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        finished_at: datetime | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        """Set a run's final status: success, failed or interrupted."""
        check_status(status, RUN_STATUSES[1:], "run")
        finished = _ts(finished_at or utcnow())
        self._update_run(
            run_id, {"status": status, "finished_at": finished, "counts": _json(dict(counts or {}))}
        )

    @abstractmethod
    def _update_run(self, run_id: str, values: dict[str, Any]) -> None:
        """Set these columns of one run."""

    def record_materialization(
        self,
        *,
        run_id: str,
        asset: str,
        partition_key: str | None,
        status: str,
        started_at: datetime,
        finished_at: datetime | None = None,
        fingerprint: str | None = None,
        materialized: str | None = None,
        rows: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        upstream: Sequence[UpstreamRef | Mapping[str, Any]] = (),
        error: str | None = None,
        target: str | None = None,
        data_version: str | None = None,
        versions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> int:
        """Record one attempt; a ``success`` only after its data committed. Returns the row id.

        ``target`` defaults to the run's target.
        """
        check_status(status, MATERIALIZATION_STATUSES, "materialization")
        if partition_key == "":
            raise InternalError(f"empty partition key for {asset!r}; use None when unpartitioned")
        finished_at = finished_at or utcnow()
        return self._insert_materialization({
            "run_id": run_id, "target": target, "asset": asset, "partition_key": partition_key,
            "status": status, "fingerprint": fingerprint, "materialized": materialized,
            "started_at": _ts(started_at), "finished_at": _ts(finished_at),
            "duration_s": max((finished_at - started_at).total_seconds(), 0.0), "rows": rows,
            "metadata": _json(dict(metadata or {})),
            "upstream": _json([upstream_dict(u) for u in upstream]), "error": error,
            "data_version": data_version,
            "versions": _json({k: dict(v) for k, v in versions.items()}) if versions else None,
        })  # fmt: skip

    @abstractmethod
    def _insert_materialization(self, row: dict[str, Any]) -> int:
        """Write one attempt (``row``: the columns of ``materializations`` but its id; ``target``
        None: the run's); returns its row id."""

    def record_observation(
        self,
        *,
        target: str,
        source: str,
        fingerprint: str,
        detail: Mapping[str, Any] | None = None,
        observed_at: datetime | None = None,
    ) -> ObservationRecord:
        """Store a source's observation; ``changed_at`` moves when the fingerprint differs."""
        row = {
            "target": target, "source": source, "fingerprint": fingerprint,
            "detail": _json(dict(detail or {})), "observed_at": _ts(observed_at or utcnow()),
        }  # fmt: skip
        return observation_from_row((*row.values(), self._save_observation(row)))

    @abstractmethod
    def _save_observation(self, row: dict[str, Any]) -> str | None:
        """Replace a source's observation (``row``: the columns but ``changed_at``), in one
        transaction with reading the one it replaces; returns the ``changed_at`` it wrote
        (:func:`~orch.state.records.changed_at`)."""

    def record_check(
        self,
        *,
        run_id: str,
        check: str,
        asset: str | None,
        partition_key: str | None,
        status: str,
        severity: str,
        failing_rows: int = 0,
        sample: Sequence[Mapping[str, Any]] = (),
        duration_s: float = 0.0,
        sql: str = "",
        message: str = "",
        at: datetime | None = None,
        target: str | None = None,
    ) -> int:
        """Record one check result (the sample is cut to ``SAMPLE_ROWS``). Returns the row id."""
        return self._insert_checks([_check_row({
            "run_id": run_id, "check": check, "asset": asset, "partition_key": partition_key,
            "status": status, "severity": severity, "failing_rows": failing_rows,
            "sample": sample, "duration_s": duration_s, "sql": sql, "message": message, "at": at,
            "target": target,
        })])  # fmt: skip

    def record_checks(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Record several check results (each the keyword arguments of :meth:`record_check`);
        a store that can writes them in one transaction: all of them or none."""
        rows = [_check_row(result) for result in results]  # every status checked first
        if rows:
            self._insert_checks(rows)

    @abstractmethod
    def _insert_checks(self, rows: list[dict[str, Any]]) -> int:
        """Write check results (each row: the columns of ``check_results`` but its id;
        ``target`` None: the run's); returns the row id of the last."""

    def record_op_step(
        self,
        *,
        run_id: str,
        job: str,
        step_key: str,
        op: str,
        status: str,
        attempts: int,
        started_at: datetime,
        finished_at: datetime,
        outputs: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
        path: str | None = None,
        attempt_errors: Sequence[str] = (),
        reused_from: str | None = None,
    ) -> int:
        """Record one op step (success, failed, skipped or interrupted). Returns the row id."""
        check_status(status, OP_STEP_STATUSES, "op step")
        return self._insert_op_step({
            "run_id": run_id, "job": job, "step_key": step_key, "op": op, "status": status,
            "attempts": attempts, "started_at": _ts(started_at), "finished_at": _ts(finished_at),
            "duration_s": max(0.0, (finished_at - started_at).total_seconds()),
            "outputs": _json(dict(outputs or {})), "metadata": _json(dict(metadata or {})),
            "error": error, "path": path, "attempt_errors": _json(list(attempt_errors)),
            "reused_from": reused_from,
        })  # fmt: skip

    @abstractmethod
    def _insert_op_step(self, row: dict[str, Any]) -> int:
        """Write one op step (``row``: the columns of ``op_steps`` but its id); returns its id."""

    @abstractmethod
    def record_code(self, version: CodeVersion) -> bool:
        """Store the code of a fingerprint unless stored already; True when it was new."""

    @abstractmethod
    def record_op_code(self, run_id: str, step_key: str, fingerprint: str) -> None:
        """Record which op code (a ``code_versions`` fingerprint) an op step ran."""

    @abstractmethod
    def record_git(self, run_id: str, git: GitState) -> None:
        """Record the project's git state for a run (once, when it starts)."""

    def record_hook_run(
        self,
        *,
        run_id: str,
        phase: str,
        index: int,
        name: str,
        step: str | None,
        status: str,
        error: str | None = None,
        duration_s: float = 0.0,
        at: datetime | None = None,
    ) -> int:
        """Record one hook's outcome (``success`` or ``error``). Returns the row id."""
        check_status(status, HOOK_STATUSES, "hook")
        return self._insert_hook_run({
            "run_id": run_id, "phase": phase, "hook_index": index, "name": name, "step": step,
            "status": status, "error": error, "duration_s": float(duration_s),
            "at": _ts(at or utcnow()),
        })  # fmt: skip

    @abstractmethod
    def _insert_hook_run(self, row: dict[str, Any]) -> int:
        """Write one hook's outcome (``row``: the columns of ``hook_runs`` but its id); returns
        its id."""

    def record_tick(
        self,
        name: str,
        tick_time: datetime,
        status: str,
        run_ids: Sequence[str] = (),
        skip_reason: str | None = None,
        error: str | None = None,
    ) -> int:
        """Record one schedule or sensor evaluation. Returns the row id."""
        return self._insert_tick({
            "name": name, "tick_time": _ts(tick_time), "status": status,
            "run_ids": _json(list(run_ids)), "skip_reason": skip_reason, "error": error,
            "recorded_at": _ts(utcnow()),
        })  # fmt: skip

    @abstractmethod
    def _insert_tick(self, row: dict[str, Any]) -> int:
        """Write one tick (``row``: the columns of ``ticks`` but its id); returns its id."""

    @abstractmethod
    def set_cursor(self, sensor: str, cursor: str | None) -> None:
        """Store a sensor's cursor."""

    @abstractmethod
    def record_run_key(self, name: str, run_key: str, run_id: str) -> bool:
        """Claim a run key atomically: False if it was already used (then nothing is written)."""

    @abstractmethod
    def acquire_lock(
        self,
        target: str,
        owner: LockOwner,
        *,
        stale_after: float = LOCK_STALE_AFTER_S,
        heartbeat_interval: float | None = LOCK_HEARTBEAT_S,
    ) -> RunLock:
        """Take the run lock of ``target`` or raise LockHeldError; use the result as a context."""

    @abstractmethod
    def heartbeat_lock(self, target: str, lock_id: str) -> bool:
        """Refresh a lock's heartbeat; False if it is no longer ours."""

    @abstractmethod
    def release_lock(self, target: str, lock_id: str) -> None:
        """Drop a lock if it is still ours."""

    @abstractmethod
    def break_lock(self, target: str) -> LockInfo | None:
        """Remove a target's lock, whoever holds it (``orch unlock``); returns what it removed."""


def _check_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """The ``check_results`` columns (but the id) of one result given as the keyword arguments
    of :meth:`StateStore.record_check`."""
    check_status(result["status"], CHECK_STATUSES, "check")
    return {
        "run_id": result["run_id"], "target": result.get("target"), "check_name": result["check"],
        "asset": result["asset"], "partition_key": result["partition_key"],
        "status": result["status"], "severity": result["severity"],
        "failing_rows": result.get("failing_rows", 0),
        "sample": sample_json(result.get("sample", ())),
        "duration_s": float(result.get("duration_s", 0.0)), "sql": result.get("sql", ""),
        "message": result.get("message", ""), "at": _ts(result.get("at") or utcnow()),
    }  # fmt: skip


class RunLock:
    """A held run lock: a context manager that heartbeats in the background and releases on exit."""

    def __init__(
        self, store: StateStore, info: LockInfo, *, heartbeat_interval: float | None = None
    ) -> None:
        self.store = store
        self.info = info
        self._released = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat_interval:
            self._thread = threading.Thread(
                target=self._beat,
                args=(heartbeat_interval,),
                name=f"orch-lock-{info.target}",
                daemon=True,
            )
            self._thread.start()

    @property
    def target(self) -> str:
        """The locked target."""
        return self.info.target

    @property
    def held(self) -> bool:
        """False once released."""
        return not self._released

    def heartbeat(self) -> bool:
        """Refresh the heartbeat now; False if the lock was lost (taken over as stale)."""
        if self._released:
            return False
        return self.store.heartbeat_lock(self.info.target, self.info.lock_id)

    def release(self) -> None:
        """Stop heartbeating and drop the lock (idempotent)."""
        if self._released:
            return
        self._released = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.store.release_lock(self.info.target, self.info.lock_id)

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                if not self.heartbeat() and not self._released:
                    log.warning("run lock of target %r was taken over", self.info.target)
                    return
            except Exception as err:  # a missed beat is not fatal; the next may succeed
                log.warning("run lock heartbeat failed: %s", err)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.release()
            return
        try:
            self.release()
        except Exception as err:  # the run's own error is the one to show
            log.warning("could not release the run lock of target %r: %s", self.target, err)
