"""Faults that need a real second process: SIGKILL, Ctrl-C, concurrent builds, locked files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SLOW_SQL = """\
{{ config(materialized='table') }}
select count(*) as n from range(4000000000) t(x), b_fast where x % 7 = 3
"""

# a_fast and b_fast finish, then z_slow runs for many seconds; after depends on it
FILES = {
    "models/a_fast.sql": "{{ config(materialized='table') }}\nselect 1 as id",
    "models/b_fast.sql": "{{ config(materialized='table') }}\nselect id + 1 as id from a_fast",
    "models/z_slow.sql": SLOW_SQL,
    "models/zz_after.sql": "{{ config(materialized='table') }}\nselect * from z_slow",
}


def started(project: Path, asset: str) -> bool:
    """Whether logs/orch.jsonl says ``asset``'s step started."""
    log = project / "logs" / "orch.jsonl"
    if not log.exists():
        return False
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        if event["event"] == "StepStarted" and event["asset"] == asset:
            return True
    return False


def no_orch_relations(wh) -> bool:  # noqa: ANN001
    return not any(name.startswith("__orch_") for name in wh.relations())


def test_sigkill_mid_build_then_next_build_succeeds(
    make_project, orch, spawn, waiter, warehouse, state, tmp_path
):
    project = make_project(tmp_path, FILES)
    proc = spawn(project, "build", "--threads", "1")
    waiter(lambda: started(project, "z_slow"), what="z_slow to start")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL

    with state(project) as st:
        (killed,) = st.recent_runs()
        assert killed.status == "interrupted"  # nobody recorded the end; its pid is dead
        latest = st.latest_materializations(target="dev")
        assert {k[0] for k in latest} == {"a_fast", "b_fast"}
        assert {m.run_id for m in latest.values()} == {killed.run_id}
        assert st.lock_holder("dev").pid == proc.pid  # left behind by the dead process

    (project / "models" / "z_slow.sql").write_text(
        "{{ config(materialized='table') }}\nselect 7 as n"
    )
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    wh = warehouse(project)
    assert wh.rows("select n from analytics.zz_after") == [(7,)]
    assert no_orch_relations(wh)
    with state(project) as st:
        runs = {r.run_id: r for r in st.recent_runs()}
        assert runs[killed.run_id].status == "interrupted"  # the dead holder's run, taken over
        assert len(runs) == 2 and st.lock_holder("dev") is None


def test_ctrl_c_stops_cleanly(make_project, spawn, waiter, warehouse, state, tmp_path):
    project = make_project(tmp_path, FILES)
    proc = spawn(project, "build", "--threads", "1")
    waiter(lambda: started(project, "z_slow"), what="z_slow to start")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=15)  # the statement is interrupted, not awaited
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "SKIP    zz_after: interrupted" in stdout
    assert "INTERRUPTED" in stdout
    with state(project) as st:
        (run,) = st.recent_runs()
        assert run.status == "interrupted"
        assert run.finished_at is not None
        latest = st.latest_materializations(target="dev")
        assert {k[0] for k in latest} == {"a_fast", "b_fast"}
        history = st.materialization_history("z_slow")
        assert [m.status for m in history] == ["failed"]
        assert st.lock_holder("dev") is None
    wh = warehouse(project)
    assert set(wh.relations()) == {"a_fast", "b_fast"}  # nothing half-written


def test_sigterm_stops_like_ctrl_c(make_project, spawn, waiter, state, tmp_path):
    project = make_project(tmp_path, FILES)
    proc = spawn(project, "run", "--threads", "1")
    waiter(lambda: started(project, "z_slow"), what="z_slow to start")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stdout + stderr
    with state(project) as st:
        assert st.recent_runs()[0].status == "interrupted"


def test_second_build_refuses_while_one_runs(make_project, orch, spawn, waiter, state, tmp_path):
    project = make_project(tmp_path, FILES)
    proc = spawn(project, "build", "--threads", "1")
    waiter(lambda: started(project, "z_slow"), what="z_slow to start")
    with state(project) as st:
        holder = st.lock_holder("dev")
    since = holder.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    run = orch("build", "--project-dir", project, "-s", "a_fast")
    assert run.exit_code == 2
    assert run.stderr.startswith(
        f"Error: target 'dev' is locked by `build` (pid {proc.pid} on host "
    )
    assert f"since {since}, run {holder.run_id})" in run.stderr
    assert "Traceback" not in run.stderr
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 130
    # once it is gone, a build runs
    assert orch("build", "--project-dir", project, "-s", "a_fast").exit_code == 0


HOLD_DUCKDB = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_duckdb_file_locked_by_another_process(make_project, orch, state, tmp_path):
    project = make_project(tmp_path, {"models/m.sql": "select 1 as x"})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_DUCKDB, str(project / "warehouse.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        run = orch("run", "--project-dir", project)
        assert run.exit_code == 2, run.output
        message = run.stderr.strip()
        assert message.startswith(
            f"Error: DuckDB database '{project / 'warehouse.duckdb'}' is locked by "
        )
        assert f"(pid {holder.pid})" in message
        assert "Close the other program or use another path" in message
        assert "Traceback" not in run.stderr
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()
    with state(project) as st:
        assert st.lock_holder("dev") is None  # our run lock was released
        assert st.recent_runs() == []  # nothing ran, nothing recorded
    assert orch("run", "--project-dir", project).exit_code == 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("afile/warehouse.duckdb", "'{root}/afile' is not a directory"),
        ("missing/warehouse.duckdb", "directory '{root}/missing' does not exist"),
    ],
    ids=["under-a-file", "missing-dir"],
)
def test_unwritable_database_path(make_project, orch, tmp_path, path, expected):
    profiles = f"""\
        shop:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: {path}
              schema: analytics
        """
    project = make_project(tmp_path, {"models/m.sql": "select 1 as x"}, profiles_yml=profiles)
    (project / "afile").write_text("a regular file\n")
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 2, run.output
    message = run.stderr.strip()
    assert message.startswith("Error: cannot open DuckDB database")
    assert expected.format(root=project) in message
    assert f"the profile setting `path` ('{path}')" in message
    assert "Traceback" not in run.stderr
    assert not (project / "missing").exists()
