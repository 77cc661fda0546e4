"""A run whose process was killed: readers show it interrupted, the next build records it so."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from orch.state import SQLiteStateStore, state_path

from tests.execution.test_exec_processes import FILES, started

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def stored_runs(project: Path) -> dict[str, tuple[str, str | None]]:
    """run_id -> (status, finished_at) as the rows are, bypassing the store's readers."""
    con = sqlite3.connect(state_path(project))
    try:
        rows = con.execute("select run_id, status, finished_at from runs").fetchall()
    finally:
        con.close()
    return {run_id: (status, finished) for run_id, status, finished in rows}


def site_runs(project: Path) -> list[dict]:
    """The run list of the generated site's overview (``target/docs/data.js``)."""
    text = (project / "target" / "docs" / "data.js").read_text(encoding="utf-8")
    return json.loads(text[len("window.ORCH_DOCS=") : -2])["overview"]["runs"]


def kill_mid_build(project: Path, spawn, waiter) -> int:  # noqa: ANN001
    proc = spawn(project, "build", "--threads", "1")
    waiter(lambda: started(project, "z_slow"), what="z_slow to start")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    return proc.pid


def test_killed_build_is_interrupted_in_status_the_site_and_the_next_build(
    make_project, orch, spawn, waiter, state, tmp_path
):
    project = make_project(tmp_path, FILES)
    pid = kill_mid_build(project, spawn, waiter)
    ((killed, (stored, _)),) = stored_runs(project).items()
    assert stored == "running"  # nobody could record the end

    with state(project) as st:
        (run,) = st.recent_runs()
        assert (run.run_id, run.status, run.pid) == (killed, "interrupted", pid)
        assert st.get_run(killed).status == "interrupted"
        assert run.finished_at is None  # when it died is not known
    status = orch("status", "--project-dir", project)
    assert status.exit_code == 0, status.output
    assert "running" not in status.output
    docs = orch("docs", "generate", "--project-dir", project)
    assert docs.exit_code == 0, docs.output
    (shown,) = site_runs(project)
    assert (shown["run"], shown["status"], shown["duration"]) == (killed, "interrupted", None)

    (project / "models" / "z_slow.sql").write_text("select 7 as n")
    assert orch("build", "--project-dir", project, "-s", "a_fast").exit_code == 0
    runs = stored_runs(project)
    assert runs[killed][0] == "interrupted" and runs[killed][1] is not None  # written once
    assert sorted(status for status, _ in runs.values()) == ["interrupted", "success"]
    assert orch("docs", "generate", "--project-dir", project).exit_code == 0
    assert [r["status"] for r in site_runs(project)] == ["success", "interrupted"]


def test_orphan_of_a_freed_lock_is_recorded_by_the_next_build(
    make_project, orch, spawn, waiter, state, tmp_path
):
    """The lock was removed by hand (the hint of a held lock): the run row alone tells."""
    project = make_project(tmp_path, FILES)
    kill_mid_build(project, spawn, waiter)
    with SQLiteStateStore.for_project(project) as st:
        assert st.break_lock("dev") is not None
    ((killed, _),) = stored_runs(project).items()
    with state(project) as st:
        assert st.get_run(killed).status == "interrupted"

    assert orch("run", "--project-dir", project, "-s", "a_fast").exit_code == 0
    assert stored_runs(project)[killed][0] == "interrupted"
