"""Data versions, source observations and column-aware change pruning (issue 19, part 2)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from orch.events import utcnow
from orch.state import SQLiteStateStore

from tests.conftest import run_cli, write_project


def _plan(project: Path, *extra: str) -> str:
    run = run_cli("build", "--project-dir", project, "--changed", "--dry-run", *extra)
    assert run.exit_code == 0, run.output
    return run.stdout


def _steps(plan_text: str) -> set[str]:
    """The unpartitioned steps of a dry-run plan (the lines not marked skipped)."""
    out = set()
    for line in plan_text.splitlines()[1:]:
        if line == "Change classification:":
            break
        words = line.split()
        if words and "[" not in words[0] and not line.endswith("(skipped)"):
            out.add(words[0])
    return out


def _status(project: Path) -> dict[str, dict]:
    run = run_cli("status", "--project-dir", project, "--output", "json")
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    items = data["assets"] if isinstance(data, dict) else data
    return {item["asset"]: item for item in items}


# --------------------------------------------------------------------------- the example project


def test_non_breaking_change_in_example_rebuilds_one_model(example_project: Path):
    assert run_cli("build", "--project-dir", example_project).exit_code == 0
    baseline = _steps(_plan(example_project))  # nothing changed: nothing unpartitioned to build
    assert baseline == set()
    sql = example_project / "models" / "staging" / "stg_orders.sql"
    sql.write_text(
        sql.read_text().replace(
            "lower(trim(status)) as status,",
            "lower(trim(status)) as status,\n    dayname(ordered_at) as order_weekday,",
        )
    )
    pruned = _plan(example_project)
    assert _steps(pruned) == {"stg_orders"}
    assert "non-breaking: column order_weekday added (rebuilt alone)" in pruned
    assert "not rebuilt: stg_orders's change is non-breaking" in pruned
    everything = _steps(_plan(example_project, "--rebuild-downstream"))
    assert "stg_orders" in everything and "orders" in everything and "customers" in everything
    assert len(everything) >= 13  # what a code change rebuilt before change classification

    run = run_cli("build", "--project-dir", example_project, "--changed")
    assert run.exit_code == 0, run.output
    assert _steps(_plan(example_project)) == set()  # the readers stay up to date after it
    status = _status(example_project)
    assert status["int_orders_enriched"]["status"] == "up to date"
    assert status["stg_orders"]["data_version"]

    # Python outputs: a Parquet file (hashed) and a warehouse table (fingerprinted) rebuilt with
    # the same data leave their readers up to date
    run = run_cli("build", "--project-dir", example_project, "-s", "order_lake customer_segments")
    assert run.exit_code == 0, run.output
    after = _status(example_project)
    for python_asset, reader in (("order_lake", "lake_monthly_orders"),
                                 ("customer_segments", "segment_summary")):  # fmt: skip
        assert after[python_asset]["data_version"] == status[python_asset]["data_version"]
        assert after[python_asset]["last_run"] != status[python_asset]["last_run"]
        assert after[reader]["status"] == "up to date"
        assert after[reader]["read"][python_asset] == after[python_asset]["data_version"]
    with SQLiteStateStore.for_project(example_project) as store:  # a partition's own rows
        parts = store.partitions_of("fct_order_lines")
    assert parts and all(rec.data_version for rec in parts.values())
    assert len({rec.data_version for rec in parts.values()}) > len(parts) // 2  # days differ


# --------------------------------------------------------------------------- small projects


def _project(tmp_path: Path, a_sql: str) -> Path:
    return write_project(
        tmp_path / "p",
        {
            "seeds/raw.csv": "id,amount,status\n1,10,paid\n2,20,open\n3,30,paid\n",
            "models/a.sql": a_sql,
            "models/reads_amount.sql": "select id, amount * 2 as doubled from {{ ref('a') }}",
            "models/reads_status.sql": ("select id from {{ ref('a') }} where status = 'paid'"),
            "models/after_status.sql": "select count(*) as n from {{ ref('reads_status') }}",
        },
    )


A_SQL = "select id, amount, status from {{ ref('raw') }}"


def test_breaking_change_rebuilds_exactly_the_readers_of_the_changed_column(tmp_path: Path):
    project = _project(tmp_path, A_SQL)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    (project / "models" / "a.sql").write_text(
        "select id, amount, upper(status) as status from {{ ref('raw') }}"
    )
    plan = _plan(project)
    assert _steps(plan) == {"a", "reads_status", "after_status"}
    assert "breaking: column status changed (downstream readers too)" in plan
    assert "not rebuilt: it reads none of the changed columns of a (status)" in plan
    # a column removed that one downstream reads: breaking for it
    (project / "models" / "a.sql").write_text("select id, status from {{ ref('raw') }}")
    plan = _plan(project)
    assert "column amount removed" in plan
    assert "reads_amount" in _steps(plan) and "reads_status" not in _steps(plan)


def test_rows_changing_is_breaking_for_every_reader(tmp_path: Path):
    project = _project(tmp_path, A_SQL)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    (project / "models" / "a.sql").write_text(A_SQL + " where id > 1")
    plan = _plan(project)
    assert _steps(plan) == {"a", "reads_amount", "reads_status", "after_status"}
    assert "which rows it returns changed" in plan


def test_unknown_lineage_is_breaking_and_says_so(tmp_path: Path):
    project = write_project(
        tmp_path / "p",
        {
            "models/sources.yml": """
                version: 2
                sources:
                  - name: shop
                    schema: main
                    tables:
                      - name: orders
            """,
            "models/a.sql": "select * from {{ source('shop', 'orders') }}",
            "models/b.sql": "select id from {{ ref('a') }}",
        },
    )
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("create table main.orders as select 1 as id, 'x' as note")
    assert run_cli("build", "--project-dir", project).exit_code == 0
    (project / "models" / "a.sql").write_text(
        "select *, 1 as extra from {{ source('shop', 'orders') }}"
    )
    plan = _plan(project)
    assert "breaking: its column lineage cannot be computed (`select *` over shop.orders" in plan
    assert _steps(plan) == {"a", "b"}


def test_same_data_rebuilt_leaves_downstream_up_to_date(tmp_path: Path):
    project = _project(tmp_path, A_SQL)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    assert run_cli("build", "--project-dir", project, "-s", "a").exit_code == 0  # same rows
    status = _status(project)
    assert status["reads_amount"]["status"] == "up to date"
    assert status["reads_amount"]["read"]["a"] == status["a"]["data_version"]
    text = run_cli("status", "--project-dir", project).stdout
    assert "data version" in text and f"a@{status['a']['data_version'][:8]}" in text
    # new data upstream: a rebuild with other rows makes the readers stale
    (project / "seeds" / "raw.csv").write_text("id,amount,status\n1,11,paid\n")
    assert run_cli("build", "--project-dir", project, "-s", "raw", "a").exit_code == 0
    status = _status(project)
    assert status["reads_amount"]["status"] == "upstream newer"
    assert status["reads_amount"]["reason"] == "upstream a newer"


def test_data_version_is_order_independent_and_content_sensitive(tmp_path: Path):
    table = "{{ config(materialized='table') }} "
    project = _project(tmp_path, table + A_SQL + " order by id desc")
    assert run_cli("build", "--project-dir", project, "-s", "raw", "a").exit_code == 0
    first = _status(project)["a"]["data_version"]
    (project / "models" / "a.sql").write_text(table + A_SQL + " order by id")
    assert run_cli("build", "--project-dir", project, "-s", "a").exit_code == 0
    assert _status(project)["a"]["data_version"] == first
    with SQLiteStateStore.for_project(project) as store:
        latest = store.latest_materializations(["a"])[("a", None)]
    assert set(latest.column_data) == {"id", "amount", "status"}


# --------------------------------------------------------------------------- source observations


def _source_project(tmp_path: Path, observe: str = "") -> Path:
    project = write_project(
        tmp_path / "p",
        {
            "models/sources.yml": f"""
                version: 2
                sources:
                  - name: shop
                    schema: main
                    tables:
                      - name: orders
                        loaded_at_field: loaded_at
                        {observe}
                        columns:
                          - name: id
                          - name: loaded_at
            """,
            "models/a.sql": "select id from {{ source('shop', 'orders') }}",
        },
    )
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("create table main.orders as select 1 as id, now() as loaded_at")
    return project


def test_a_changed_source_observation_makes_readers_stale(tmp_path: Path):
    project = _source_project(tmp_path)
    assert run_cli("build", "--project-dir", project).exit_code == 0  # observes, then builds
    run = run_cli("source", "observe", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert "shop.orders" in run.stdout and "unchanged" in run.stdout
    assert _steps(_plan(project)) == set()
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("insert into main.orders values (2, now())")  # late-arriving data
    run = run_cli("source", "observe", "--project-dir", project, "--output", "json")
    [seen] = json.loads(run.stdout)["observations"]
    assert seen["changed"] is True and seen["values"][0] == "2"
    assert _status(project)["a"]["reason"] == "source shop.orders changed"
    assert _steps(_plan(project)) == {"a"}
    assert run_cli("build", "--project-dir", project, "--changed").exit_code == 0
    assert _status(project)["a"]["status"] == "up to date"


def test_build_observes_sources_before_planning(tmp_path: Path):
    project = _source_project(tmp_path)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        con.execute("insert into main.orders values (2, now())")
    run = run_cli("build", "--project-dir", project, "--changed")
    assert run.exit_code == 0, run.output
    with duckdb.connect(str(project / "warehouse.duckdb")) as con:
        assert con.execute("select count(*) from analytics.a").fetchone() == (2,)


def test_a_failing_observation_names_the_source(tmp_path: Path):
    project = _source_project(tmp_path, observe="observe: select max(nope) from main.orders")
    run = run_cli("source", "observe", "--project-dir", project)
    assert run.exit_code == 1
    assert "observing source 'shop.orders' failed" in run.stderr
    assert "Traceback" not in run.output


def test_unknown_source_is_refused(tmp_path: Path):
    project = _source_project(tmp_path)
    run = run_cli("source", "observe", "--project-dir", project, "-s", "shop.nope")
    assert run.exit_code == 2
    assert "unknown source 'shop.nope'" in run.stderr


# --------------------------------------------------------------------------- state migrations


def test_sqlite_store_of_schema_1_is_migrated(tmp_path: Path):
    import sqlite3

    path = tmp_path / ".orch" / "state.db"
    SQLiteStateStore(path).close()
    with sqlite3.connect(path) as conn:  # make it a schema-1 file, as an older orch wrote it
        conn.execute("ALTER TABLE materializations DROP COLUMN data_version")
        conn.execute("ALTER TABLE materializations DROP COLUMN versions")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with SQLiteStateStore(path) as store:
        run = store.start_run("build", target="dev")
        store.record_materialization(
            run_id=run, asset="a", partition_key=None, status="success",
            started_at=utcnow(), data_version="v1", versions={"columns": {"id": "c1"}},
        )  # fmt: skip
        rec = store.latest_materializations(["a"])[("a", None)]
        assert (rec.data_version, rec.column_data) == ("v1", {"id": "c1"})
        seen = store.record_observation(target="dev", source="s.t", fingerprint="f1")
        assert seen.changed_at is None  # the first observation is the baseline
        again = store.record_observation(target="dev", source="s.t", fingerprint="f2")
        assert again.changed_at is not None
        assert store.latest_observations(target="dev")["s.t"].fingerprint == "f2"


def test_warehouse_store_of_schema_1_is_migrated(tmp_path: Path):
    from orch.adapters.duckdb import DuckDBAdapter
    from orch.config import DuckDBTargetConfig
    from orch.state.warehouse import WarehouseStateStore

    def adapter() -> DuckDBAdapter:
        config = DuckDBTargetConfig(path=str(tmp_path / "w.duckdb"), schema="main")
        made = DuckDBAdapter(config, tmp_path)
        made.open()
        return made

    first = adapter()
    WarehouseStateStore(first).latest_materializations()
    first.execute("ALTER TABLE _orch.materializations DROP COLUMN data_version")
    first.execute("ALTER TABLE _orch.materializations DROP COLUMN versions")
    first.execute("UPDATE _orch.meta SET value = '1' WHERE key = 'schema_version'")
    first.close()
    second = adapter()
    store = WarehouseStateStore(second)
    run = store.start_run("build", target="dev")
    store.record_materialization(
        run_id=run, asset="a", partition_key=None, status="success",
        started_at=utcnow(), data_version="v1",
    )  # fmt: skip
    assert store.latest_materializations(["a"])[("a", None)].data_version == "v1"
    assert second.fetch_rows("SELECT value FROM _orch.meta WHERE key = 'schema_version'") == [
        ("2",)
    ]
    assert store.record_observation(target="dev", source="s.t", fingerprint="f1").changed_at is None
    again = store.record_observation(target="dev", source="s.t", fingerprint="f2")
    assert again.changed_at is not None
    assert store.latest_observations(target="dev")["s.t"].fingerprint == "f2"
    same = store.record_observation(target="dev", source="s.t", fingerprint="f2")
    assert same.changed_at == again.changed_at  # unchanged: when it last changed stays
    second.close()


def test_non_breaking_change_and_its_overrides(tmp_path: Path):
    project = _project(tmp_path, A_SQL)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    (project / "models" / "a.sql").write_text(
        "select id, amount, status, amount + 1 as extra from {{ ref('raw') }}"
    )
    plan = _plan(project)
    assert _steps(plan) == {"a"}
    assert "non-breaking: column extra added (rebuilt alone)" in plan
    everything = {"a", "reads_amount", "reads_status", "after_status"}
    assert _steps(_plan(project, "--rebuild-downstream")) == everything
    assert _steps(_plan(project, "--full-refresh")) == everything
    assert run_cli("build", "--project-dir", project, "--changed").exit_code == 0
    status = _status(project)
    assert {status[n]["status"] for n in everything} == {"up to date"}
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select sum(extra) from analytics.a").fetchone() == (63,)


# --------------------------------------------------------------------------- partitioned readers


def test_partitioned_readers_compare_data_versions(tmp_path: Path):
    """A partition rebuilt with the same data leaves its readers (a partition of a partitioned
    asset, an unpartitioned reader of all of it) up to date; other data makes them stale."""
    part = "{'grain': 'daily', 'start': '2024-01-01', 'end': '2024-01-03', 'column': 'day'}"
    window = "where day >= {{ partition.start }} and day < {{ partition.end }}"
    config = f"{{{{ config(materialized='incremental', partitioned_by={part}) }}}}"
    project = write_project(
        tmp_path / "p",
        {
            "seeds/raw.csv": "day,n\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n",
            "models/up.sql": f"{config}\nselect cast(day as date) as day, n"
            f" from {{{{ ref('raw') }}}} {window}\n",
            "models/down.sql": f"{config}\nselect day, n * 10 as n10 from {{{{ ref('up') }}}}"
            f" {window}\n",
            "models/total.sql": "select sum(n) as n from {{ ref('up') }}",
        },  # fmt: skip
    )
    ends = ("--start", "2024-01-01", "--end", "2024-01-03")
    run = run_cli("build", "--project-dir", project, *ends)
    assert run.exit_code == 0, run.output
    assert _status(project)["down"]["status"] == "up to date"
    run = run_cli("build", "--project-dir", project, "-s", "up", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output  # the same rows again
    status = _status(project)
    assert status["down"]["status"] == "up to date", status["down"]
    assert status["total"]["status"] == "up to date", status["total"]
    plan = run_cli("build", "--project-dir", project, "--changed", "--dry-run", *ends).stdout
    assert "down[2024-01-02]" not in plan.replace("up to date", "")

    (project / "seeds" / "raw.csv").write_text("day,n\n2024-01-01,1\n2024-01-02,5\n2024-01-03,3\n")
    assert run_cli("build", "--project-dir", project, "-s", "raw").exit_code == 0
    run = run_cli("build", "--project-dir", project, "-s", "up", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output  # other rows in that partition
    status = _status(project)
    assert status["total"]["reason"] == "upstream up newer"
    (stale,) = [p for p in status["down"]["partitions"] if p["status"] != "up to date"]
    assert stale["key"] == "2024-01-02" and stale["reason"] == "upstream up[2024-01-02] newer"


def test_the_example_uses_every_condition_kind(example_project: Path):
    """Issue 19's "done when": eager, on_cron, on_missing and a max_lag freshness policy (one
    of them composed with |) are all declared in the example project."""
    from orch.automation.evaluate import conditions_of
    from orch.conditions import And, Eager, MaxLag, Not, OnCron, OnMissing, Or
    from orch.config import RunOptions
    from orch.run.workflow import compile_for

    manifest = compile_for(RunOptions(project_dir=example_project)).manifest
    kinds: dict[type, set[str]] = {}

    def walk(name: str, cond: object) -> None:
        kinds.setdefault(type(cond), set()).add(name)
        for part in getattr(cond, "parts", ()):
            walk(name, part)
        if isinstance(cond, Not):
            walk(name, cond.part)

    for name, cond in conditions_of(manifest).items():
        walk(name, cond)
    assert {Eager, OnCron, OnMissing, MaxLag} <= set(kinds)
    assert Or in kinds or And in kinds  # composed
    assert kinds[MaxLag] >= {"customers"} and kinds[OnMissing] == {"fct_order_lines"}
