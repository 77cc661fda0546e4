"""The one freshness rule (orch.run.freshness): propagation, failed runs and checks, partitions,
and the agreement of ``orch status --output json``, the docs site and ``build --changed``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig, RunOptions
from orch.run.workflow import run_command
from orch.state import SQLiteStateStore, StateStore
from orch.state.warehouse import WarehouseStateStore

from tests.conftest import Run, write_project

CLOCK_MODULES = ("orch.run.partition_plan", "orch.run.plan", "orch.run.status", "orch.docs")
SKIPPABLE = ("lookback", "upstream rebuilt")  # plan reasons that are no freshness status
CODES = {"up to date": "m", "last run failed": "f", "missing": "-", "never built": "-"}


class Clock:
    """The moment that decides the last complete partition, movable (the only thing mocked)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        for module in CLOCK_MODULES:
            monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, datetime(2024, 6, 15, 12, 0, tzinfo=timezone.utc))


# --------------------------------------------------------------------------- the three views


def status_view(orch: Callable[..., Run], project: Path) -> dict[str, Any]:
    run = orch("status", "--project-dir", project, "--output", "json")
    assert run.exit_code == 0, run.output
    return {a["asset"]: a for a in json.loads(run.stdout)["assets"]}


def stale_steps(status: dict[str, Any]) -> dict[str, str]:
    """step id -> reason of everything ``orch status`` calls stale."""
    out = {}
    for name, item in status.items():
        if item["partitions"] is None:
            if item["status"] != "up to date":
                out[name] = item["reason"]
            continue
        for part in item["partitions"]:
            if part["status"] != "up to date":
                out[f"{name}[{part['key']}]"] = part["reason"]
    return out


