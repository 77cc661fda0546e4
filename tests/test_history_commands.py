"""``orch runs``, ``orch runs show``, ``orch retry`` and the JSON of the listing commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from orch.state import SQLiteStateStore

from tests.conftest import Run, write_project

BAD = "select cast('abc' as integer) as x from a\n"
GOOD = "select 2 as x from a\n"
FILES = {
    "models/a.sql": "{{ config(materialized='table') }}\nselect {{ var('n') }} as x\n",
    "models/b.sql": "{{ config(materialized='table') }}\nselect x from a\n",
    "models/bad.sql": "{{ config(materialized='table') }}\n" + BAD,
    "models/c.sql": "{{ config(materialized='table') }}\nselect x + 1 as y from bad\n",
    "models/schema.yml": """\
        version: 2
        models:
          - name: b
            columns:
              - name: x
                tests: [not_null]
        """,
}


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def failed_build(tmp_path: Path, orch: Callable[..., Run]) -> Path:
    """A project whose build of everything failed on ``bad`` and skipped ``c``."""
    root = write_project(tmp_path / "p", FILES)
    run = orch("build", "--project-dir", root, "--vars", "{n: 7}", "--threads", "2")
    assert run.exit_code == 1, run.output
    return root


def runs_json(orch: Callable[..., Run], root: Path, *args: str) -> dict[str, Any]:
    run = orch("runs", "--project-dir", root, "--output", "json", *args)
    assert run.exit_code == 0, run.output
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def show_json(orch: Callable[..., Run], root: Path, run_id: str) -> dict[str, Any]:
    run = orch("runs", "show", run_id, "--project-dir", root, "--output", "json")
    assert run.exit_code == 0, run.output
    data: dict[str, Any] = json.loads(run.stdout)
    return data


# --------------------------------------------------------------------------- orch runs


def test_runs_lists_newest_first_as_text_and_json(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = failed_build(tmp_path, orch)
    (root / "models/bad.sql").write_text(GOOD, encoding="utf-8")
    assert orch("build", "--project-dir", root, "-s", "bad+", "--vars", "{n: 7}").exit_code == 0
    text = orch("runs", "--project-dir", root)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["run", "command", "status", "started", "(UTC)", "duration",
                                "ok", "failed", "skipped", "selection"]  # fmt: skip
    newest, oldest = lines[1].split(), lines[2].split()
    assert newest[1:3] == ["build", "success"] and newest[-4:] == ["2", "0", "0", "bad+"]
    assert oldest[1:3] == ["build", "failed"] and oldest[-4:] == ["2", "1", "1", "(all)"]
    assert len(lines) == 3

    data = runs_json(orch, root, "--limit", "1")
    assert data["schema_version"] == 1 and len(data["runs"]) == 1
    run = data["runs"][0]
    assert set(run) == {"run_id", "command", "status", "target", "started_at", "finished_at",
                        "duration_s", "steps", "selection", "args"}  # fmt: skip
    assert (run["command"], run["status"], run["target"], run["selection"]) == (
        "build", "success", "dev", "bad+"
    )  # fmt: skip
    assert run["steps"] == {"success": 2, "failed": 0, "skipped": 0}
    assert run["args"]["select"] == ["bad+"] and run["args"]["vars"] == {"n": 7}
    assert run["duration_s"] >= 0 and lines[1].startswith(run["run_id"][:8])


def test_runs_without_history(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"})
    run = orch("runs", "--project-dir", root)
    assert run.exit_code == 0 and run.stdout == "No runs recorded yet: 'orch build' records one.\n"
    assert runs_json(orch, root) == {"schema_version": 1, "runs": []}
    assert not (root / ".orch").exists()  # reading the history writes nothing


TWO_TARGETS = """\
shop:
  target: dev
  outputs:
    dev: {type: duckdb, path: dev.duckdb, schema: analytics}
    prod: {type: duckdb, path: prod.duckdb, schema: analytics}
