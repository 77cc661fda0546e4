"""The event sink that records runs, materializations and check results."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from orch import redaction
from orch.events import (
    CheckEvaluated,
    Event,
    OpStepFailed,
    OpStepSkipped,
    OpStepSucceeded,
    RunFinished,
    RunStarted,
    StepFailed,
    StepMaterialized,
)
from orch.state.base import StateStore

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- event sink


class StateRecorder:
    """An EventSink that writes runs, materializations and check results into a StateStore.

    ``StepMaterialized`` is emitted after the data committed, so recording it here keeps the
    ordering contract. Text and data from the run (metadata, errors, check samples and messages)
    are scrubbed of env_var() secrets before they are stored, and their placeholders made inert
    (:func:`orch.redaction.inert`: a store writing them as SQL literals must not have them
    bound). Errors from the store propagate to the emitter.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store

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
        elif isinstance(event, RunFinished):
            self.store.finish_run(
                event.run_id, event.status, finished_at=event.at, counts=event.counts
            )
        elif isinstance(event, StepMaterialized):
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
            self.store.record_op_step(
                run_id=event.run_id, job=event.job, step_key=event.step_key, op=event.op,
                status="success", attempts=event.attempts, started_at=event.started_at,
                finished_at=event.at, outputs=redaction.stored(event.outputs),
                metadata=redaction.stored(event.metadata),
                attempt_errors=redaction.stored(event.attempt_errors),
                reused_from=event.reused_from,
            )  # fmt: skip
        elif isinstance(event, OpStepFailed):
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
        elif isinstance(event, CheckEvaluated):
            self.store.record_check(
                run_id=event.run_id,
                check=event.check,
                asset=event.asset,
                partition_key=event.partition,
                status=event.status,
                severity=event.severity,
                failing_rows=event.failing_rows,
                sample=redaction.stored(event.sample),
                duration_s=event.duration_s,
                sql=redaction.stored(event.sql),
                message=redaction.stored(event.message),
                at=event.at,
            )
