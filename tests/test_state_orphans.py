"""Runs whose process died while recorded as ``running``: how readers show them, and who writes it.

A pid means something only on its own host; a run of a locking command (build, run, seed,
backfill) holds its target's lock until it has recorded its end, wherever it runs. Every scenario
runs on the SQLite store and on the warehouse store (DuckDB and Snowflake through fakesnow).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import fakesnow
import pytest
from orch.events import utcnow
from orch.state import LockOwner, SQLiteStateStore, StateStore
from orch.state import base as state_base

from tests.test_warehouse_state import FAKESNOW_WARNINGS, open_store

pytestmark = pytest.mark.filterwarnings(FAKESNOW_WARNINGS)

ELSEWHERE = "ci-runner-7"  # a host that is not this one: its pids say nothing here


@pytest.fixture(params=["sqlite", "duckdb", "fakesnow"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        s: StateStore = SQLiteStateStore.for_project(tmp_path)
        yield s
        s.close()
        return
    if request.param == "fakesnow":
        with fakesnow.patch():
            s = open_store("fakesnow", tmp_path)
            yield s
            s.close()
        return
    s = open_store("duckdb", tmp_path)
    yield s
    s.close()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def status_of(store: StateStore, run_id: str) -> str:
    run = store.get_run(run_id)
    assert run is not None
    in_list = {r.run_id: r.status for r in store.recent_runs()}[run_id]
    assert in_list == run.status  # both readers agree
    return run.status


def test_a_dead_pid_on_this_host_reads_as_interrupted(store: StateStore, dead_pid: int) -> None:
    build = store.start_run("build", target="dev", pid=dead_pid)
    test = store.start_run("test", target="dev", pid=dead_pid)  # takes no lock: its pid tells
    alive = store.start_run("test", target="dev")  # this process
    assert status_of(store, build) == "interrupted"
    assert status_of(store, test) == "interrupted"
    assert status_of(store, alive) == "running"
    finished = store.start_run("build", target="dev", pid=dead_pid)
    store.finish_run(finished, "success")
    assert status_of(store, finished) == "success"  # a recorded end is never rewritten


def test_a_run_on_another_host_is_running_while_it_holds_a_live_lock(
    store: StateStore, dead_pid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = store.start_run("build", target="dev", pid=dead_pid, host=ELSEWHERE)
    store.acquire_lock(
        "dev", LockOwner("build", run_id=run, pid=dead_pid, host=ELSEWHERE),
        heartbeat_interval=None,
    )  # fmt: skip
    assert status_of(store, run) == "running"  # the dead pid is another host's pid
    later = utcnow() + timedelta(hours=1)  # no heartbeat for an hour: that host is gone
    monkeypatch.setattr(state_base, "utcnow", lambda: later)
    assert status_of(store, run) == "interrupted"


def test_a_locking_run_that_lost_its_lock_reads_as_interrupted(store: StateStore) -> None:
    run = store.start_run("backfill", target="dev", host=ELSEWHERE)
    assert status_of(store, run) == "interrupted"  # it would hold the lock while running
    other = store.start_run("build", target="prod", host=ELSEWHERE)
    with store.acquire_lock("prod", LockOwner("build", run_id="another-run"),
                            heartbeat_interval=None):  # fmt: skip
        assert status_of(store, other) == "interrupted"  # another run holds it


def test_a_test_run_on_another_host_cannot_be_told_and_stays_running(store: StateStore) -> None:
    run = store.start_run("test", target="dev", pid=999_999, host=ELSEWHERE)
    assert status_of(store, run) == "running"
    with store.acquire_lock("dev", LockOwner("build", run_id="next"), heartbeat_interval=None):
        pass
    assert status_of(store, run) == "running"


def test_the_next_lock_holder_writes_interrupted_once(store: StateStore, dead_pid: int) -> None:
    orphans = [
        store.start_run("build", target="dev", host=ELSEWHERE),  # lost the lock
        store.start_run("test", target="dev", pid=dead_pid),  # dead on this host
    ]
    keep = [
        store.start_run("test", target="dev", pid=999_999, host=ELSEWHERE),  # can't be told
        store.start_run("test", target="dev"),  # alive
        store.start_run("build", target="prod", host=ELSEWHERE),  # another target's lock
    ]
    with store.acquire_lock("dev", LockOwner("build", run_id="next"), heartbeat_interval=None):
        for run_id in orphans:
            assert store._stored_run(run_id).status == "interrupted"  # type: ignore[attr-defined]
            assert store._stored_run(run_id).finished_at is not None  # type: ignore[attr-defined]
        for run_id in keep:
            assert store._stored_run(run_id).status == "running"  # type: ignore[attr-defined]


def test_the_lock_holders_own_run_is_left_alone(store: StateStore) -> None:
    """A daemon re-launching a claimed run id takes the lock with that id."""
    run = store.start_run("build", target="dev", pid=os.getpid())
    with store.acquire_lock("dev", LockOwner("build", run_id=run), heartbeat_interval=None):
        assert status_of(store, run) == "running"


def test_a_run_that_finishes_while_it_is_read_shows_as_finished(tmp_path: Path) -> None:
    """Runs are read before the lock, and a run that looks orphaned is read again."""

    class FinishingStore(SQLiteStateStore):
        def lock_holder(self, target: str):  # type: ignore[no-untyped-def]
            self.finish_run(run, "success")  # it ends, and frees the lock, right now
            return super().lock_holder(target)

    with FinishingStore.for_project(tmp_path) as st:
        run = st.start_run("build", target="dev")
        assert [r.status for r in st.recent_runs()] == ["success"]
