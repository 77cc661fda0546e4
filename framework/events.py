"""Typed events: past-tense facts emitted by the loader, planner and executor.

Sinks (console, JSON lines, run_results.json, the state store) subscribe through :class:`EventSink`.
"""

from __future__ import annotations

import dataclasses
import threading
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
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return data


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
    """An on-run-start/on-run-end hook ran: status success or error."""

    phase: str  # on-run-start, on-run-end
    index: int  # 0-based, in the project file's order
    origin: str
    status: str
    duration_s: float
    message: str = ""


@dataclass(frozen=True)
class LogEmitted(Event):
    """A line logged by a user's Python asset or check through ``context.log``."""

    asset: str | None
    level: str
    message: str


class EventSink(Protocol):
    """Anything that receives events. Must be thread-safe: steps emit from worker threads."""

    def emit(self, event: Event) -> None:
        """Receive one event."""


class FanOut:
    """Sends each event to several sinks, one at a time (serialized by a lock)."""

    def __init__(self, sinks: list[EventSink] | None = None) -> None:
        self.sinks: list[EventSink] = list(sinks or [])
        self._lock = threading.Lock()

    def add(self, sink: EventSink) -> None:
        """Subscribe another sink."""
        self.sinks.append(sink)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every sink."""
        with self._lock:
            for sink in self.sinks:
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
