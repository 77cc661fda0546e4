"""The event sink that records runs, materializations and check results."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from orch import redaction
from orch.events import (
    CheckEvaluated,
    Event,
    HookRan,
    OpStepFailed,
    OpStepSkipped,
    OpStepSucceeded,
    RunFinished,
    RunStarted,
    StepFailed,
    StepMaterialized,
)
from orch.state.base import StateStore
from orch.state.records import CodeVersion, GitState

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- event sink


class StateRecorder:
    """An EventSink that writes runs, materializations and check results into a StateStore.

    ``StepMaterialized`` is emitted after the data committed, so recording it here keeps the
    ordering contract. Text and data from the run (metadata, errors, check samples and messages)
    are scrubbed of env_var() secrets before they are stored, and their placeholders made inert
    (:func:`orch.redaction.inert`: a store writing them as SQL literals must not have them
    bound). Errors from the store propagate to the emitter.

    Code provenance: with ``code_of`` (asset name -> the code that builds it now) each success
    stores its code once per fingerprint, and with ``git`` the run's git state is recorded when it
    starts; with ``op_code_of`` (op name -> its code) each op step that ran records its op's code
    (once per fingerprint) and which one it ran. Hook outcomes (``HookRan``) are recorded with
    their step.
    """

    # kinds it never records: not handed to it (orch.events.FanOut), so they never wait on a commit
    ignores = frozenset({"StepQueued", "StepStarted"})

    def __init__(
        self,
        store: StateStore,
        *,
        code_of: Callable[[str], CodeVersion | None] | None = None,
        git: GitState | None = None,
        op_code_of: Callable[[str], CodeVersion | None] | None = None,
    ) -> None:
        self.store = store
        self.code_of = code_of
        self.op_code_of = op_code_of
        self.git = git
        self._stored_code: set[str] = set()

    def _record_code(self, asset: str, fingerprint: str) -> None:
        if self.code_of is None or not fingerprint or fingerprint in self._stored_code:
            return
        version = self.code_of(asset)
        if version is not None and version.fingerprint == fingerprint:
            self.store.record_code(
                CodeVersion(fingerprint, version.kind, version.module,
                            redaction.stored(version.code))
            )  # fmt: skip
        self._stored_code.add(fingerprint)

    def _record_op_code(self, run_id: str, step_key: str, op: str) -> None:
        """Store the op's code once per fingerprint, and which one this op step ran."""
        version = self.op_code_of(op) if self.op_code_of is not None else None
        if version is None:
            return
        if version.fingerprint not in self._stored_code:
            self.store.record_code(version)
            self._stored_code.add(version.fingerprint)
        self.store.record_op_code(run_id, step_key, version.fingerprint)

    def emit(self, event: Event) -> None:
        """Record one event; kinds the state does not keep are ignored."""
        if isinstance(event, RunStarted):
            self.store.start_run(
                event.command,
                target=event.target,
                selection=event.selection,
                args=redaction.stored(event.args),
                run_id=event.run_id,
                pid=event.pid or os.getpid(),
                started_at=event.at,
            )
            if self.git is not None:
                self.store.record_git(event.run_id, self.git)
        elif isinstance(event, RunFinished):
            self.store.finish_run(
                event.run_id, event.status, finished_at=event.at, counts=event.counts
            )
        elif isinstance(event, StepMaterialized):
            self._record_code(event.asset, event.fingerprint)
            self.store.record_materialization(
                run_id=event.run_id,
                asset=event.asset,
                partition_key=event.partition,
                status="success",
                started_at=event.started_at,
                finished_at=event.at,
                fingerprint=event.fingerprint,
                materialized=event.materialized,
                rows=event.rows,
                metadata=redaction.stored(event.metadata),
                upstream=event.upstream,
                data_version=event.data_version,
                versions=event.versions,
            )
        elif isinstance(event, StepFailed):
            self.store.record_materialization(
                run_id=event.run_id,
                asset=event.asset,
                partition_key=event.partition,
                status="failed",
                started_at=event.at - timedelta(seconds=event.duration_s),
                finished_at=event.at,
                fingerprint=event.fingerprint,
                error=redaction.stored(event.error),
            )
        elif isinstance(event, OpStepSucceeded):
            if event.reused_from is None:  # a reused step ran no code in this run
                self._record_op_code(event.run_id, event.step_key, event.op)
            self.store.record_op_step(
                run_id=event.run_id, job=event.job, step_key=event.step_key, op=event.op,
                status="success", attempts=event.attempts, started_at=event.started_at,
                finished_at=event.at, outputs=redaction.stored(event.outputs),
                metadata=redaction.stored(event.metadata),
                attempt_errors=redaction.stored(event.attempt_errors),
                reused_from=event.reused_from,
            )  # fmt: skip
        elif isinstance(event, OpStepFailed):
            self._record_op_code(event.run_id, event.step_key, event.op)
            self.store.record_op_step(
                run_id=event.run_id, job=event.job, step_key=event.step_key, op=event.op,
                status=event.status, attempts=event.attempts,
                started_at=event.at - timedelta(seconds=event.duration_s), finished_at=event.at,
                error=redaction.stored(event.error), path=event.path,
                attempt_errors=redaction.stored(event.attempt_errors),
            )  # fmt: skip
        elif isinstance(event, OpStepSkipped):
            self.store.record_op_step(
                run_id=event.run_id, job=event.job, step_key=event.step_key, op=event.op,
                status="skipped", attempts=0, started_at=event.at, finished_at=event.at,
                error=redaction.stored(event.reason),
            )  # fmt: skip
        elif isinstance(event, HookRan):
            self.store.record_hook_run(
                run_id=event.run_id, phase=event.phase, index=event.index,
                name=redaction.stored(event.origin), step=event.step, status=event.status,
                error=redaction.stored(event.message) or None, duration_s=event.duration_s,
                at=event.at,
            )  # fmt: skip
        elif isinstance(event, CheckEvaluated):
            self.store.record_check(**_check_fields(event))

    def emit_many(self, events: Sequence[Event]) -> None:
        """Record several events: check results in one store call (one transaction in SQLite,
        committed before the fan-out shows any of them), the others one by one."""
        pending: list[CheckEvaluated] = []
        for event in [*events, None]:
            if isinstance(event, CheckEvaluated):
                pending.append(event)
                continue
            if len(pending) == 1:
                self.emit(pending[0])
            elif pending:
                self.store.record_checks([_check_fields(e) for e in pending])
            pending = []
            if event is not None:
                self.emit(event)


def _check_fields(event: CheckEvaluated) -> dict[str, Any]:
    """The ``record_check`` arguments of a check result (text and sample made safe to store)."""
    return {
        "run_id": event.run_id, "check": event.check, "asset": event.asset,
        "partition_key": event.partition, "status": event.status, "severity": event.severity,
        "failing_rows": event.failing_rows, "sample": redaction.stored(event.sample),
        "duration_s": event.duration_s, "sql": redaction.stored(event.sql),
        "message": redaction.stored(event.message), "at": event.at,
    }  # fmt: skip