"""


def test_runs_of_one_target(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"}, None, TWO_TARGETS)
    assert orch("build", "--project-dir", root).exit_code == 0
    assert orch("build", "--project-dir", root, "--target", "prod").exit_code == 0
    every = runs_json(orch, root)["runs"]
    assert [r["target"] for r in every] == ["prod", "dev"]
    assert [r["target"] for r in runs_json(orch, root, "--target", "dev")["runs"]] == ["dev"]
    prod = runs_json(orch, root, "--target", "prod")["runs"]
    assert [(r["target"], r["args"]["target"]) for r in prod] == [("prod", "prod")]


def test_a_dead_run_lists_as_interrupted(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with SQLiteStateStore.for_project(root) as state:
        state.start_run("build", target="dev", selection="a", run_id="dead" * 8, pid=gone.pid)
    (run,) = runs_json(orch, root)["runs"]
    assert (run["run_id"], run["status"], run["finished_at"]) == ("dead" * 8, "interrupted", None)
    assert " interrupted " in orch("runs", "--project-dir", root).stdout


# --------------------------------------------------------------------------- orch runs show


def test_runs_show_steps_errors_and_checks(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = failed_build(tmp_path, orch)
    run_id = runs_json(orch, root)["runs"][0]["run_id"]
    data = show_json(orch, root, run_id[:6])  # a unique prefix
    assert data["schema_version"] == 1 and data["run"]["run_id"] == run_id
    steps = {s["asset"]: s for s in data["steps"]}
    assert sorted(steps) == ["a", "b", "bad"]  # c was skipped: no attempt is recorded
    assert steps["a"]["status"] == "success" and steps["a"]["rows"] == 1
    assert steps["a"]["partition"] is None and steps["a"]["materialized"] == "table"
    assert steps["bad"]["status"] == "failed" and steps["bad"]["rows"] is None
    assert "Could not convert string 'abc' to INT32" in steps["bad"]["error"]
    assert [(c["check"], c["asset"], c["status"], c["failing_rows"]) for c in data["checks"]] == [
        ("not_null_b_x", "b", "pass", 0)
    ]

    text = orch("runs", "show", run_id[:6], "--project-dir", root)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"Run {run_id}: build on target 'dev', failed"
    assert lines[1].endswith("steps: 2 ok, 1 failed, 1 skipped")
    assert lines[2] == "  selection: (all)"
    step_lines = [ln.split()[:2] for ln in lines if ln.startswith(("  success", "  failed"))]
    assert sorted(step_lines) == [["failed", "bad"], ["success", "a"], ["success", "b"]]
    assert any("Could not convert string 'abc' to INT32" in ln for ln in lines)
    assert "  pass     not_null_b_x" in text.stdout and "failing rows 0" in text.stdout


def _runs_with_ids(root: Path, *ids: str) -> None:
    with SQLiteStateStore.for_project(root) as state:
        for run_id in ids:
            state.start_run("build", target="dev", run_id=run_id)
            state.finish_run(run_id, "success")


def test_runs_show_unknown_id_names_the_closest(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"})
    run = orch("runs", "show", "0123", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: unknown run '0123': no run is recorded yet. Run 'orch build' first; "
        "'orch runs' lists the recorded runs\n"
    )
    _runs_with_ids(root, "abcdef12" + "0" * 24, "abcd9999" + "1" * 24, "77777777" + "2" * 24)
    run = orch("runs", "show", "abcdef13", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: unknown run 'abcdef13'. Did you mean 'abcdef12'? (see 'orch runs')\n"
    )
    run = orch("runs", "show", "zzzz", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: unknown run 'zzzz'. The newest runs are '77777777', 'abcd9999', 'abcdef12' "
        "(see 'orch runs')\n"
    )
    run = orch("runs", "show", "abcd", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: run id prefix 'abcd' matches 2 runs: 'abcd99991111', 'abcdef120000'. "
        "Give more characters of the run id (see 'orch runs')\n"
    )
    assert show_json(orch, root, "abcde")["run"]["run_id"] == "abcdef12" + "0" * 24


# --------------------------------------------------------------------------- orch retry


def test_retry_builds_exactly_the_failed_and_skipped_steps(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = failed_build(tmp_path, orch)
    first = runs_json(orch, root)["runs"][0]
    assert first["args"] == {
        "select": [], "exclude": [], "full_refresh": False, "vars": {"n": 7}, "target": None,
        "partition": None, "start": None, "end": None, "threads": 2, "fail_fast": False,
        "changed": False,
    }  # fmt: skip
    # still failing: the retry runs bad and c again, and fails again
    again = orch("retry", "--project-dir", root)
    assert again.exit_code == 1, again.output
    assert again.stdout.startswith(
        f"Retrying 2 steps of build {first['run_id'][:8]} (failed): bad, c\n"
    )
    (root / "models/bad.sql").write_text(GOOD, encoding="utf-8")
    # a retry of a retry: what is left of its steps, with the first run's vars (n has no default)
    fixed = orch("retry", "--project-dir", root)
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout.splitlines()[0].endswith("(failed): bad, c")
    newest = runs_json(orch, root)["runs"]
    assert [r["status"] for r in newest] == ["success", "failed", "failed"]
    assert newest[0]["args"]["retry_of"] == newest[1]["run_id"]
    assert newest[1]["args"]["retry_of"] == first["run_id"]
    detail = show_json(orch, root, newest[0]["run_id"])
    assert [(s["asset"], s["status"]) for s in detail["steps"]] == [
        ("bad", "success"), ("c", "success")
    ]  # fmt: skip
    assert rows(root, "select y from analytics.c") == [(3,)]
    assert rows(root, "select x from analytics.a") == [(7,)]
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        history = state.materialization_history("a")
    assert len(history) == 1  # a was built once, by the first build

    done = orch("retry", "--project-dir", root)
    assert done.exit_code == 0
    assert (
        done.stdout == f"Nothing to retry: the last build ({newest[0]['run_id'][:8]}) succeeded.\n"
    )


def test_retry_keeps_the_selection_and_skips_other_commands(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", FILES)
    run = orch("run", "--project-dir", root, "-s", "+c", "--exclude", "b", "--vars", "{n: 1}")
    assert run.exit_code == 1, run.output
    test = orch("test", "--project-dir", root, "-s", "b", "--vars", "{n: 1}")
    assert test.exit_code == 1, test.output  # b is not built; orch retry skips this test run
    assert runs_json(orch, root)["runs"][0]["command"] == "test"
    (root / "models/bad.sql").write_text(GOOD, encoding="utf-8")
    retry = orch("retry", "--project-dir", root)
    assert retry.exit_code == 0, retry.output
    assert retry.stdout.splitlines()[0].endswith("(failed): bad, c")
    newest = runs_json(orch, root)["runs"][0]
    assert (newest["command"], newest["args"]["select"], newest["args"]["exclude"]) == (
        "run", ["+c"], ["b"]
    )  # fmt: skip
    assert rows(root, "select y from analytics.c") == [(3,)]
    assert not rows(root, "select * from information_schema.tables where table_name = 'b'")


PARTITIONED = {
    "models/by_key.sql": """\
        {{ config(materialized='table', partitioned_by={'keys': ['a', 'b', 'c'], 'column': 'k'}) }}
        select {{ partition.key }} as k,
               cast(case when {{ partition.key }} = 'b' then 'oops' else '1' end as integer) as v
        """,
    "models/by_key_copy.sql": """\
        {{ config(materialized='table', partitioned_by={'keys': ['a', 'b', 'c'], 'column': 'k'}) }}
        select k, v * 10 as v from by_key where k = {{ partition.key }}
        """,
}


def test_retry_runs_the_failed_and_skipped_partitions(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", PARTITIONED)
    assert orch("build", "--project-dir", root).exit_code == 1
    model = (root / "models/by_key.sql").read_text(encoding="utf-8")
    (root / "models/by_key.sql").write_text(model.replace("'oops'", "'2'"), encoding="utf-8")
    retry = orch("retry", "--project-dir", root)
    assert retry.exit_code == 0, retry.output
    assert retry.stdout.splitlines()[0].endswith("(failed): by_key[b], by_key_copy[b]")
    newest = runs_json(orch, root)["runs"][0]["run_id"]
    steps = show_json(orch, root, newest)["steps"]
    assert [(s["asset"], s["partition"], s["status"]) for s in steps] == [
        ("by_key", "b", "success"), ("by_key_copy", "b", "success")
    ]  # fmt: skip
    assert rows(root, "select k, v from analytics.by_key_copy order by k") == [
        ("a", 10), ("b", 20), ("c", 10)
    ]  # fmt: skip


def test_retry_without_a_run(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"})
    assert orch("test", "--project-dir", root).exit_code == 0  # no check: records nothing
    run = orch("retry", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: nothing to retry: no build, run or seed is recorded on target 'dev'. "
        "Run 'orch build' first; 'orch runs' lists the recorded runs\n"
    )


# --------------------------------------------------------------------------- --output json

AUTOMATION_YML = """\
name: shop
profile: shop
jobs:
  nightly_job:
    select: +a
    vars: {n: 1}
