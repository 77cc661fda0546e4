"""Runs launched from ``orch ui``: each in its own worker process, its events kept for the page.

A launch first asks the state store who holds the target's run lock: a live holder (a CLI build,
the daemon, another launch) refuses the launch with its name, before anything starts. The worker
(:mod:`orch.ui.worker`) then takes the same lock as the command line, so a launch racing a CLI
build is refused by the lock itself (its ``LaunchFailed`` line names the holder). Events arrive
as JSON lines on the worker's stdout and are kept in memory, in order, for the run page and its
server-sent event stream. Cancelling sends SIGTERM: the worker interrupts the running statements
and records the run as ``interrupted``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from orch import redaction
from orch.errors import LockHeldError, SelectionError
from orch.state import StateReader
from orch.state.records import LOCK_STALE_AFTER_S, lock_held_error, lock_is_stale

KINDS = ("build", "backfill", "job", "retry")
MAX_EVENTS = 200_000  # per run: a 1,000-step run with logs stays far below


@dataclass
class LiveRun:
    """A run launched from the page: its worker process and the events it wrote so far."""

    run_id: str
    kind: str
    label: str
    spec: dict[str, Any]
    process: subprocess.Popen[str]
    started_at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    cancelled: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def finished(self) -> bool:
        """The worker has exited and every line it wrote was read."""
        return self.exit_code is not None

    def since(self, index: int) -> list[dict[str, Any]]:
        """The events after the first ``index``."""
        with self.changed:
            return self.events[index:]

    def summary(self) -> dict[str, Any]:
        """What the run list shows of a run still held in memory."""
        return {
            "run": self.run_id,
            "kind": self.kind,
            "label": self.label,
            "started": self.started_at.isoformat(timespec="seconds"),
            "finished": self.finished,
            "exit_code": self.exit_code,
            "cancelled": self.cancelled,
            "events": len(self.events),
        }


StateOpener = Callable[[], StateReader]


class RunManager:
    """Starts worker processes for launches, reads their events, cancels them."""

    def __init__(self, base_spec: dict[str, Any], target: str, open_reader: StateOpener) -> None:
        self.base_spec = base_spec  # project_dir, profiles_dir, target
        self.target = target
        self.open_reader = open_reader
        self.runs: dict[str, LiveRun] = {}
        self._lock = threading.Lock()
        self.on_finish: list[Callable[[LiveRun], None]] = []

    def get(self, run_id: str) -> LiveRun | None:
        """A run launched by this server."""
        return self.runs.get(run_id)

    def active(self) -> LiveRun | None:
        """The launched run still running, if any."""
        return next((r for r in self.runs.values() if not r.finished), None)

    def check_lock(self) -> None:
        """Raise :class:`LockHeldError` naming the holder when the target's lock is held."""
        running = self.active()
        if running is not None:
            raise LockHeldError(
                f"target '{self.target}' is busy: run {running.run_id} ({running.label}) "
                "launched from this page is still running",
                hint="Wait for it to finish or cancel it",
            )
        with self.open_reader() as reader:
            info = reader.lock_holder(self.target)
        if info is None:
            return
        now = datetime.now(timezone.utc)
        if lock_is_stale(info, now=now, stale_after=LOCK_STALE_AFTER_S) is None:
            raise lock_held_error(info, how_to_clear="'orch unlock' releases the lock")

    def launch(self, kind: str, label: str, fields: dict[str, Any]) -> LiveRun:
        """Start a worker for ``kind`` (build, job, retry); raise a UserError when refused."""
        if kind not in KINDS:
            raise SelectionError(f"unknown launch kind '{kind}'", hint=f"One of {', '.join(KINDS)}")
        with self._lock:
            self.check_lock()
            run_id = uuid.uuid4().hex
            spec = {**self.base_spec, **fields, "kind": kind, "run_id": run_id}
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen(
                [sys.executable, "-m", "orch.ui.worker", json.dumps(spec, default=str)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
                cwd=str(self.base_spec["project_dir"]),
                env=env,
            )
            run = LiveRun(run_id, kind, label, spec, process, datetime.now(timezone.utc))
            self.runs[run_id] = run
        threading.Thread(target=self._read, args=(run,), daemon=True, name="orch-ui-run").start()
        return run

    def _read(self, run: LiveRun) -> None:
        assert run.process.stdout is not None
        for line in run.process.stdout:
            text = line.rstrip("\n")
            if not text:
                continue
            try:
                event = json.loads(text)
                if not isinstance(event, dict):
                    raise ValueError
            except ValueError:
                event = {"event": "Console", "message": redaction.scrub(text)}
            event.setdefault("t", time.time())
            with run.changed:
                if len(run.events) < MAX_EVENTS:
                    run.events.append(event)
                run.changed.notify_all()
        code = run.process.wait()
        with run.changed:
            run.exit_code = code
            run.events.append({"event": "WorkerExited", "exit_code": code})
            run.changed.notify_all()
        for callback in self.on_finish:
            callback(run)

    def cancel(self, run_id: str) -> LiveRun:
        """Interrupt a running launch (SIGTERM: recorded as interrupted)."""
        run = self.runs.get(run_id)
        if run is None:
            raise SelectionError(f"run {run_id} was not launched from this page, or has ended")
        if not run.finished:
            run.cancelled = True
            run.process.send_signal(signal.SIGTERM)
        return run

    def close(self) -> None:
        """Stop runs still going when the server stops (they are recorded as interrupted)."""
        for run in self.runs.values():
            if not run.finished:
                run.process.send_signal(signal.SIGTERM)
        for run in self.runs.values():
            try:
                run.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.process.kill()
