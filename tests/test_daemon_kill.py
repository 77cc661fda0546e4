"""A daemon killed (SIGKILL: no cleanup) between a run finishing and its run-status sensor
evaluating: the restarted daemon takes the dead one's lock over and handles the run once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orch.state import SQLiteStateStore
from test_run_status_sensors import PROJECT_YML, SENSORS, alerts


def start_daemon(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", "from orch.cli import main; main()", "daemon",
         "--project-dir", str(root), "--poll-interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def watching(root: Path) -> bool:
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        return state.get_cursor("on_any_failure") is not None


def ticks(root: Path) -> int:
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        return len(state.ticks("on_any_failure", limit=1000))


def test_a_killed_daemon_handles_the_run_once_after_restart(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path,
        {"models/broken.sql": "select cast('x' as integer) as n", "models/fine.sql": "select 1",
         "sensors/alerts.py": SENSORS},
        project_yml=PROJECT_YML,
    )  # fmt: skip
    first = start_daemon(root)
    try:
        wait_for(lambda: watching(root))
        first.send_signal(signal.SIGKILL)  # no teardown, the daemon's lock left behind
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    failed = orch("job", "run", "boom", "--project-dir", root)
    assert failed.exit_code == 1
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        run_id = state.recent_runs(1)[0].run_id
    assert alerts(root) == []  # nobody was watching when it finished

    second = start_daemon(root)
    try:
        wait_for(lambda: len(alerts(root)) >= 1)
        seen = ticks(root)
        wait_for(lambda: ticks(root) >= seen + 3)  # a few more evaluations: nothing new
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, out.decode()
    assert alerts(root) == [f"failed boom {run_id}"]

    third = start_daemon(root)  # and not again after another restart
    try:
        wait_for(lambda: watching(root))
        seen = ticks(root)
        wait_for(lambda: ticks(root) >= seen + 2)
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=30)
    finally:
        if third.poll() is None:
            third.kill()
    assert alerts(root) == [f"failed boom {run_id}"]