schedules:
  nightly:
    job: nightly_job
    cron: "0 6 * * *"
sensors:
  landing:
    type: file
    job: nightly_job
    directory: landing
    glob: "*.csv"
    minimum_interval_seconds: 5
"""


def test_automation_listings_as_json(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"}, AUTOMATION_YML)
    (root / "landing").mkdir()
    jobs = json.loads(orch("job", "ls", "--project-dir", root, "--output", "json").stdout)
    assert jobs == {"schema_version": 1, "jobs": [{
        "name": "nightly_job", "kind": "assets", "select": "+a", "exclude": None,
        "partitions": None, "vars": {"n": 1}, "description": "", "schedules": ["nightly"],
        "sensors": ["landing"],
    }]}  # fmt: skip
    schedules = json.loads(orch("schedule", "ls", "--project-dir", root, "--output", "json").stdout)
    assert schedules["schema_version"] == 1
    (schedule,) = schedules["schedules"]
    assert {k: v for k, v in schedule.items() if k not in ("next_tick", "due")} == {
        "name": "nightly", "job": "nightly_job", "cron": "0 6 * * *", "timezone": "UTC",
        "catchup": "latest", "partition": "last_closed", "enabled": True, "last_tick": None,
    }  # fmt: skip
    assert (
        schedule["next_tick"].endswith("T06:00:00Z") and schedule["due"] is True
    )  # never ticked: due
    sensors = json.loads(orch("sensor", "ls", "--project-dir", root, "--output", "json").stdout)
    assert sensors == {"schema_version": 1, "sensors": [{
        "name": "landing", "kind": "file", "job": "nightly_job",
        "minimum_interval_seconds": 5.0, "enabled": True, "cursor": None, "last_tick": None,
    }]}  # fmt: skip

    assert (
        orch("schedule", "tick", "--project-dir", root, "--now", "2024-03-02T07:00").exit_code == 0
    )
    sensors = json.loads(orch("sensor", "ls", "--project-dir", root, "--output", "json").stdout)
    tick = sensors["sensors"][0]["last_tick"]
    assert set(tick) == {"tick_time", "status", "run_ids", "skip_reason", "error"}
    assert tick["status"] == "skipped" and tick["run_ids"] == []


def test_automation_listings_empty_as_json(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", {"models/a.sql": "select 1 as x"})
    for group, key in (("job", "jobs"), ("schedule", "schedules"), ("sensor", "sensors")):
        run = orch(group, "ls", "--project-dir", root, "--output", "json")
        assert run.exit_code == 0, run.output
        assert json.loads(run.stdout) == {"schema_version": 1, key: []}
