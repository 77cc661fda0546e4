"""Code versions, git states and hook runs in both state stores (SQLite, warehouse on DuckDB and
Snowflake/fakesnow): stored once per fingerprint, read back alike, absent tables answer empty."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import fakesnow
import pytest
from orch.state import SQLiteStateStore, StateStore, state_path
from orch.state.records import CodeVersion, GitState
from test_warehouse_state import FAKESNOW_WARNINGS, open_store

pytestmark = pytest.mark.filterwarnings(FAKESNOW_WARNINGS)


@pytest.fixture(params=["sqlite", "duckdb", "fakesnow"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        with SQLiteStateStore.for_project(tmp_path) as s:
            yield s
    elif request.param == "duckdb":
        with open_store("duckdb", tmp_path) as w:
            yield w
    else:
        with fakesnow.patch(), open_store("fakesnow", tmp_path) as w:
            yield w


def test_code_is_stored_once_per_fingerprint(store: StateStore) -> None:
    first = CodeVersion("fp1", "sql", "models/a.sql", "select 1 as x\n")
    assert store.record_code(first) is True
    assert store.record_code(CodeVersion("fp1", "sql", "models/a.sql", "other")) is False
    assert store.code_version("fp1") == first
    assert store.code_version("nope") is None


def test_git_state_per_run(store: StateStore) -> None:
    a = store.start_run("build", target="dev")
    b = store.start_run("build", target="dev")
    store.record_git(a, GitState("3f2a9c1b" * 5, True))
    store.record_git(b, GitState(None))
    got = store.git_states([a, b, "unknown"])
    assert got == {a: GitState("3f2a9c1b" * 5, True), b: GitState(None, False)}
    assert got[a].describe() == "3f2a9c1 (dirty)" and got[b].describe() == "no git"
    assert store.git_states([]) == {}


def test_op_step_code_per_run(store: StateStore) -> None:
    a = store.start_run("job", target="dev")
    b = store.start_run("job", target="dev")
    store.record_code(CodeVersion("op:ab", "python", "jobs/j.py", "@op\ndef x(): ...\n"))
    store.record_op_code(a, "x", "op:ab")
    store.record_op_code(a, "x", "op:other")  # a step's code is recorded once: the first stays
    store.record_op_code(a, "y[1]", "op:cd")
    assert store.op_step_code(a) == {"x": "op:ab", "y[1]": "op:cd"}
    assert store.op_step_code(b) == {}


def test_hook_runs_in_order(store: StateStore) -> None:
    run = store.start_run("build", target="dev")
    store.record_hook_run(run_id=run, phase="on-run-start", index=0, name="orch_project.yml",
                          step=None, status="success", duration_s=0.01)  # fmt: skip
    store.record_hook_run(run_id=run, phase="failure-hook", index=1, name="page of orders",
                          step="orders", status="error", error="RuntimeError: down")  # fmt: skip
    hooks = store.run_hook_runs(run)
    assert [(h.phase, h.index, h.name, h.step, h.status, h.error) for h in hooks] == [
        ("on-run-start", 0, "orch_project.yml", None, "success", None),
        ("failure-hook", 1, "page of orders", "orders", "error", "RuntimeError: down"),
    ]
    assert store.run_hook_runs("other") == []


def test_a_file_from_before_these_tables_reads_empty_then_gains_them(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path) as s:
        run = s.start_run("build", target="dev")
    with sqlite3.connect(state_path(tmp_path)) as conn:  # as an older orch left it
        for table in ("code_versions", "run_git", "hook_runs"):
            conn.execute(f"DROP TABLE {table}")
    with SQLiteStateStore.for_project(tmp_path, readonly=True) as ro:
        assert ro.code_version("fp") is None
        assert ro.git_states([run]) == {}
        assert ro.run_hook_runs(run) == []
    with SQLiteStateStore.for_project(tmp_path) as rw:  # a write-open creates them
        rw.record_git(run, GitState("abc"))
        assert rw.git_states([run]) == {run: GitState("abc")}


def test_a_warehouse_schema_without_these_tables_reads_empty(tmp_path: Path) -> None:
    with open_store("duckdb", tmp_path) as w:
        run = w.start_run("build", target="dev")
        for table in ("code_versions", "run_git", "hook_runs"):
            w.adapter.execute(f"drop table _orch.{table}")
    with open_store("duckdb", tmp_path, readonly=True) as ro:
        assert ro.code_version("fp") is None
        assert ro.git_states([run]) == {}
        assert ro.run_hook_runs(run) == []
