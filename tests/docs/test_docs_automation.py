"""The docs site's Automation data (jobs, schedules, sensors, ticks) and output metadata on the
asset pages: generated data, escaping, projects without automation, broken sensor files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from docs_site_data import (
    HOSTILE_JOB,
    METADATA_ASSET,
    NOW,
    SCHEDULE,
    SENSOR,
    XSS_IMG,
    XSS_SCRIPT,
    build_automation_site,
    copy_example,
)
from orch.automation.schedules import schedule_cursor_name
from orch.cli import cli
from orch.config import RunOptions
from orch.docs.automation import automation_data
from orch.load.project import load_project
from orch.state import SQLiteStateStore


def _load(out: Path) -> tuple[str, dict, dict[str, dict]]:
    text = (out / "data.js").read_text(encoding="utf-8")
    index = json.loads(text[len("window.ORCH_DOCS=") : -2])
    details: dict[str, dict] = {}
    for chunk in sorted((out / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        for item in json.loads(body[body.index(",") + 1 : -3]):
            details[item["name"]] = item
    return text, index, details


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict, dict[str, dict]]:
    root = copy_example(tmp_path_factory.mktemp("auto") / "proj")
    out = build_automation_site(root)
    return (out, *_load(out))


def test_automation_jobs_schedules_sensors_ticks(site: tuple) -> None:
    out, _, index, _ = site
    auto = index["automation"]
    assert auto["error"] is None
    jobs = {j["name"]: j for j in auto["jobs"]}
    assert sorted(jobs) == ["daily_order_lines", "load_landing", HOSTILE_JOB]
    assert jobs["daily_order_lines"]["select"] == "fct_order_lines+"
    assert jobs[HOSTILE_JOB]["description"] == f"{XSS_SCRIPT} {XSS_IMG}"
    (sched,) = auto["schedules"]
    assert sched["name"] == SCHEDULE and sched["cron"] == "0 2 * * *"
    assert sched["timezone"] == "Europe/Amsterdam" and sched["job"] == "daily_order_lines"
    # as of 2024-06-01 12:00 UTC, the next 02:00 in Amsterdam (CEST) is 2024-06-02 00:00 UTC
    assert sched["next_tick"] == "2024-06-02T00:00:00+00:00"
    assert (sched["due"], sched["due_since"], sched["first_evaluation"]) == (False, None, False)
    assert sched["upcoming_tick"] == sched["next_tick"]
    assert [t["status"] for t in sched["ticks"]] == ["success", "failed"]
    assert sched["ticks"][1]["error"] == "run failed"
    sensors = {s["name"]: s for s in auto["sensors"]}
    assert sorted(sensors) == ["alert_on_failure", SENSOR]  # the webhook alert: off by default
    assert sensors["alert_on_failure"]["enabled"] is False
    sensor = sensors[SENSOR]
    assert sensor["name"] == SENSOR and sensor["kind"] == "file" and sensor["job"] == "load_landing"
    assert sensor["cursor"] == f"orders_2024-06-01.csv {XSS_IMG}"
    assert [t["status"] for t in sensor["ticks"]] == ["failed", "skipped"]
    assert sensor["ticks"][1]["skip_reason"] == f"no new {XSS_IMG}"
    assert sensor["ticks"][0]["error"] == f"Traceback\n{XSS_SCRIPT}"
    # the Automation tab is in the page; nothing can end the data script
    assert 'href="#/automation"' in (out / "index.html").read_text(encoding="utf-8")


def test_hostile_strings_are_escaped_in_the_data(site: tuple) -> None:
    out, text, _, _ = site
    assert "<script>" not in text and "<img" not in text and "</" not in text
    for chunk in (out / "data").glob("a*.js"):
        body = chunk.read_text(encoding="utf-8")
        assert "<script>" not in body and "<img" not in body


def test_output_metadata_on_the_asset_page_data(site: tuple) -> None:
    _, _, _, details = site
    runs = details[METADATA_ASSET]["runs"]
    newest = runs[0]
    # user keys only: orch's own ("materialized", "language") are left out
    assert newest["metadata"] == {
        "vips": 63,
        "segments": {"champion": 63, "loyal": 57},
        "note": XSS_SCRIPT,
        XSS_IMG: "hostile key",
    }
    assert newest["rows"] == 250
    assert all(r["metadata"] == {} for r in details["orders"]["runs"])


def _write_minimal(root: Path, yml_extra: str = "") -> Path:
    (root / "models").mkdir(parents=True)
    (root / "models" / "a.sql").write_text("select 1 as x\n")
    (root / "orch_project.yml").write_text(f"name: tiny\nprofile: tiny\n{yml_extra}")
    (root / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: w.duckdb, schema: main}\n"
    )
    return root


def test_project_without_automation_has_no_automation_view(tmp_path: Path) -> None:
    root = _write_minimal(tmp_path / "tiny")
    run = CliRunner().invoke(cli, ["docs", "generate", "--project-dir", str(root)])
    assert run.exit_code == 0, run.output
    out = root / "target" / "docs"
    _, index, _ = _load(out)
    assert index["automation"] is None
    assert "#/automation" not in (out / "index.html").read_text(encoding="utf-8")


def test_broken_sensor_file_shows_its_error_instead_of_failing(tmp_path: Path) -> None:
    root = _write_minimal(tmp_path / "tiny", "jobs:\n  all:\n    select: a\n")
    (root / "sensors").mkdir()
    (root / "sensors" / "bad.py").write_text("x = 1\nraise RuntimeError('boom <b>')\n")
    run = CliRunner().invoke(cli, ["docs", "generate", "--project-dir", str(root)])
    assert run.exit_code == 0, run.output
    out = root / "target" / "docs"
    text, index, _ = _load(out)
    auto = index["automation"]
    assert "sensors/bad.py:2" in auto["error"] and "boom <b>" in auto["error"]
    assert [j["name"] for j in auto["jobs"]] == ["all"]  # the project file's jobs still listed
    assert auto["schedules"] == [] and auto["sensors"] == []
    assert "<b>" not in text


def test_cli_generates_the_example_automation(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "ex")
    run = CliRunner().invoke(cli, ["docs", "generate", "--project-dir", str(root)])
    assert run.exit_code == 0, run.output
    _, index, _ = _load(root / "target" / "docs")
    auto = index["automation"]
    assert [s["name"] for s in auto["schedules"]] == ["order_lines_nightly"]
    assert auto["schedules"][0]["next_tick"]  # computed from the real clock
    assert [s["name"] for s in auto["sensors"]] == ["alert_on_failure", "landing_files"]
    assert auto["sensors"][1]["cursor"] is None and auto["sensors"][1]["ticks"] == []


def _schedule_data(root: Path) -> dict:
    project = load_project(RunOptions(project_dir=root))
    with SQLiteStateStore.for_project(root, readonly=True) as reader:
        auto = automation_data(project, reader, now=NOW)
    assert auto is not None
    (sched,) = auto["schedules"]
    return sched


def test_a_never_ticked_schedule_is_due_since_its_newest_tick(tmp_path: Path) -> None:
    """The daemon's first evaluation runs the newest tick at or before now: it is due, not next."""
    root = copy_example(tmp_path / "ex")  # no state at all
    sched = _schedule_data(root)
    # as of 2024-06-01 12:00 UTC, 02:00 in Amsterdam (CEST) was 2024-06-01 00:00 UTC
    assert sched["next_tick"] == "2024-06-01T00:00:00+00:00"
    assert sched["due"] is True and sched["due_since"] == sched["next_tick"]
    assert sched["first_evaluation"] is True
    assert sched["upcoming_tick"] == "2024-06-02T00:00:00+00:00"


def test_ticks_missed_while_no_daemon_ran_are_due_since_the_first(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "ex")
    with SQLiteStateStore.for_project(root) as store:  # handled up to 2024-05-29, then nothing
        store.set_cursor(schedule_cursor_name(SCHEDULE), "2024-05-29T00:00:00+00:00")
    sched = _schedule_data(root)
    assert (sched["due"], sched["due_since"]) == (True, "2024-05-30T00:00:00+00:00")
    assert sched["first_evaluation"] is False
    assert sched["upcoming_tick"] == "2024-06-02T00:00:00+00:00"
