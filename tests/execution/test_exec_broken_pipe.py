"""`orch build | head -1`: the reader closes stdout early; the run finishes and is recorded."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORCH_MAIN
from orch.events import RunFinished, RunStarted
from orch.run.reporting import ConsoleReporter, JsonLinesReporter, PipeSafeStream

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")

# a_first is built, then b_slow keeps DuckDB busy for a second or so: head has long exited
# when its line and the summary are written, so those writes meet a closed pipe.
FILES = {
    "models/a_first.sql": "{{ config(materialized='table') }}\nselect 1 as id",
    "models/b_slow.sql": (
        "{{ config(materialized='table') }}\n"
        "select count(*) as n from range(400000000) t(x), a_first where x % 7 = 3"
    ),
    "models/c_last.sql": "{{ config(materialized='view') }}\nselect n + 1 as n from b_slow",
}


def piped_into_head(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``orch ARGS | head -1`` in a shell; the return code is orch's (bash PIPESTATUS)."""
    script = '"$0" -c "$1" "${@:2}" | head -1; exit "${PIPESTATUS[0]}"'
    return subprocess.run(
        ["bash", "-c", script, sys.executable, ORCH_MAIN, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("log_format", ["text", "json"], ids=["console", "json-lines"])
def test_build_piped_into_head_finishes_and_records_its_run(
    make_project, warehouse, state, tmp_path, log_format
):
    project = make_project(tmp_path, FILES)
    done = piped_into_head(project, "build", "--threads", "1", "--log-format", log_format)
    assert done.returncode == 0, done.stderr  # as if the output had been read
    assert done.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"
    first = done.stdout.splitlines()
    assert len(first) == 1
    if log_format == "text":
        assert first[0] == "orch build on target dev: 3 steps"
    else:
        assert '"event": "RunStarted"' in first[0]
    with state(project) as st:
        (run,) = st.recent_runs()
        assert run.status == "success" and run.finished_at is not None
        assert run.counts == {"success": 3}
        assert st.lock_holder("dev") is None
    assert warehouse(project).rows("select n from analytics.c_last") == [(57142858,)]


class ClosedPipe(io.StringIO):
    """A stream whose reader has gone: every write fails as a closed pipe does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_console_sinks_drop_output_once_the_pipe_is_closed() -> None:
    stream = ClosedPipe()
    console, lines = ConsoleReporter(stream=stream), JsonLinesReporter(PipeSafeStream(stream))
    started = RunStarted("r1", "build", "dev", "", 0)
    for sink in (console, lines):
        sink.emit(started)  # no BrokenPipeError, no SystemExit (rich's own reaction)
        sink.emit(RunFinished("r1", "success", 0.1, {}))
    assert console.console.file.reader_gone and lines.stream.reader_gone


def test_other_stream_errors_still_raise() -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        PipeSafeStream(Full()).write("x")
