"""``orch daemon --workspace``: every member in one loop, a changed member reloaded in place."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from orch.automation.workspace_daemon import WorkspaceDaemon
from orch.config import RunOptions
from orch.load.workspace import load_workspace

from tests.workspace.test_workspace import make_workspace

SCHEDULED = """\
name: {name}
jobs:
  everything:
    select: "*"
schedules:
  hourly:
    job: everything
    cron: "0 * * * *"
"""


def touch_later(path: Path, text: str) -> None:
    """Write ``text`` with a newer mtime (the daemon compares name, size and mtime)."""
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))


def test_a_broken_member_is_shown_the_others_run_and_a_fix_is_reloaded(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    (ws / "finance/orch_project.yml").write_text(SCHEDULED.format(name="finance"))
    (ws / "marketing/orch_project.yml").write_text("name: marketing\nmodel_pathz: [x]\n")
    lines: list[str] = []
    now = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)
    daemon = WorkspaceDaemon(
        load_workspace(ws / "orch_workspace.yml"),
        RunOptions(project_dir=ws),
        clock=lambda: now,
        launcher="inline",
        report=lines.append,
    )
    try:
        assert "finance: loaded (1 schedules, 0 sensors)" in lines
        assert any(
            line.startswith("marketing: not loaded: orch_project.yml:2:1: unknown")
            for line in lines
        ), lines
        assert set(daemon.errors()) == {"marketing"}
        daemon.iterate(now)  # finance ticks although marketing is broken
        assert daemon.members["finance"].daemon is not None
        touch_later(ws / "marketing/orch_project.yml", SCHEDULED.format(name="marketing"))
        daemon.iterate(now)
        assert "marketing: reloaded (1 schedules, 0 sensors)" in lines
        assert daemon.errors() == {}
        touch_later(ws / "finance/models/extra.sql", "select 3 as id")
        lines.clear()
        daemon.iterate(now)
        assert lines == ["finance: reloaded (1 schedules, 0 sensors)"]
    finally:
        daemon.close()
    con = duckdb.connect(str(ws / "warehouse.duckdb"), read_only=True)
    try:  # the schedules' first ticks ran each member's job on its own target
        assert con.sql("select * from finance.revenue").fetchall() == [(1, 10.5)]
    finally:
        con.close()
