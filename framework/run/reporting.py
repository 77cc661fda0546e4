"""Event sinks for people and machines: live console, plain lines, JSON lines, run_results.json.

The sinks that write to stdout write through :class:`PipeSafeStream`: when the reader goes away
(``orch build | head -1``) the rest of the output is dropped and the run goes on, so it finishes
and is recorded with its real outcome instead of dying on the first write after the pipe closed.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from orch import redaction
from orch.errors import OrchError
from orch.events import (
    CheckEvaluated,
    Event,
    HookRan,
    LogEmitted,
    OpStepFailed,
    OpStepRetried,
    OpStepSkipped,
    OpStepStarted,
    OpStepSucceeded,
    RunFinished,
    RunStarted,
    StepFailed,
    StepMaterialized,
    StepSkipped,
    StepStarted,
)
from orch.manifest import CheckNode, Manifest
from orch.selection import Selection, unmatched_message

log = logging.getLogger(__name__)

MODEL_HOOK_PHASES = ("pre-hook", "post-hook")  # HookRan of a model's own SQL hooks

STATUS_STYLE = {"success": "green", "failed": "red", "skipped": "yellow", "interrupted": "red"}


class PipeSafeStream:
    """A text stream that drops what is written once its reader has closed the pipe.

    The first write or flush that fails with a broken pipe (EPIPE) marks the stream closed; from
    then on writes are dropped quietly. As Python's docs advise (``signal``: "Note on SIGPIPE"),
    the file descriptor is pointed at ``os.devnull`` so that the interpreter's final flush of what
    is still buffered does not fail either. Everything else is the wrapped stream's.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.reader_gone = False

    @classmethod
    def wrap(cls, stream: IO[str] | PipeSafeStream) -> PipeSafeStream:
        """``stream`` guarded (itself when it already is)."""
        return stream if isinstance(stream, PipeSafeStream) else cls(stream)

    def write(self, text: str) -> int:
        """Write ``text``, or drop it once the reader is gone."""
        if not self.reader_gone:
            try:
                return self.stream.write(text)
            except OSError as err:
                self._closed_by_reader(err)
        return len(text)

    def flush(self) -> None:
        """Flush, unless the reader is gone."""
        if not self.reader_gone:
            try:
                self.stream.flush()
            except OSError as err:
                self._closed_by_reader(err)

    def writelines(self, lines: Any) -> None:
        """Write each line."""
        for line in lines:
            self.write(line)

    def isatty(self) -> bool:
        """False once the reader is gone, else the wrapped stream's answer."""
        return not self.reader_gone and self.stream.isatty()

    def _closed_by_reader(self, err: OSError) -> None:
        if not isinstance(err, BrokenPipeError) and err.errno != errno.EPIPE:
            raise err
        self.reader_gone = True
        log.debug("the reader of %s closed it: dropping further output", self.stream)
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError, AttributeError):  # not a file (StringIO, a test's buffer)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_standard_streams() -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in :class:`PipeSafeStream` (idempotent).

    For the command line: ``orch ... | head`` then exits as if its output had been read.
    """
    if sys.stdout is not None:  # None without a console (pythonw)
        sys.stdout = PipeSafeStream.wrap(sys.stdout)  # type: ignore[assignment]
    if sys.stderr is not None:
        sys.stderr = PipeSafeStream.wrap(sys.stderr)  # type: ignore[assignment]


class JsonLinesReporter:
    """One JSON object per event, for machines (``--log-format json``)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream: IO[str] | PipeSafeStream = stream or PipeSafeStream.wrap(sys.stdout)
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Write the event as one line."""
        self.emit_many([event])

    def emit_many(self, events: Sequence[Event]) -> None:
        """Write the events as lines, flushed once (a run's 1,000 queued steps: one write)."""
        text = "".join(
            redaction.scrub(json.dumps(event.to_dict(), default=str)) + "\n" for event in events
        )
        with self._lock:
            self.stream.write(text)
            self.stream.flush()


def run_results_of(fan: Any) -> Callable[[], list[dict[str, Any]]] | None:
    """The results so far of the run whose events ``fan`` carries (its RunResultsWriter's), as
    ``run_results.json`` lists them; None when nothing collects them."""
    writer = next((s for s in getattr(fan, "sinks", []) if isinstance(s, RunResultsWriter)), None)
    if writer is None:
        return None

    def results() -> list[dict[str, Any]]:
        with writer._lock:
            return [dict(r) for r in writer.results]

    return results


class RunResultsWriter:
    """Collects step results and writes ``target/run_results.json`` (dbt-like) at the end."""

    ignores = frozenset({"StepQueued", "StepStarted"})  # not results: never handed to it

    def __init__(self, path: Path, manifest: Manifest, args: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self.args = args
        self.results: list[dict[str, Any]] = []
        self.started: RunStarted | None = None
        self._lock = threading.Lock()

    def _unique_id(self, asset: str) -> str:
        node = self.manifest.nodes.get(asset)
        return node.unique_id if node else asset

    def emit(self, event: Event) -> None:
        """Record results; write the file when the run finishes."""
        with self._lock:
            if isinstance(event, RunStarted):
                self.started = event
            elif isinstance(event, StepMaterialized):
                self.results.append(
                    self._result(event.asset, event.partition, "success", event.duration_s,
                                 rows=event.rows, message=None)
                )  # fmt: skip
            elif isinstance(event, StepFailed):
                self.results.append(
                    self._result(event.asset, event.partition, "error", event.duration_s,
                                 message=event.error)
                )  # fmt: skip
            elif isinstance(event, StepSkipped):
                self.results.append(
                    self._result(event.asset, event.partition, "skipped", 0.0, message=event.reason)
                )
            elif isinstance(event, CheckEvaluated):
                check = self.manifest.checks.get(event.check)
                self.results.append(
                    {
                        "unique_id": check.unique_id if check else event.check,
                        "status": event.status,
                        "partition": event.partition,
                        "execution_time": round(event.duration_s, 4),
                        "failures": event.failing_rows,
                        "message": event.message or _test_message(check, event) or None,
                        "adapter_response": {},
                        "relation_name": None,
                    }
                )
            elif isinstance(event, HookRan) and event.phase not in MODEL_HOOK_PHASES:
                # dbt's operation results (a model's own hooks are part of its node's result)
                project = self.manifest.project.name
                self.results.append(
                    {
                        "unique_id": f"operation.{project}.{project}-{event.phase}-{event.index}",
                        "status": "success" if event.status == "success" else "error",
                        "partition": None,
                        "execution_time": round(event.duration_s, 4),
                        "message": event.message or None,
                        "adapter_response": {},
                        "relation_name": None,
                    }
                )
            elif isinstance(event, RunFinished):
                self._write(event)

    def _result(
        self,
        asset: str,
        partition: str | None,
        status: str,
        duration: float,
        *,
        rows: int | None = None,
        message: str | None,
    ) -> dict[str, Any]:
        node = self.manifest.nodes.get(asset)
        return {
            "unique_id": self._unique_id(asset),
            "status": status,
            "partition": partition,
            "execution_time": round(duration, 4),
            "rows_affected": rows,
            "message": message,
            "adapter_response": {"rows_affected": rows} if rows is not None else {},
            "relation_name": str(node.relation.to_relation()) if node and node.relation else None,
        }

    def _write(self, finished: RunFinished) -> None:
        if self.args.get("command") == "build":  # dbt build lists exposures and saved
            project = self.manifest.project.name  # queries as no-ops (nothing is built)
            saved = self.manifest.semantic_layer.get("saved_queries", {})
            for kind, names in (("exposure", self.manifest.exposures), ("saved_query", saved)):
                for name in names:
                    self.results.append(
                        {"unique_id": f"{kind}.{project}.{name}", "status": "no-op",
                         "partition": None, "execution_time": 0.0,
                         "message": "NO-OP" if kind == "saved_query" else None,
                         "adapter_response": {}, "relation_name": None}
                    )  # fmt: skip
        for result in self.results:  # the fields dbt's RunResultOutput requires
            result.setdefault("timing", [])
            result.setdefault("thread_id", "Thread-1")
            result.setdefault("failures", None)
            result.setdefault("compiled", None)
            result.setdefault("compiled_code", None)
        data = {
            "metadata": {
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                "orch_schema_version": "orch/run-results/v1",
                "dbt_version": "1.11.0",  # the dbt-core whose schema this follows
                "generated_at": finished.at.isoformat(),
                "invocation_id": finished.run_id,
                "env": {},
            },
            "results": self.results,
            "elapsed_time": round(finished.duration_s, 4),
            "status": finished.status,
            "args": self.args,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(redaction.scrub(json.dumps(data, indent=1, default=str)), encoding="utf-8")
        tmp.replace(self.path)


def _test_message(check: CheckNode | None, event: CheckEvaluated) -> str | None:
    """dbt's message for a test that failed or warned: ``Got 2 results, configured to fail if
    != 0`` (dbt's TestRunner); None otherwise."""
    if check is None or check.kind not in ("builtin", "generic", "singular"):
        return None
    got = f"Got {event.failing_rows} result{'' if event.failing_rows == 1 else 's'}"
    if event.status == "fail":
        threshold = check.dbt_threshold("error_if" if check.severity == "error" else "warn_if")
        return f"{got}, configured to fail if {threshold}"
    if event.status == "warn":
        return f"{got}, configured to warn if {check.dbt_threshold('warn_if')}"
    return None


def printable(text: str) -> str:
    """``text`` with its control characters shown as ``\\x1b`` (they never drive the terminal)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def plain(text: str) -> str:
    """Project text (asset names, partition keys, log messages) for a rich console, as it is.

    ``[eu]`` in a step id is not a style tag and an escape sequence in a log message does not
    drive the terminal: markup is escaped and control characters are shown as ``\\x1b``.
    """
    from rich.markup import escape  # rich is loaded by the console already; not at CLI start

    return escape(printable(text))


class ConsoleReporter:
    """Human output: a live progress display on a terminal, plain lines otherwise."""

    def __init__(self, *, live: bool | None = None, stream: IO[str] | None = None) -> None:
        from rich.console import Console

        out = PipeSafeStream.wrap(stream or sys.stdout)
        # emoji=False: a name such as "a:smile:b" is printed as written
        self.console = Console(
            file=out,  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            emoji=False,
        )
        self.live = self.console.is_terminal if live is None else live
        # Without styles (a pipe, a file, NO_COLOR) and without the live display, a step's or a
        # check's line is written as its plain text: the text rich would write, without rich's
        # markup parsing and rendering (~0.3 ms a line, a third of a build's event cost).
        self.unstyled = not self.live and self.console.color_system is None
        self.total = 0
        self.done = 0
        self.running: dict[str, float] = {}
        self.finished: list[tuple[str, str, float, int | None]] = []
        self.failures: list[StepFailed] = []
        self.check_failures: list[CheckEvaluated] = []
        self.skipped: list[StepSkipped] = []
        self.checks: dict[str, int] = {}
        self._lock = threading.Lock()
        self._progress: Any = None
        self._task: Any = None
        self._started = time.perf_counter()

    # ------------------------------------------------------------------ events

    def emit(self, event: Event) -> None:
        """Update the display."""
        with self._lock:
            handler: Callable[[Any], None] | None = getattr(self, f"_on_{event.kind}", None)
            if handler is not None:
                handler(event)

    def _on_RunStarted(self, e: RunStarted) -> None:  # noqa: N802
        self.total = e.step_count
        self._started = time.perf_counter()
        self.console.print(
            f"[bold]orch {e.command}[/] on target [cyan]{plain(e.target)}[/]: {e.step_count} steps"
            + (f" (selection: {plain(e.selection)})" if e.selection else "")
        )
        self._report_unmatched(e)
        if self.live and e.step_count:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._task = self._progress.add_task("building", total=e.step_count)
            self._progress.start()

    def _report_unmatched(self, e: RunStarted) -> None:
        """Say which ``-s`` criteria matched nothing (``-s tag:nonexistent``: nothing to do)."""
        select, exclude = e.args.get("select") or (), e.args.get("exclude") or ()
        if not select:
            return
        try:
            unmatched = Selection.parse(select, exclude).unmatched()
        except OrchError:  # the run parsed it already; a display never fails a run
            return
        line = unmatched_message(unmatched, nothing_selected=e.step_count == 0)
        if line:
            self.console.print(line, markup=False, highlight=False)

    def _tick(self, label: str) -> None:
        self.done += 1
        self.total = max(self.total, self.done)  # a dynamic fan-out adds steps as it runs
        if self._progress is not None:
            names = ", ".join(list(self.running)[:3])
            self._progress.update(self._task, advance=1, description=plain(names or label))

    def _on_StepStarted(self, e: StepStarted) -> None:  # noqa: N802
        self.running[e.step_id] = time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, description=plain(", ".join(list(self.running)[:3])))

    def _line(self, status: str, style: str, text: str) -> None:
        """A step's line: its place in the run, its status, then project ``text`` as it is."""
        self._status_line(f"{self.done:>{len(str(self.total))}}/{self.total} ", status, style, text)

    def _status_line(self, prefix: str, status: str, style: str, text: str) -> None:
        """``prefix``, the status in its style, then project ``text`` (printed as it is)."""
        if self.unstyled:
            self.console.file.write(f"{prefix}{status:<7} {printable(text)}\n")
            self.console.file.flush()
        else:
            self.console.print(f"{prefix}[{style}]{status:<7}[/] {plain(text)}")

    def _on_StepMaterialized(self, e: StepMaterialized) -> None:  # noqa: N802
        self.running.pop(e.step_id, None)
        self.finished.append((e.step_id, e.materialized, e.duration_s, e.rows))
        self._tick(e.step_id)
        rows = f", {e.rows:,} rows" if e.rows is not None else ""
        text = f"{e.step_id} ({e.materialized}{rows}) in {e.duration_s:.2f}s"
        self._line("OK", "green", text)

    def _on_StepFailed(self, e: StepFailed) -> None:  # noqa: N802
        self.running.pop(e.step_id, None)
        self.failures.append(e)
        self._tick(e.step_id)
        self._line("ERROR", "red", f"{e.step_id} in {e.duration_s:.2f}s")

    def _on_StepSkipped(self, e: StepSkipped) -> None:  # noqa: N802
        self.skipped.append(e)
        self._tick(e.step_id)
        self._line("SKIP", "yellow", f"{e.step_id}: {e.reason}")

    def _on_CheckEvaluated(self, e: CheckEvaluated) -> None:  # noqa: N802
        self.checks[e.status] = self.checks.get(e.status, 0) + 1
        if e.status in ("fail", "error", "warn"):
            self.check_failures.append(e)
        style = {"pass": "green", "warn": "yellow"}.get(e.status, "red")
        where = f"[{e.partition}]" if e.partition else ""
        rows = f" ({e.failing_rows} failing rows)" if e.failing_rows else ""
        pad = " " * (len(str(self.total)) * 2 + 1)
        self._status_line(f"{pad} ", e.status.upper(), style, f"check {e.check}{where}{rows}")

    # op steps (orch job run of an op job): the same lines, the same summary

    def _on_OpStepStarted(self, e: OpStepStarted) -> None:  # noqa: N802
        if e.attempt == 1:
            self.running[e.step_key] = time.perf_counter()
            if self._progress is not None:
                names = ", ".join(list(self.running)[:3])
                self._progress.update(self._task, description=plain(names))

    def _on_OpStepRetried(self, e: OpStepRetried) -> None:  # noqa: N802
        pad = " " * (len(str(self.total)) * 2 + 1)
        text = f"{e.step_key} attempt {e.attempt} failed ({e.error}); retrying in {e.delay_s:g}s"
        self.console.print(f"{pad} [yellow]RETRY  [/] {plain(redaction.scrub(text))}")

    def _on_OpStepSucceeded(self, e: OpStepSucceeded) -> None:  # noqa: N802
        self.running.pop(e.step_key, None)
        self._tick(e.step_key)
        if e.reused_from:
            self._line("REUSED", "cyan", f"{e.step_key} (outputs of run {e.reused_from[:8]})")
            return
        self.finished.append((e.step_key, "op", e.duration_s, None))
        outputs = ", ".join(
            f"{name}: {info.get('type', '?')}" + (f" {info['size']}" if info.get("size") else "")
            for name, info in e.outputs.items()
        )
        tries = f", {e.attempts} attempts" if e.attempts > 1 else ""
        text = f"{e.step_key} ({outputs or 'no output'}{tries}) in {e.duration_s:.2f}s"
        self._line("OK", "green", text)

    def _on_OpStepFailed(self, e: OpStepFailed) -> None:  # noqa: N802
        self.running.pop(e.step_key, None)
        self.failures.append(
            StepFailed(e.run_id, e.step_key, e.step_key, None, e.error, e.duration_s, path=e.path)
        )
        self._tick(e.step_key)
        tries = f" after {e.attempts} attempts" if e.attempts > 1 else ""
        status = "STOPPED" if e.status == "interrupted" else "ERROR"
        self._line(status, "red", f"{e.step_key}{tries} in {e.duration_s:.2f}s")

    def _on_OpStepSkipped(self, e: OpStepSkipped) -> None:  # noqa: N802
        self._tick(e.step_key)
        self._line("SKIP", "yellow", f"{e.step_key}: {e.reason}")

    def _on_HookRan(self, e: HookRan) -> None:  # noqa: N802
        ok = e.status == "success"
        if e.phase in MODEL_HOOK_PHASES:  # a failing one fails its step, which says so
            return
        what = f"{e.phase} hook {e.index + 1} ({e.origin})"
        text = f"{what}: OK" if ok else f"{what} failed: {redaction.scrub(e.message)}"
        pad = " " * (len(str(self.total)) * 2 + 1)
        status = f"[{'green' if ok else 'red'}]{'HOOK' if ok else 'ERROR':<7}[/]"
        self.console.print(f"{pad} {status} {plain(text)}")

    def _on_LogEmitted(self, e: LogEmitted) -> None:  # noqa: N802
        message = redaction.scrub(e.message)
        self.console.print(f"  [dim]{plain(f'{e.asset or chr(32)} {e.level}: {message}')}[/]")

    def _on_RunFinished(self, e: RunFinished) -> None:  # noqa: N802
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._summary(e)

    # ------------------------------------------------------------------ summary

    def _summary(self, e: RunFinished) -> None:
        from rich.table import Table

        if self.finished:
            slowest = sorted(self.finished, key=lambda f: -f[2])[:5]
            table = Table(title="Slowest steps", title_justify="left", box=None)
            table.add_column("step")
            table.add_column("materialized")
            table.add_column("seconds", justify="right")
            table.add_column("rows", justify="right")
            for sid, mat, dur, rows in slowest:
                table.add_row(plain(sid), mat, f"{dur:.2f}", "" if rows is None else f"{rows:,}")
            self.console.print(table)
        for failure in self.failures:
            where = f" ({failure.path})" if failure.path else ""
            self.console.print(f"\n[red bold]Failed:[/] {plain(f'{failure.step_id}{where}')}")
            self.console.print(redaction.scrub(failure.error), markup=False)
            if failure.sql_line:
                self.console.print(
                    f"  compiled SQL line {failure.sql_line}: {failure.sql_excerpt or ''}",
                    markup=False,
                )
        for check in self.check_failures:
            self.console.print(
                f"\n[{'yellow' if check.status == 'warn' else 'red'} bold]Check {check.status}:[/] "
                + plain(
                    f"{check.check} on {check.asset or '-'}"
                    + (f"[{check.partition}]" if check.partition else "")
                    + f": {check.failing_rows} failing rows"
                )
            )
            if check.message:
                self.console.print(f"  {check.message}", markup=False)
            for row in check.sample[:5]:
                self.console.print(f"  {json.dumps(row, default=str)}", markup=False)
            if check.sql:
                self.console.print("  reproduce with:", markup=False)
                self.console.print("  " + check.sql.replace("\n", "\n  "), markup=False)
        counts = ", ".join(f"{v} {k}" for k, v in sorted(e.counts.items())) or "nothing to do"
        checks = ", ".join(f"{v} {k}" for k, v in sorted(self.checks.items()))
        style = STATUS_STYLE.get(e.status, "white")
        self.console.print(
            f"\n[{style} bold]{e.status.upper()}[/] in {e.duration_s:.2f}s: {counts}"
            + (f"; checks: {checks}" if checks else "")
        )