def site_view(orch: Callable[..., Run], project: Path) -> tuple[dict, dict[str, dict]]:
    out = project / "target" / "site"
    run = orch("docs", "generate", "--project-dir", project, "-o", out)
    assert run.exit_code == 0, run.output
    text = (out / "data.js").read_text(encoding="utf-8")
    index = json.loads(text[len("window.ORCH_DOCS=") : -2])
    details: dict[str, dict] = {}
    for chunk in sorted((out / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        for item in json.loads(body[body.index(",") + 1 : -3]):
            details[item["name"]] = item
    return index, details


def plan_view(orch: Callable[..., Run], project: Path) -> dict[str, str]:
    """step id -> reason of ``orch build --changed --dry-run``."""
    run = orch("build", "--project-dir", project, "--changed", "--dry-run")
    assert run.exit_code == 0, run.output
    steps = {}
    for line in run.stdout.splitlines()[1:]:
        if line == "Change classification:":  # what each code change rebuilds (run/change.py)
            break
        if line.endswith("(skipped)"):
            continue
        match = re.match(r"^  (\S+)\s+(\S+)\s+(.*)$", line)
        assert match, line
        steps[match.group(1)] = match.group(3)
    return steps


def assert_agreement(orch: Callable[..., Run], project: Path) -> dict[str, str]:
    """Status, site and plan agree on every asset and partition; returns what is stale."""
    status = status_view(orch, project)
    index, details = site_view(orch, project)
    plan = plan_view(orch, project)
    stale = stale_steps(status)
    for name, item in status.items():
        site = details[name]
        expected = {k: item[k] for k in ("status", "reason", "causes")}
        assert site["freshness"] == expected, name
        assert (site["status"] == "fresh") == (item["status"] == "up to date"), name
        position = index["nodes"]["n"].index(name)
        assert index["statuses"][index["nodes"]["s"][position]] == site["status"]
        if item["partitions"] is None:
            assert site["partitions"] is None, name
            continue
        strip = site["partitions"]
        assert strip["keys"] == [p["key"] for p in item["partitions"]], name
        want = "".join(CODES.get(p["status"], "s") for p in item["partitions"])
        assert strip["codes"] == want, name
    for sid, reason in stale.items():
        assert plan.get(sid) == reason, (sid, reason, plan.get(sid))
    for sid, reason in plan.items():
        assert sid in stale or reason in SKIPPABLE, (sid, reason)
    return stale


# --------------------------------------------------------------------------- the example project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def build_changed(orch: Callable[..., Run], project: Path, code: int = 0) -> Run:
    run = orch("build", "--project-dir", project, "--changed")
    assert run.exit_code == code, run.output
    return run


def test_status_site_and_plan_agree_through_edits(
    example_project: Path, orch: Callable[..., Run], clock: Clock
) -> None:
    project = example_project
    models = project / "models"
    assert orch("build", "--project-dir", project).exit_code == 0
    assert assert_agreement(orch, project) == {}

    # a comment and reformatting: fingerprints ignore them, nothing is stale
    edit(models / "staging" / "stg_orders.sql", "select\n", "select  -- a comment\n\n")
    assert assert_agreement(orch, project) == {}

    # an SQL change: stale downstream through every intermediate asset, with the root cause
    edit(models / "staging" / "stg_orders.sql", "as status", "as status, 1 as one")
    stale = assert_agreement(orch, project)
    assert stale["stg_orders"] == "code changed"
    root = "upstream stg_orders code changed"
    for name in ("orders", "customers", "customer_segments", "channel_revenue_trend"):
        assert stale[name] == root, name
    assert stale["monthly_channel_revenue[2024-01]"] == root  # partitioned over unpartitioned
    status = status_view(orch, project)
    assert status["channel_revenue_trend"]["causes"][-1] == "stg_orders"
    assert len(status["channel_revenue_trend"]["causes"]) >= 3
    build_changed(orch, project)
    assert assert_agreement(orch, project) == {}

    # a Python asset change
    edit(models / "analytics" / "customer_segments.py", "at_risk_after_days: int = 90",
         "at_risk_after_days: int = 91")  # fmt: skip
    stale = assert_agreement(orch, project)
    assert stale["customer_segments"] == "code changed"
    assert stale["crm_vip_sync"] == "upstream customer_segments code changed"
    assert "orders" not in stale
    build_changed(orch, project)
    assert assert_agreement(orch, project) == {}

    # a failing blocking check: stale until it passes
    marts = models / "marts" / "_marts.yml"
    edit(marts, "row_count: {min: 366, max: 366}",
         "row_count: {min: 367, max: 367, config: {blocking: true}}")  # fmt: skip
    assert assert_agreement(orch, project) == {}  # not evaluated yet
    assert orch("test", "--project-dir", project, "-s", "daily_revenue").exit_code == 1
    stale = assert_agreement(orch, project)
    assert list(stale) == ["daily_revenue"]
    assert re.fullmatch(r"check \S+ failed", stale["daily_revenue"])
    build_changed(orch, project, code=1)  # rebuilt, and the check fails again
    assert list(assert_agreement(orch, project)) == ["daily_revenue"]
    edit(marts, "row_count: {min: 367, max: 367, config: {blocking: true}}",
         "row_count: {min: 366, max: 366, config: {blocking: true}}")  # fmt: skip
    build_changed(orch, project)
    assert assert_agreement(orch, project) == {}

    # new partitions: time passes
    clock.now = datetime(2024, 7, 2, 12, 0, tzinfo=timezone.utc)
    stale = assert_agreement(orch, project)
    assert stale["fct_order_lines[2024-06-15]"] == "missing"
    assert stale["monthly_category_sales[2024-06]"] == "missing"
    assert "monthly_category_sales[2024-05]" not in stale
    build_changed(orch, project)
    assert assert_agreement(orch, project) == {}


# --------------------------------------------------------------------------- small projects

CHAIN = {
    "seeds/raw.csv": "id\n1\n2\n",
    "models/a.sql": "{{ config(materialized='table') }}\nselect id from raw",
    "models/b.sql": "{{ config(materialized='table') }}\nselect id from a",
    "models/c.sql": "{{ config(materialized='table') }}\nselect id from b",
    "models/a.yml": """\
        models:
          - name: a
            columns:
              - name: id
                tests:
                  - accepted_values:
                      values: [1, 2]
                      config: {blocking: true}
        """,
}


def test_a_failed_last_run_is_stale_and_propagates(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", CHAIN)
    assert orch("build", "--project-dir", root).exit_code == 0
    (root / "models" / "a.sql").write_text(
        "{{ config(materialized='table') }}\nselect id from raw where error('boom') is null",
        "utf-8",
    )
    assert orch("build", "--project-dir", root, "-s", "a").exit_code == 1
    status = status_view(orch, root)
    assert (status["a"]["status"], status["a"]["reason"]) == ("last run failed", "last run failed")
    assert status["c"]["reason"] == "upstream a last run failed"
    assert status["c"]["causes"] == ["b", "a"]
    assert status["c"]["status"] == "upstream changed"
    assert set(assert_agreement(orch, root)) == {"a", "b", "c"}


def test_a_failed_blocking_check_is_stale_and_propagates(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", CHAIN)
    assert orch("build", "--project-dir", root).exit_code == 0
    (root / "seeds" / "raw.csv").write_text("id\n1\n2\n3\n", "utf-8")
    assert orch("build", "--project-dir", root).exit_code == 1  # a's check fails: b, c skipped
    status = status_view(orch, root)
    assert status["a"]["status"] == "check failed"
    assert status["a"]["reason"] == "check accepted_values_a_id__1__2 failed"
    assert status["b"]["reason"] == "upstream a check accepted_values_a_id__1__2 failed"
    assert set(assert_agreement(orch, root)) == {"a", "b", "c"}


WEEKLY = {
    "models/daily.sql": """\
        {{ config(materialized='incremental',
                  partitioned_by={'grain': 'daily', 'start': '2024-01-08', 'end': '2024-01-10',
                                  'column': 'day'}) }}
        select {{ partition.start }}::timestamp as day, count(*) as n from range(3000000)
        """,
    "models/weekly.sql": """\
        {{ config(materialized='incremental',
                  partitioned_by={'grain': 'weekly', 'start': '2024-01-01', 'end': '2024-01-15',
                                  'column': 'week'}) }}
        select {{ partition.start }}::timestamp as week, count(*) as n from daily
        """,
}


def test_a_fresh_build_of_weekly_over_daily_waits_for_the_daily_table(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", WEEKLY)
    # 2024-W01 maps to no day of daily (it starts on 2024-01-08): it still waits for daily
    run = orch("build", "--project-dir", root, "-s", "+weekly", "--threads", "8")
    assert run.exit_code == 0, run.output
    assert assert_agreement(orch, root) == {}


def test_a_week_mapping_to_no_day_waits_for_the_first_daily_step(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", WEEKLY)
    options = RunOptions(project_dir=root, select=("+weekly",), dry_run=True)
    plan = run_command(options, "build").plan
    assert plan.steps["weekly[2024-W01]"].upstream == {"daily[2024-01-08]"}  # maps to no day
    assert plan.steps["weekly[2024-W02]"].upstream == {"daily[2024-01-08]", "daily[2024-01-09]"}


def test_the_site_lists_weekly_keys_without_phantom_cells(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", WEEKLY)
    assert orch("build", "--project-dir", root).exit_code == 0
    _, details = site_view(orch, root)
    strip = details["weekly"]["partitions"]
    assert strip["keys"] == ["2024-W01", "2024-W02"]
    assert strip["codes"] == "mm" and details["weekly"]["status"] == "fresh"


STATIC = {
    "models/up.sql": "{{ config(materialized='table') }}\nselect 'eu' as region, 1 as n",
    "models/regional.sql": """\
        {{ config(materialized='incremental',
                  partitioned_by={'keys': ['eu', 'us'], 'column': 'region'}) }}
        select region, n from up where region = {{ partition.key }}
        """,
}


def test_a_refreshed_unpartitioned_upstream_leaves_partitions_up_to_date(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", STATIC)
    assert orch("build", "--project-dir", root).exit_code == 0
    assert assert_agreement(orch, root) == {}
    assert orch("build", "--project-dir", root, "-s", "up").exit_code == 0  # a refresh
    assert assert_agreement(orch, root) == {}  # every static key stays up to date
    (root / "models" / "up.sql").write_text(
        "{{ config(materialized='table') }}\nselect 'eu' as region, 2 as n", "utf-8"
    )
    stale = assert_agreement(orch, root)  # a pending change: every partition
    assert stale == {
        "up": "code changed",
        "regional[eu]": "upstream up code changed",
        "regional[us]": "upstream up code changed",
    }
    build_changed(orch, root)
    assert assert_agreement(orch, root) == {}


def test_status_json_shape(tmp_path: Path, orch: Callable[..., Run]) -> None:
    root = write_project(tmp_path / "p", STATIC)
    raw = json.loads(orch("status", "--project-dir", root, "--output", "json").stdout)
    assert list(raw) == ["schema_version", "assets"] and raw["schema_version"] == 1
    status = status_view(orch, root)
    assert status["up"] == {
        "asset": "up",
        "materialized": "table",
        "status": "never built",
        "reason": "never built",
        "causes": [],
        "last_run": None,
        "finished_at": None,
        "data_version": None,
        "read": {},
        "partitions": None,
        "built_by": None,
    }
    regional = status["regional"]
    assert regional["status"] == "never built"
    assert regional["partitions"] == [
        {"key": "eu", "status": "missing", "reason": "missing", "causes": []},
        {"key": "us", "status": "missing", "reason": "missing", "causes": []},
    ]


# --------------------------------------------------------------------------- the state read


def _stores(tmp_path: Path) -> list[StateStore]:
    adapter = DuckDBAdapter(DuckDBTargetConfig(path="w.duckdb", state="warehouse"), tmp_path)
    adapter.open()
    return [
        SQLiteStateStore.for_project(tmp_path),
        WarehouseStateStore(adapter, owns_adapter=True),
    ]


def test_latest_failures_are_the_latest_attempts_that_failed(tmp_path: Path) -> None:
    t0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    for store in _stores(tmp_path):
        try:
            run = store.start_run("build", target="dev", started_at=t0)
            for asset, key, statuses in [
                ("ok", None, ["failed", "success"]),
                ("broken", None, ["success", "failed"]),
                ("never", None, ["failed"]),
                ("parts", "eu", ["success", "failed"]),
                ("parts", "us", ["failed", "success"]),
            ]:
                for status in statuses:
                    store.record_materialization(
                        run_id=run, asset=asset, partition_key=key, status=status,
                        started_at=t0, finished_at=t0, fingerprint="fp",
                    )  # fmt: skip
            failures = store.latest_failures(target="dev")
            assert sorted(failures) == [("broken", None), ("never", None), ("parts", "eu")]
            assert all(r.status == "failed" for r in failures.values())
            assert sorted(store.latest_failures(["parts"], target="dev")) == [("parts", "eu")]
            assert store.latest_failures(target="prod") == {}
        finally:
            store.close()
