"""Records of the state store (runs, materializations, checks, ticks, locks) and shared helpers."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orch.errors import InternalError, LockHeldError

log = logging.getLogger(__name__)


SCHEMA_VERSION = 2  # 2: materializations.data_version/versions, source_observations
STATE_DIR = ".orch"
STATE_FILE = "state.db"
SAMPLE_ROWS = 20
LOCK_STALE_AFTER_S = 600.0
LOCK_HEARTBEAT_S = 30.0
BUSY_TIMEOUT_MS = 10_000

RUN_STATUSES = ("running", "success", "failed", "interrupted")
# Commands whose runs hold their target's run lock from before they start to after they finish,
# so a lock that is free (or another run's) says they are over. ``orch test`` takes the lock too
# (so that it names a build in progress) but is judged by its pid only, as before it did.
LOCKED_COMMANDS = frozenset({"build", "run", "seed", "backfill", "job", "snapshot"})
MATERIALIZATION_STATUSES = ("success", "failed")
CHECK_STATUSES = ("pass", "warn", "fail", "error", "skipped")
OP_STEP_STATUSES = ("success", "failed", "skipped", "interrupted")

# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunRecord:
    """One run of a command against a target."""

    run_id: str
    command: str
    selection: str
    target: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    pid: int | None
    host: str | None
    args: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish, None while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class UpstreamRef:
    """One input a materialization read: an asset, its partition, and the run that produced it."""

    asset: str
    partition: str | None = None
    run_id: str | None = None
    data_version: str | None = None  # the upstream's data version when it was read
    columns: dict[str, str] | None = None  # the data versions of the columns read from it


@dataclass(frozen=True)
class MaterializationRecord:
    """One attempt to materialize an asset (or one partition of it)."""

    id: int
    run_id: str
    target: str
    asset: str
    partition_key: str | None
    status: str
    fingerprint: str | None
    materialized: str | None
    started_at: datetime
    finished_at: datetime
    duration_s: float
    rows: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    upstream: tuple[UpstreamRef, ...] = ()
    error: str | None = None
    data_version: str | None = None
    # {"columns": {column: data version}, "code": {column: column version}} (orch.run.version)
    versions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def column_data(self) -> dict[str, str]:
        """The data version of each column it wrote (empty: not measured)."""
        return self.versions.get("columns", {})

    @property
    def column_code(self) -> dict[str, str]:
        """The column versions of the code it was built with (change classification)."""
        return self.versions.get("code", {})

    def read_of(self, asset: str) -> UpstreamRef | None:
        """What it read of one upstream asset (the unpartitioned or first reference)."""
        return next((u for u in self.upstream if u.asset == asset), None)

    @property
    def key(self) -> tuple[str, str | None]:
        """``(asset, partition_key)``: the key of the planner's dicts."""
        return (self.asset, self.partition_key)


@dataclass(frozen=True)
class ObservationRecord:
    """The latest observation of a declared source: its fingerprint and when it last changed.

    ``changed_at`` is None until an observation differs from the one before it (the first one
    is the baseline).
    """

    target: str
    source: str
    fingerprint: str
    detail: dict[str, Any]
    observed_at: datetime
    changed_at: datetime | None


@dataclass(frozen=True)
class OpStepRecord:
    """One step of an op job's run: its status, attempts, time and what it stored.

    ``outputs`` maps each output to ``{"type", "size", "preview", "metadata", "mapping_keys"}``
    (a dynamic output's keys); ``reused_from`` names the run whose stored outputs a
    ``--from-failure`` run took instead of running the step again.
    """

    id: int
    run_id: str
    job: str
    step_key: str
    op: str
    status: str
    attempts: int
    started_at: datetime
    finished_at: datetime
    duration_s: float
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    path: str | None = None
    attempt_errors: tuple[str, ...] = ()
    reused_from: str | None = None


@dataclass(frozen=True)
class CheckResultRecord:
    """One evaluation of a check."""

    id: int
    run_id: str
    target: str
    check: str
    asset: str | None
    partition_key: str | None
    status: str
    severity: str
    failing_rows: int
    sample: tuple[dict[str, Any], ...]
    duration_s: float
    sql: str
    message: str
    at: datetime


