"""Typed events: past-tense facts emitted by the loader, planner and executor.

Sinks (console, JSON lines, run_results.json, the state store) subscribe through :class:`EventSink`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol


def utcnow() -> datetime:
    """Now, timezone-aware UTC (one clock for all events)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Event:
    """Base of every event."""

    run_id: str
    at: datetime = field(default_factory=utcnow, kw_only=True)

    @property
    def kind(self) -> str:
        """The event's class name, e.g. ``StepStarted``."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with an ``event`` key naming the kind."""
        data = {"event": self.kind}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        return data


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type[Event]) -> tuple[str, ...]:
    """The dataclass fields of an event class, in order (looked up once per class: a build
    writes every event to the JSON log)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True)
class RunStarted(Event):
    """A run began."""

    command: str
    target: str
    selection: str
    step_count: int
    pid: int = 0
    args: dict[str, Any] = field(default_factory=dict)  # the command's options, for the run record


@dataclass(frozen=True)
class RunFinished(Event):
    """A run ended; status is success, failed or interrupted."""

    status: str
    duration_s: float
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StepQueued(Event):
    """A step is waiting for its upstream steps."""

    step_id: str
    asset: str
    partition: str | None


@dataclass(frozen=True)
class StepStarted(Event):
    """A step began executing."""

    step_id: str
    asset: str
    partition: str | None
    materialized: str


@dataclass(frozen=True)
class StepMaterialized(Event):
    """A step's data committed: the state store records it from this event."""

    step_id: str
    asset: str
    partition: str | None
    materialized: str
    fingerprint: str
    rows: int | None
    duration_s: float
    started_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    upstream: list[dict[str, Any]] = field(default_factory=list)  # {asset, partition, run_id}
    data_version: str | None = None  # orch.run.version: what it wrote
    versions: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepFailed(Event):
    """A step failed; ``sql_line`` is the line of the compiled SQL the warehouse named, if any."""

    step_id: str
    asset: str
    partition: str | None
    error: str
    duration_s: float
    path: str | None = None
    sql_line: int | None = None
    sql_excerpt: str | None = None
    fingerprint: str | None = None  # of the model that failed, when known


@dataclass(frozen=True)
class StepSkipped(Event):
    """A step did not run: an upstream failed, a blocking check failed, or it is up to date."""

    step_id: str
    asset: str
    partition: str | None
    reason: str
    cause: str | None = None  # the step or check that caused it


@dataclass(frozen=True)
class CheckEvaluated(Event):
    """A check ran: status is pass, warn, fail or error."""

    check: str
    asset: str | None
    partition: str | None
    status: str
    severity: str
    failing_rows: int
    duration_s: float
    sample: list[dict[str, Any]] = field(default_factory=list)
    sql: str = ""
    blocking: bool = False
    message: str = ""
    stored: str = ""  # the relation holding its failing rows (store_failures), if any


@dataclass(frozen=True)
class HookRan(Event):
    """A hook ran: status success or error. On-run hooks have no ``step``; a model's pre-/post-
    hook and a success/failure hook name the step (asset or op step) they ran around."""

    phase: str  # on-run-start, on-run-end, pre-hook, post-hook, success-hook, failure-hook
    index: int  # 0-based, in the project file's order
    origin: str
    status: str
    duration_s: float
    message: str = ""
    step: str | None = None


@dataclass(frozen=True)
class LogEmitted(Event):
    """A line logged by a user's Python asset or check through ``context.log``."""

    asset: str | None
    level: str
    message: str


@dataclass(frozen=True)
class OpStepStarted(Event):
    """An op step began an attempt (``attempt`` 1 for the first)."""

    step_key: str
    op: str
    job: str
    attempt: int = 1


@dataclass(frozen=True)
class OpStepRetried(Event):
    """An attempt of an op step failed and the retry policy runs it again after ``delay_s``."""

    step_key: str
    op: str
    job: str
    attempt: int
    error: str
    delay_s: float


@dataclass(frozen=True)
class OpStepSucceeded(Event):
    """An op step finished; ``outputs`` describe each stored output (type, size, preview,
    metadata, mapping keys of a dynamic output). ``reused``: taken from an earlier run."""

    step_key: str
    op: str
    job: str
    duration_s: float
    started_at: datetime
    attempts: int = 1
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    attempt_errors: list[str] = field(default_factory=list)
    reused_from: str | None = None


@dataclass(frozen=True)
class OpStepFailed(Event):
    """An op step failed (``status`` failed) or was stopped by Ctrl-C/SIGTERM (interrupted)."""

    step_key: str
    op: str
    job: str
    error: str
    duration_s: float
    attempts: int = 1
    path: str | None = None  # file:line where the error was raised
    attempt_errors: list[str] = field(default_factory=list)
    status: str = "failed"


@dataclass(frozen=True)
class OpStepSkipped(Event):
    """An op step did not run: an upstream failed or did not produce the output it reads."""

    step_key: str
    op: str
    job: str
    reason: str
    cause: str | None = None


class EventSink(Protocol):
    """Anything that receives events. Must be thread-safe: steps emit from worker threads."""

    def emit(self, event: Event) -> None:
        """Receive one event."""


class FanOut:
    """Sends each event to several sinks, in the order they were added.

    Every sink sees the events in one order, and an event reaches a sink only once the sinks
    before it took it (the state recorder, first, commits it before a console shows it). One
    lock per sink, taken hand over hand: while the console prints one event, the state recorder
    already commits the next, instead of every step thread queueing behind one lock for all of
    them (issue 21: that queue held the steps of a 1,000-model build ~1.2 s in all).
    """

    def __init__(self, sinks: list[EventSink] | None = None) -> None:
        self.sinks: list[EventSink] = []
        self._locks: list[threading.Lock] = []
        self._ignores: list[frozenset[str]] = []
        for sink in sinks or []:
            self.add(sink)

    def add(self, sink: EventSink) -> None:
        """Subscribe another sink (before events flow).

        A sink's ``ignores`` (event kinds it never looks at, e.g. the state recorder's
        ``StepStarted``) are not handed to it, so a step starting does not queue behind a commit.
        Only events emitted concurrently can pass each other that way: an event emitted after
        another one's ``emit`` returned still reaches every sink after it.
        """
        self.sinks.append(sink)
        self._locks.append(threading.Lock())
        self._ignores.append(frozenset(getattr(sink, "ignores", ())))

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every sink."""
        self._deliver({event.kind}, lambda sink: sink.emit(event))

    def emit_many(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` to each sink in turn, in order: a sink before the next one (the
        state recorder, first, commits them all before a console shows any)."""
        self._deliver({e.kind for e in events}, lambda sink: emit_all(sink, events))

    def _deliver(self, kinds: set[str], send: Callable[[EventSink], None]) -> None:
        held: threading.Lock | None = None
        try:
            for sink, lock, ignores in zip(self.sinks, self._locks, self._ignores, strict=True):
                if kinds <= ignores:
                    continue
                lock.acquire()  # the next sink's lock before this one's is let go: no overtaking
                if held is not None:
                    held.release()
                held = lock
                send(sink)
        finally:
            if held is not None:
                held.release()


def emit_all(sink: EventSink, events: Sequence[Event]) -> None:
    """``events`` to ``sink``, in order: at once where the sink takes a batch (``emit_many``)."""
    many = getattr(sink, "emit_many", None)
    if many is not None:
        many(events)
        return
    for event in events:
        sink.emit(event)


class EventList:
    """A sink that keeps every event (for tests and run summaries)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Keep ``event``."""
        with self._lock:
            self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        """The kept events of one class."""
        return [e for e in self.events if isinstance(e, kind)]
