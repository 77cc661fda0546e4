"""``orch source freshness``: dbt's keys and inheritance, statuses, exit codes, the state store."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
"""

SOURCES_YML = """\
sources:
  - name: raw
    schema: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: fresh_orders
      - name: late_orders
      - name: old_orders
        freshness:
          warn_after: {count: 2, period: day}
      - name: filtered
        freshness:
          filter: "region = 'eu'"
      - name: no_check
        freshness: null
      - name: other_field
        loaded_at_field: synced_at
  - name: crm
    schema: raw
    tables:
      - name: customers
"""


def _warehouse(root: Path, broken: bool = False) -> None:
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("create schema if not exists raw")
    ts = "cast(now() as timestamp)"  # naive: read as UTC
    for name, age in [("fresh_orders", "10 minutes"), ("late_orders", "3 hours"),
                      ("old_orders", "30 hours"), ("no_check", "40 days")]:  # fmt: skip
        con.execute(
            f"create or replace table raw.{name} as select 1 as id, "
            f"{ts} - interval '{age}' as loaded_at"
        )
    con.execute(
        "create or replace table raw.filtered as select * from (values "
        f"('eu', {ts} - interval '5 days'), ('us', {ts})) t(region, loaded_at)"
    )
    field = "loaded_at" if broken else "synced_at"
    con.execute(f"create or replace table raw.other_field as select {ts} as {field}")
    con.execute("create or replace table raw.customers as select 1 as id")
    con.close()


@pytest.fixture
def project(make_project, tmp_path):  # type: ignore[no-untyped-def]
    root = make_project(
        tmp_path,
        {"models/sources.yml": SOURCES_YML, "models/orders.sql": "select * from raw.late_orders\n"},
        project_yml=PROJECT_YML,
    )
    _warehouse(root)
    return root


def test_statuses_follow_dbts_thresholds_and_inheritance(project, orch) -> None:  # type: ignore[no-untyped-def]
    run = orch("source", "freshness", "--project-dir", project)
    assert run.exit_code == 1, run.output  # filtered is past error_after
    lines = run.stdout.splitlines()
    by_source = {line[15:].split(":")[0]: line for line in lines[:-1]}
    assert sorted(by_source) == ["raw.filtered", "raw.fresh_orders", "raw.late_orders",
                                 "raw.old_orders", "raw.other_field"]  # fmt: skip
    assert by_source["raw.fresh_orders"].startswith("PASS ")
    assert by_source["raw.late_orders"].startswith("WARN ")
    assert (
        "newest row 3h 0m old (warn after 1 hour, error after 1 day)"
        in (by_source["raw.late_orders"])
    )
    # the table's warn_after replaces the source's; error_after is inherited
    assert by_source["raw.old_orders"].startswith("ERROR ")
    assert "(warn after 2 days, error after 1 day)" in by_source["raw.old_orders"]
    # the filter keeps the eu rows only: 5 days old
    assert (
        by_source["raw.filtered"].startswith("ERROR ") and "5d 0h old" in by_source["raw.filtered"]
    )
    assert by_source["raw.other_field"].startswith("PASS ")  # the table's own loaded_at_field
    assert lines[-1] == "2 pass, 1 warn, 2 error"
    # freshness: null turned no_check off; crm has no rule at all
    assert "no_check" not in run.stdout and "crm" not in run.stdout


def test_results_are_stored_and_shown_by_status(project, orch) -> None:  # type: ignore[no-untyped-def]
    run = orch("source", "freshness", "-s", "source:raw.late_orders", "--output", "json",
               "--project-dir", project)  # fmt: skip
    assert run.exit_code == 0, run.output  # a warning is not an error
    data = json.loads(run.stdout)["sources"]
    assert [(d["source"], d["status"]) for d in data] == [("raw.late_orders", "warn")]
    assert 3 * 3600 - 60 < data[0]["age_s"] < 3 * 3600 + 60
    status = orch("status", "--project-dir", project)
    assert status.exit_code == 0, status.output
    assert "Source freshness (last `orch source freshness`):" in status.stdout
    assert "WARN           raw.late_orders: newest row 3h 0m old" in status.stdout
    as_json = json.loads(orch("status", "--output", "json", "--project-dir", project).stdout)
    assert [r["source"] for r in as_json["source_freshness"]] == ["raw.late_orders"]
    # a later full check merges into the stored results
    orch("source", "freshness", "--project-dir", project)
    status = orch("status", "--project-dir", project)
    assert "raw.fresh_orders" in status.stdout and "raw.late_orders" in status.stdout


