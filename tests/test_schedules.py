"""Jobs, schedules and sensors through the CLI: validation, built-in sensors, ls/test/tick/run."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from orch.automation.schedules import (
    ScheduleDefinition,
    cron_ticks,
    latest_cron_tick,
    schedule_overview,
)
from orch.cli import cli
from orch.config import RunOptions
from orch.load.project import load_project
from orch.state import SQLiteStateStore

PROJECT_YML = """\
name: shop
profile: shop
jobs:
  landing:
    select: landed
  downstream:
    select: doubled
    vars: {factor: 2}
schedules:
  nightly:
    job: downstream
    cron: "0 6 * * *"
    timezone: Europe/Paris
sensors:
  landing_files:
    type: file
    job: landing
    directory: landing
    glob: "*.csv"
    minimum_interval_seconds: 0
  after_landed:
    type: asset
    asset: landed
    job: downstream
    minimum_interval_seconds: 0
"""

LANDED = """\
{{ config(materialized='table') }}
select * from read_csv('{{ var("landing_dir") }}/*.csv')
"""

FILES = {
    "models/landed.sql": LANDED,
    "models/doubled.sql": "select id, amount * {{ var('factor', 1) }} as amount from landed\n",
}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def root(make_project, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = make_project(tmp_path / "p", FILES, project_yml=PROJECT_YML)
    landing = path / "landing"
    landing.mkdir()
    return path


def land(root: Path, name: str, rows: list[tuple[int, int]], mtime: int) -> None:
    path = root / "landing" / name
    path.write_text("id,amount\n" + "".join(f"{i},{a}\n" for i, a in rows), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def rows(root: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def tick(root: Path, now: str):  # type: ignore[no-untyped-def]
    vars_ = json.dumps({"landing_dir": str(root / "landing")})
    return invoke("schedule", "tick", "--project-dir", str(root), "--now", now, "--vars", vars_)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("yml", "message"),
    [
        (
            'cron: "61 6 * * *"',
            "orch_project.yml:5:5: invalid value for 'schedules.nightly.cron': Value error, "
            "'61 6 * * *' is not a valid cron expression (expected 5 fields 'min hour day month "
            "weekday' such as '0 6 * * *', or @hourly, @daily, @weekly, @monthly, @yearly). "
            "Fix the setting",
        ),
        (
            'cron: "@daily"\n    timezone: Mars/Olympus',
            "orch_project.yml:6:5: invalid value for 'schedules.nightly.timezone': Value error, "
            "unknown timezone 'Mars/Olympus' (use an IANA name such as UTC or Europe/Paris). "
            "Fix the setting",
        ),
    ],
    ids=["cron", "timezone"],
)
def test_invalid_schedule_is_a_compile_error_naming_it(
    make_project, tmp_path: Path, yml: str, message: str
) -> None:
    project_yml = f"name: shop\nprofile: shop\nschedules:\n  nightly:\n    {yml}\n    job: j\n"
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x"}, project_yml=project_yml)
    result = CliRunner().invoke(cli, ["compile", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {message}"


@pytest.mark.parametrize(
    "command",
    [["schedule", "ls"], ["compile", "--vars", '{"landing_dir": "x"}']],
    ids=["schedule-ls", "compile"],
)
def test_unknown_job_names_the_schedule_and_line(root: Path, command: list[str]) -> None:
    yml = (
        (root / "orch_project.yml")
        .read_text()
        .replace("job: downstream\n    cron", "job: downstrem\n    cron")
    )
    (root / "orch_project.yml").write_text(yml)
    result = CliRunner().invoke(cli, [*command, "--project-dir", str(root)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: orch_project.yml:11:5: schedule 'nightly' launches unknown job 'downstrem'. "
        "Did you mean 'downstream'?"
    )
    assert not (root / "target" / "manifest.json").exists()


def test_python_schedule_with_a_bad_cron_names_the_function(root: Path) -> None:
    (root / "sensors").mkdir()
    (root / "sensors" / "s.py").write_text(
        "from orch import schedule\n\n\n@schedule(cron='every day', job='landing')\n"
        "def sched(context):\n    return None\n"
    )
    result = CliRunner().invoke(cli, ["schedule", "ls", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: sensors/s.py:4:1: schedule 'sched': 'every day' is not a valid cron expression"
    )


def test_duplicate_schedule_and_sensor_names_are_refused(root: Path) -> None:
    (root / "sensors").mkdir()
    (root / "sensors" / "s.py").write_text(
        "from orch import sensor\n\n\n@sensor(job='landing')\ndef nightly(context):\n    pass\n"
    )
    result = CliRunner().invoke(cli, ["sensor", "ls", "--project-dir", str(root)])
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: sensors/s.py:4:1: two schedules/sensors are named 'nightly' "
        "(the other one is at orch_project.yml:10:3)"
    )


# --------------------------------------------------------------------------- cron


def test_cron_ticks_follow_the_timezone_across_dst() -> None:
    after = datetime(2024, 3, 30, 12, tzinfo=timezone.utc)
    until = datetime(2024, 4, 1, 12, tzinfo=timezone.utc)
    ticks = cron_ticks("0 6 * * *", "Europe/Paris", after, until)
    # 06:00 in Paris is 05:00 UTC before the DST switch of March 31st, 04:00 UTC after
    assert [t.isoformat() for t in ticks] == [
        "2024-03-31T04:00:00+00:00",
        "2024-04-01T04:00:00+00:00",
    ]
    at = datetime(2024, 1, 2, 0, 0, tzinfo=timezone.utc)
    assert latest_cron_tick("@daily", "UTC", at) == at  # a tick exactly now is due now


# --------------------------------------------------------------------------- sensors


def test_file_sensor_launches_one_run_per_batch_of_new_files(root: Path) -> None:
    land(root, "a.csv", [(1, 10), (2, 20)], mtime=1_700_000_000)
    land(root, "b.csv", [(3, 30)], mtime=1_700_000_100)
    first = tick(root, "2024-01-01T07:00")
    assert first.exit_code == 0, first.output
    assert rows(root, "select count(*), sum(amount) from analytics.landed") == [(3, 60)]
    # the asset sensor saw `landed` materialized and launched the downstream job with its vars
    second = tick(root, "2024-01-01T07:01")
    assert rows(root, "select sum(amount) from analytics.doubled") == [(120,)]
    assert "landing_files: tick skipped: no new files matching landing/*.csv" in second.output
    land(root, "c.csv", [(4, 40)], mtime=1_700_000_200)
    tick(root, "2024-01-01T07:02")
    assert rows(root, "select count(*) from analytics.landed") == [(4,)]
    with SQLiteStateStore.for_project(root, readonly=True) as s:
        ticks = sorted(s.ticks("landing_files"), key=lambda t: t.tick_time)
        cursor = json.loads(s.get_cursor("landing_files") or "{}")
        runs = {r.run_id: r for r in s.recent_runs(100)}
    assert [t.status for t in ticks] == ["success", "skipped", "success"]
    assert cursor == {"mtime_ns": 1_700_000_200 * 10**9, "name": "c.csv"}
    assert runs[ticks[0].run_ids[0]].args["select"] == ["landed"]


def test_sensor_test_evaluates_without_launching_or_storing(root: Path) -> None:
    land(root, "a.csv", [(1, 10)], mtime=1_700_000_000)
    result = invoke("sensor", "test", "landing_files", "--project-dir", str(root))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "run request: job landing  run_key a.csv@1700000000000000000  "
        'vars {"new_files": ["landing/a.csv"]}',
        'cursor: None -> {"mtime_ns": 1700000000000000000, "name": "a.csv"} (not stored)',
    ]
    skipped = invoke("sensor", "test", "after_landed", "--project-dir", str(root))
    assert skipped.output.strip() == "skipped: 'landed' was never materialized"
    with SQLiteStateStore.for_project(root, readonly=True) as s:
        assert s.get_cursor("landing_files") is None
        assert s.recent_runs() == []
        assert s.ticks("landing_files") == []


def test_sensor_test_shows_a_raising_sensor(root: Path) -> None:
    (root / "sensors").mkdir()
    (root / "sensors" / "s.py").write_text(
        "from orch import sensor\n\n\n@sensor(job='landing')\ndef broken(context):\n"
        "    return 1 / 0\n"
    )
    result = CliRunner().invoke(cli, ["sensor", "test", "broken", "--project-dir", str(root)])
    assert result.exit_code == 1
    assert "ZeroDivisionError: division by zero" in result.output
    assert "sensor 'broken' raised (this would be a failed tick)" in result.output


# --------------------------------------------------------------------------- ls, run, overview


def test_ls_commands_show_next_ticks_and_last_outcomes(root: Path) -> None:
    land(root, "a.csv", [(1, 10)], mtime=1_700_000_000)
    tick(root, "2024-01-01T05:30")  # 06:00 Paris = 05:00 UTC: the nightly tick is due
    out = invoke("schedule", "ls", "--project-dir", str(root)).output
    assert out.startswith(
        "nightly                  job downstream           0 6 * * * (Europe/Paris, catchup latest)"
        "  next: 2024-01-02T05:00:00Z (due)  last: 2024-01-01T05:00:00Z "
    )
    sensors = invoke("sensor", "ls", "--project-dir", str(root)).output.splitlines()
    assert sensors[1].startswith(
        "landing_files            file    job landing              every 0s  "
        "last: 2024-01-01T05:30:00Z success (run "
    )
    jobs = invoke("job", "ls", "--project-dir", str(root)).output.splitlines()
    assert jobs == [
        "downstream               select: doubled  ← after_landed, nightly",
        "landing                  select: landed  ← landing_files",
    ]


def test_job_run_builds_the_selection_with_the_job_vars(root: Path) -> None:
    land(root, "a.csv", [(1, 10), (2, 5)], mtime=1_700_000_000)
    vars_ = json.dumps({"landing_dir": str(root / "landing")})
    assert (
        invoke("job", "run", "landing", "--project-dir", str(root), "--vars", vars_).exit_code == 0
    )
    result = invoke("job", "run", "downstream", "--project-dir", str(root), "--vars", vars_)
    assert result.exit_code == 0, result.output
    assert rows(root, "select sum(amount) from analytics.doubled") == [(30,)]
    unknown = CliRunner().invoke(cli, ["job", "run", "landng", "--project-dir", str(root)])
    assert unknown.exit_code == 2
    assert "unknown job 'landng'. Did you mean 'landing'?" in unknown.output


def test_schedule_overview_for_the_docs_site(root: Path) -> None:
    tick(root, "2024-01-01T05:30")
    project = load_project(RunOptions(project_dir=root))
    now = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    with SQLiteStateStore.for_project(root, readonly=True) as s:
        overview = schedule_overview(project, s, now=now)
    assert [j["name"] for j in overview["jobs"]] == ["downstream", "landing"]
    nightly = overview["schedules"][0]
    assert nightly["name"] == "nightly"
    assert nightly["next_tick"] == "2024-01-02T05:00:00+00:00"
    assert nightly["ticks"][0]["time"] == "2024-01-01T05:00:00+00:00"
    assert [s["name"] for s in overview["sensors"]] == ["after_landed", "landing_files"]
    assert overview["sensors"][1]["ticks"][0]["status"] == "skipped"
    json.dumps(overview)  # JSON-ready


def test_schedule_definition_without_history_is_due_at_its_latest_tick() -> None:
    defn = ScheduleDefinition(name="s", job="j", cron="@hourly")
    at = datetime(2024, 1, 1, 5, 30, tzinfo=timezone.utc)
    assert defn.latest_tick(at) == datetime(2024, 1, 1, 5, tzinfo=timezone.utc)
    assert defn.next_tick(at) == datetime(2024, 1, 1, 6, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- example_project


def test_example_project_landing_sensor_reloads_new_partner_files(example_project: Path) -> None:
    root = example_project
    jobs = invoke("job", "ls", "--project-dir", str(root)).output
    assert "daily_order_lines        select: fct_order_lines+  ← order_lines_nightly" in jobs
    first = invoke("sensor", "test", "landing_files", "--project-dir", str(root)).output
    assert '"new_files": ["landing/partner_orders_2024-12-30.csv"]' in first
    assert invoke("job", "run", "load_landing", "--project-dir", str(root)).exit_code == 0
    assert rows(root, "select count(*) from main.landed_partner_orders") == [(3,)]
    (root / "landing" / "partner_orders_2024-12-31.csv").write_text(
        "partner_order_id,customer_id,ordered_at,amount\nP-2001,5,2024-12-31 08:00:00,10.0\n"
    )
    result = invoke("job", "run", "load_landing", "--project-dir", str(root))
    assert result.exit_code == 0, result.output
    assert rows(
        root, "select source_file, count(*) from main.landed_partner_orders group by 1 order by 1"
    ) == [("partner_orders_2024-12-30.csv", 3), ("partner_orders_2024-12-31.csv", 1)]
    schedules = invoke("schedule", "ls", "--project-dir", str(root)).output
    assert schedules.startswith(
        "order_lines_nightly      job daily_order_lines    0 2 * * * (Europe/Amsterdam, catchup "
        "latest)  next: "
    )