@dataclass(frozen=True)
class TickRecord:
    """One evaluation of a schedule or sensor."""

    id: int
    name: str
    tick_time: datetime
    status: str
    run_ids: tuple[str, ...]
    skip_reason: str | None
    error: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class LockOwner:
    """Who asks for a run lock; shown to whoever finds it held."""

    command: str
    run_id: str | None = None
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)


@dataclass(frozen=True)
class LockInfo:
    """A run lock as stored: its holder and its last heartbeat."""

    target: str
    lock_id: str
    pid: int
    host: str
    command: str
    run_id: str | None
    acquired_at: datetime
    heartbeat_at: datetime

    @classmethod
    def from_owner(cls, target: str, owner: LockOwner, *, now: datetime) -> LockInfo:
        """A new lock of ``target`` for ``owner`` (a fresh lock id), taken and beaten ``now``."""
        return cls(
            target=target,
            lock_id=uuid.uuid4().hex,
            pid=owner.pid,
            host=owner.host,
            command=owner.command,
            run_id=owner.run_id,
            acquired_at=now,
            heartbeat_at=now,
        )


# --------------------------------------------------------------------------- helpers


def state_path(project_dir: str | os.PathLike[str]) -> Path:
    """The SQLite state file of a project: ``<project>/.orch/state.db``."""
    return Path(project_dir) / STATE_DIR / STATE_FILE


def _ts(value: datetime | None) -> str | None:
    """A datetime as fixed-width UTC ISO text; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    """Parse what :func:`_ts` wrote."""
    return None if text is None else datetime.fromisoformat(text)


def _loads(text: str) -> Any:
    """Parse stored JSON; the common empty values skip the parser (the planner reads 10^5 rows)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


def _at(text: str) -> datetime:
    """Parse a stored, non-null timestamp."""
    return datetime.fromisoformat(text)


def _json(value: Any) -> str:
    """Compact deterministic JSON; dates, decimals and the like become strings."""
    return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))


def sample_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """A failing-row sample as JSON, at most ``SAMPLE_ROWS`` rows, each row's keys in the
    table's column order (not sorted: the site shows them as the table has them)."""
    cut = [dict(r) for r in list(rows)[:SAMPLE_ROWS]]
    return json.dumps(cut, default=str, separators=(",", ":"))