def test_a_failing_freshness_query_is_an_error_naming_the_source(project, orch) -> None:  # type: ignore[no-untyped-def]
    _warehouse(project, broken=True)  # raw.other_field has no synced_at column any more
    run = orch("source", "freshness", "-s", "source:raw.other_field", "--project-dir", project)
    assert run.exit_code == 1
    assert "Traceback" not in run.output
    line = run.stdout.splitlines()[0]
    assert line.startswith(
        "RUNTIME ERROR  raw.other_field: freshness query of source 'raw.other_field' failed: "
    )
    assert "synced_at" in line


@pytest.mark.parametrize(
    ("freshness", "message"),
    [
        ("{warn_after: {count: 1, period: week}}",
         "invalid freshness for source 'raw.t': 'freshness.warn_after.period': Input should be "
         "'minute', 'hour' or 'day'"),
        ("{error_after: {count: 0, period: day}}",
         "'freshness.error_after.count': Input should be greater than 0"),
        ("{warn_afterr: {count: 1, period: day}}", "'freshness.warn_afterr': Extra inputs"),
    ],
    ids=["period", "count", "unknown-key"],
)  # fmt: skip
def test_a_bad_rule_is_a_config_error(make_project, tmp_path, orch, freshness, message) -> None:  # type: ignore[no-untyped-def]
    yml = (
        "sources:\n  - name: raw\n    loaded_at_field: at\n    tables:\n      - name: t\n"
        f"        freshness: {freshness}\n"
    )
    files = {"models/s.yml": yml, "models/a.sql": "select 1 as x\n"}
    root = make_project(tmp_path, files, project_yml=PROJECT_YML)
    run = orch("source", "freshness", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: models/s.yml:5:1: invalid freshness for source 'raw.t'")
    assert message in run.stderr


def test_no_rule_says_so(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    root = make_project(tmp_path, {"models/a.sql": "select 1 as x\n"}, project_yml=PROJECT_YML)
    run = orch("source", "freshness", "--project-dir", root)
    assert run.exit_code == 0
    assert "no source table has a freshness rule" in run.stdout


def test_the_site_shows_rules_and_results_on_source_pages(project, orch) -> None:  # type: ignore[no-untyped-def]
    assert orch("docs", "generate", "--project-dir", project).exit_code == 0
    chunks = "".join(p.read_text() for p in (project / "target" / "docs" / "data").glob("a*.js"))
    assert "warn after 1 hour, error after 1 day on loaded_at (not checked yet" in chunks
    orch("source", "freshness", "--project-dir", project)
    assert orch("docs", "generate", "--project-dir", project).exit_code == 0
    chunks = "".join(p.read_text() for p in (project / "target" / "docs" / "data").glob("a*.js"))
    assert "WARN: raw.late_orders: newest row 3h 0m old (warn after 1 hour, error after 1 day)" in (
        chunks
    )


def test_freshness_null_in_a_tables_config(make_project, tmp_path, orch) -> None:  # type: ignore[no-untyped-def]
    """``config: {freshness: null}`` on a table turns its source's rule off, as the table's own
    ``freshness: null`` does (dbt-project-evaluator's source_1.table_5)."""
    sources = SOURCES_YML.replace(
        "      - name: no_check\n        freshness: null\n",
        "      - name: no_check\n        config:\n          freshness: null\n",
    )
    root = make_project(
        tmp_path,
        {"models/sources.yml": sources, "models/orders.sql": "select * from raw.late_orders\n"},
        project_yml=PROJECT_YML,
    )
    _warehouse(root)
    run = orch("source", "freshness", "--project-dir", root)
    assert "no_check" not in run.stdout and "raw.late_orders" in run.stdout, run.output
