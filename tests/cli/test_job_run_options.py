"""``orch job run NAME`` with -s/--exclude/--dry-run/--full-refresh, and --partition checked."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MakeProject, run_cli

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
jobs:
  nightly:
    select: "a+ d"
    exclude: c
  daily:
    select: daily_events
"""

FILES = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select x from b",
    "models/d.sql": "select 2 as y",
    "models/daily_events.sql": """\
        {{ config(materialized='incremental', partitioned_by={'grain': 'daily',
            'start': '2024-01-01', 'end': '2024-01-05', 'column': 'day'}) }}
        select cast({{ partition.start }} as date) as day
        """,
}


def _built(root: Path) -> list[str]:
    results = json.loads((root / "target" / "run_results.json").read_text())
    return sorted(r["unique_id"].rsplit(".", 1)[-1] for r in results["results"])


def test_select_narrows_the_job(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "nightly", "--project-dir", root, "-s", "a", "b")
    assert run.exit_code == 0, run.output
    assert _built(root) == ["a", "b"]


def test_exclude_adds_to_the_job(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "nightly", "--project-dir", root, "--exclude", "b", "d")
    assert run.exit_code == 0, run.output
    assert _built(root) == ["a"]


def test_the_name_after_select_words_is_the_job(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "--project-dir", root, "-s", "a", "d", "nightly")
    assert run.exit_code == 0, run.output
    assert _built(root) == ["a", "d"]


def test_dry_run_prints_the_plan_and_builds_nothing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "nightly", "--project-dir", root, "--dry-run")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines()[0] == "Plan: 3 steps (dry run, nothing was built)"
    steps = sorted(line.split()[0] for line in run.stdout.splitlines()[1:])
    assert steps == ["a", "b", "d"]
    assert not (root / "target" / "run_results.json").exists()


def test_full_refresh_rebuilds_incremental_models(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "daily", "--project-dir", root, "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    run = run_cli("job", "run", "daily", "--project-dir", root, "--dry-run")
    assert run.stdout.splitlines() == [
        "Plan: 3 steps (dry run, nothing was built)",
        *(f"  {f'daily_events[2024-01-0{d}]':<40} incremental  missing" for d in (1, 3, 4)),
    ]
    run = run_cli("job", "run", "daily", "--project-dir", root, "--full-refresh", "--dry-run")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == [
        "Plan: 4 steps (dry run, nothing was built)",
        *(f"  {f'daily_events[2024-01-0{d}]':<40} incremental  full refresh" for d in range(1, 5)),
    ]


def test_partition_on_an_unpartitioned_job_is_an_error(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "nightly", "--project-dir", root, "--partition", "2024-01-02")
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: job 'nightly' has no partitioned asset, so it takes no partition "
        "(--partition 2024-01-02). Run 'orch job run nightly' without --partition, or select "
        "partitioned assets in the job\n"
    )
    assert not (root / "target" / "run_results.json").exists()


def test_partition_on_a_partitioned_job_builds_it(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES, project_yml=PROJECT_YML)
    run = run_cli("job", "run", "daily", "--project-dir", root, "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    results = json.loads((root / "target" / "run_results.json").read_text())
    assert [r["unique_id"].rsplit(".", 1)[-1] for r in results["results"]] == ["daily_events"]