def check_status(value: str, allowed: tuple[str, ...], what: str) -> None:
    """Refuse a status outside ``allowed``: a caller's bug, not a user's error."""
    if value not in allowed:
        raise InternalError(f"invalid {what} status {value!r}; expected one of {allowed}")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (assumed so where it cannot be told)."""
    if pid <= 0 or sys.platform == "win32":  # os.kill(pid, 0) would terminate it on Windows
        return pid > 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_is_stale(
    info: LockInfo, *, now: datetime, stale_after: float, host: str | None = None
) -> str | None:
    """Why a held lock may be taken over (dead pid on this host, old heartbeat), or None."""
    if info.host == (host or socket.gethostname()) and not pid_alive(info.pid):
        return f"its process {info.pid} is gone"
    age = (now - info.heartbeat_at).total_seconds()
    if age > stale_after:
        return f"its last heartbeat was {age:.0f}s ago"
    return None


def orphaned_because(
    run: RunRecord,
    lock: LockInfo | None,
    *,
    now: datetime,
    stale_after: float = LOCK_STALE_AFTER_S,
    host: str | None = None,
) -> str | None:
    """Why a run recorded as ``running`` is not running any more (its process died), or None.

    Its process is gone when the pid is dead on this host (a pid names nothing on another host).
    A run of a :data:`LOCKED_COMMANDS` command holds its target's lock ``lock`` until it has
    recorded its end: when the lock is free, held by another run, or stale (no heartbeat for
    ``stale_after`` seconds), the run is over too, wherever it ran.
    """
    if run.status != "running":
        return None
    if run.pid and run.host == (host or socket.gethostname()) and not pid_alive(run.pid):
        return f"its process {run.pid} is gone"
    if run.command not in LOCKED_COMMANDS:
        return None  # `orch test` takes no lock: only its pid can tell, on its own host
    if lock is None or lock.run_id != run.run_id:
        return f"it no longer holds the run lock of target '{run.target}'"
    return lock_is_stale(lock, now=now, stale_after=stale_after, host=host)


def orphaned_runs(
    running: Sequence[RunRecord], lock: LockInfo, *, now: datetime
) -> list[RunRecord]:
    """The runs of ``running`` that are over, seen by the new holder ``lock`` of their target.

    Called when the lock was just taken, so a run of a locking command other than the holder's
    own is over; the others are when their process is gone. Written once as ``interrupted``.
    """
    return [
        run
        for run in running
        if run.status == "running"
        and run.target == lock.target
        and run.run_id != lock.run_id
        and orphaned_because(run, lock, now=now) is not None
    ]


def as_interrupted(run: RunRecord) -> RunRecord:
    """The record of an orphaned run as readers show it: ``interrupted``, end unknown."""
    return replace(run, status="interrupted")


def refuse_live_lock(
    held: LockInfo, *, now: datetime, stale_after: float, how_to_clear: Callable[[str], str]
) -> None:
    """Raise :func:`lock_held_error` when ``held`` is live; log why a stale one is taken over.

    ``how_to_clear(target)`` is the store's advice for removing a lock by hand.
    """
    why = lock_is_stale(held, now=now, stale_after=stale_after)
    if why is None:
        raise lock_held_error(held, how_to_clear=how_to_clear(held.target))
    log.warning(
        "taking over the run lock of target %r from `%s` (pid %d on %s): %s",
        held.target,
        held.command,
        held.pid,
        held.host,
        why,
    )


def changed_at(stored: Sequence[Any] | None, fingerprint: str, at: str | None) -> str | None:
    """A source's ``changed_at`` after an observation at ``at``: ``at`` when the fingerprint
    differs from the stored ``(fingerprint, changed_at)``, else the stored one (None at first)."""
    if stored is None:
        return None
    return stored[1] if stored[0] == fingerprint else at


def lock_held_error(info: LockInfo, *, how_to_clear: str) -> LockHeldError:
    """The error for a lock held by a live process: who, where, since when, and what to do."""
    since = info.acquired_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    run = f", run {info.run_id}" if info.run_id else ""
    return LockHeldError(
        f"target '{info.target}' is locked by `{info.command}` "
        f"(pid {info.pid} on host {info.host}, since {since}{run})",
        hint=f"Wait for it to finish. If that process is gone, {how_to_clear}",
    )


# ------------------------------------------------------------- row mapping (shared by the stores)


def upstream_dict(ref: UpstreamRef | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ref, UpstreamRef):
        out: dict[str, Any] = {"asset": ref.asset, "partition": ref.partition, "run_id": ref.run_id}
        version, columns = ref.data_version, ref.columns
    else:
        out = {
            "asset": ref["asset"],
            "partition": ref.get("partition"),
            "run_id": ref.get("run_id"),
        }
        version, columns = ref.get("data_version"), ref.get("columns")
    if version is not None:
        out["data_version"] = version
    if columns:
        out["columns"] = dict(columns)
    return out


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float:
    return float(value)


def run_from_row(r: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=r[0],
        command=r[1],
        selection=r[2],
        target=r[3],
        started_at=_at(r[4]),
        finished_at=_dt(r[5]),
        status=r[6],
        pid=_int(r[7]),
        host=r[8],
        args=_loads(r[9]),
        counts=_loads(r[10]),
    )


def materialization_from_row(r: Sequence[Any]) -> MaterializationRecord:
    return MaterializationRecord(
        id=int(r[0]),
        run_id=r[1],
        target=r[2],
        asset=r[3],
        partition_key=r[4],
        status=r[5],
        fingerprint=r[6],
        materialized=r[7],
        started_at=_at(r[8]),
        finished_at=_at(r[9]),
        duration_s=_float(r[10]),
        rows=_int(r[11]),
        metadata=_loads(r[12]),
        upstream=tuple(UpstreamRef(**u) for u in _loads(r[13])),
        error=r[14],
        data_version=r[15] if len(r) > 15 else None,
        versions=_loads(r[16]) if len(r) > 16 and r[16] else {},
    )


def observation_from_row(r: Sequence[Any]) -> ObservationRecord:
    return ObservationRecord(
        target=r[0],
        source=r[1],
        fingerprint=r[2],
        detail=_loads(r[3]),
        observed_at=_at(r[4]),
        changed_at=_at(r[5]) if r[5] else None,
    )


def check_from_row(r: Sequence[Any]) -> CheckResultRecord:
    return CheckResultRecord(
        id=int(r[0]),
        run_id=r[1],
        target=r[2],
        check=r[3],
        asset=r[4],
        partition_key=r[5],
        status=r[6],
        severity=r[7],
        failing_rows=int(r[8]),
        sample=tuple(_loads(r[9])),
        duration_s=_float(r[10]),
        sql=r[11],
        message=r[12],
        at=_at(r[13]),
    )


def tick_from_row(r: Sequence[Any]) -> TickRecord:
    return TickRecord(
        id=int(r[0]),
        name=r[1],
        tick_time=_at(r[2]),
        status=r[3],
        run_ids=tuple(_loads(r[4])),
        skip_reason=r[5],
        error=r[6],
        recorded_at=_at(r[7]),
    )


OP_STEP_COLUMNS = (
    "id", "run_id", "job", "step_key", "op", "status", "attempts", "started_at", "finished_at",
    "duration_s", "outputs", "metadata", "error", "path", "attempt_errors", "reused_from",
)  # fmt: skip


def op_step_from_row(r: Sequence[Any]) -> OpStepRecord:
    return OpStepRecord(
        id=int(r[0]),
        run_id=r[1],
        job=r[2],
        step_key=r[3],
        op=r[4],
        status=r[5],
        attempts=int(r[6]),
        started_at=_at(r[7]),
        finished_at=_at(r[8]),
        duration_s=_float(r[9]),
        outputs=dict(_loads(r[10]) or {}),
        metadata=dict(_loads(r[11]) or {}),
        error=r[12],
        path=r[13],
        attempt_errors=tuple(_loads(r[14]) or ()),
        reused_from=r[15],
    )


def lock_from_row(r: Sequence[Any]) -> LockInfo:
    return LockInfo(
        target=r[0],
        lock_id=r[1],
        pid=int(r[2]),
        host=r[3],
        command=r[4],
        run_id=r[5],
        acquired_at=_at(r[6]),
        heartbeat_at=_at(r[7]),
    )


# --------------------------------------------------------------------------- code provenance


@dataclass(frozen=True)
class CodeVersion:
    """The code that built an asset: stored once per fingerprint (``code_versions``).

    ``kind`` is ``sql`` (the compiled SQL, env_var() values never in it) or ``python`` (the
    asset's function with the module-level code it may use); ``module`` is the file it came from.
    """

    fingerprint: str
    kind: str
    module: str | None
    code: str


@dataclass(frozen=True)
class GitState:
    """The project's git work tree when a run started: its HEAD and whether it had changes.

    ``commit`` is None when the project is not in a git work tree (or git is not installed).
    """

    commit: str | None
    dirty: bool = False

    def describe(self) -> str:
        """``3f2a9c1 (dirty)``, ``3f2a9c1`` or ``no git``."""
        if self.commit is None:
            return "no git"
        return self.commit[:7] + (" (dirty)" if self.dirty else "")


HOOK_STATUSES = ("success", "error")


@dataclass(frozen=True)
class HookRunRecord:
    """One hook that ran: an on-run hook, a model's pre-/post-hook or a success/failure hook."""

    id: int
    run_id: str
    phase: str  # on-run-start, on-run-end, pre-hook, post-hook, success-hook, failure-hook
    index: int
    name: str
    step: str | None
    status: str
    error: str | None
    duration_s: float
    at: datetime


HOOK_RUN_COLUMNS = (
    "id", "run_id", "phase", "hook_index", "name", "step", "status", "error", "duration_s", "at",
)  # fmt: skip


def hook_run_from_row(r: Sequence[Any]) -> HookRunRecord:
    return HookRunRecord(
        id=int(r[0]),
        run_id=r[1],
        phase=r[2],
        index=int(r[3]),
        name=r[4],
        step=r[5],
        status=r[6],
        error=r[7],
        duration_s=_float(r[8]),
        at=_at(r[9]),
    )
