"""Helpers for the execution tests: read the DuckDB file and the state after a command ran."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from orch.state import SQLiteStateStore

# A table model that keeps DuckDB busy for several seconds (no I/O, interruptible).
SLOW_SQL = """\
{{ config(materialized='table') }}
select count(*) as n from range(4000000000) t(x) where x % 7 = 3
"""


class Warehouse:
    """Read access to a project's ``warehouse.duckdb`` (opened per call, read-only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query."""
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def relations(self, schema: str = "analytics") -> dict[str, str]:
        """name -> 'BASE TABLE' / 'VIEW' in a schema."""
        return dict(
            self.rows(
                "select table_name, table_type from information_schema.tables "
                f"where table_schema = '{schema}' order by 1"
            )
        )

    def types(self, relation: str, schema: str = "analytics") -> dict[str, str]:
        """column -> DuckDB type name."""
        return dict(
            self.rows(
                "select column_name, data_type from information_schema.columns "
                f"where table_schema = '{schema}' and table_name = '{relation}' "
                "order by ordinal_position"
            )
        )


@pytest.fixture
def warehouse() -> Callable[[Path], Warehouse]:
    """``warehouse(project_dir)`` → Warehouse on its ``warehouse.duckdb``."""
    return lambda project: Warehouse(project / "warehouse.duckdb")


@pytest.fixture
def state() -> Callable[[Path], SQLiteStateStore]:
    """``state(project_dir)`` → the project's state store, read-only (use as a context)."""
    return lambda project: SQLiteStateStore.for_project(project, readonly=True)


ORCH_MAIN = "import sys; from orch.cli import main; sys.argv[0] = 'orch'; main()"


def spawn_orch(project: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``orch ARGS`` in a child process with the project as its working directory."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", ORCH_MAIN, *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Poll until ``condition()`` is true or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


@pytest.fixture
def spawn() -> Callable[..., subprocess.Popen[str]]:
    """``spawn(project, "build", ...)`` → Popen of ``orch`` (killed at teardown if alive)."""
    procs: list[subprocess.Popen[str]] = []

    def start(project: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        proc = spawn_orch(project, *args, **kwargs)
        procs.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def waiter() -> Callable[..., None]:
    """``waiter(condition, timeout, what)``: poll until true."""
    return wait_for
