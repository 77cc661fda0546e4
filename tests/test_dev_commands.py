"""orch show, orch debug, orch clean and orch --version, through the real CLI (issue 23)."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sqlite3
import stat
from importlib.metadata import version
from pathlib import Path

import duckdb
import fakesnow
import orch
import pytest

from tests.conftest import MakeProject, run_cli

PROJECT = {
    "seeds/raw_orders.csv": "id,customer,amount\n1,alice,10\n2,bob,5\n3,alice,7\n",
    "models/stg_orders.sql": "select id, customer, amount from raw_orders",
    "models/helper.sql": """
        {{ config(materialized='ephemeral') }}
        select id, amount * 2 as doubled from stg_orders
        """,
    "models/customers.sql": """
        {{ config(materialized='table') }}
        select customer, count(*) as orders, sum(amount) as total
        from stg_orders group by customer order by customer
        """,
    "models/doubled.sql": "select id, doubled from helper order by id",
}


@pytest.fixture
def project(make_project: MakeProject, tmp_path: Path) -> Path:
    return make_project(tmp_path / "shop", PROJECT)


def _build(project: Path, *select: str) -> None:
    run = run_cli("build", "--project-dir", project, *(("-s", *select) if select else ()))
    assert run.exit_code == 0, run.output


def _state_rows(project: Path) -> tuple[int, int]:
    con = sqlite3.connect(project / ".orch" / "state.db")
    try:
        runs = con.execute("select count(*) from runs").fetchone()[0]
        done = con.execute("select count(*) from materializations").fetchone()[0]
    finally:
        con.close()
    return runs, done


def _relations(project: Path) -> set[str]:
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select table_name from information_schema.tables").fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


# --------------------------------------------------------------------------- show


def test_show_prints_a_table_of_the_first_five_rows_without_building(project: Path):
    _build(project, "+stg_orders")  # the upstream only: customers is not built
    before, state = _relations(project), _state_rows(project)
    run = run_cli("show", "-s", "customers", "--project-dir", project)
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert "customer" in lines[1] and "orders" in lines[1] and "total" in lines[1]
    body = [line for line in lines if "│" in line and "customer" not in line]
    assert [line.split("│")[1].strip() for line in body] == ["alice", "bob"]
    assert "17" in body[0] and "5" in body[1]
    assert lines[-1] == "2 rows"
    assert _relations(project) == before  # nothing was written to the warehouse
    assert _state_rows(project) == state  # nor to the state store
    assert "customers" not in before


def test_show_limit_and_json(project: Path):
    _build(project)
    run = run_cli(
        "show", "-s", "stg_orders", "--limit", "2", "-o", "json", "--project-dir", project
    )
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["name"] == "stg_orders"
    assert data["columns"] == ["id", "customer", "amount"]
    assert len(data["rows"]) == 2
    assert set(data["rows"][0]) == {"id", "customer", "amount"}


def test_show_csv_reads_through_an_ephemeral_upstream(project: Path):
    _build(project, "+stg_orders")
    run = run_cli("show", "-s", "doubled", "-o", "csv", "--project-dir", project)
    assert run.exit_code == 0, run.output
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows == [["id", "doubled"], ["1", "20"], ["2", "10"], ["3", "14"]]


def test_show_inline_compiles_refs_and_bare_names(project: Path):
    _build(project, "+stg_orders")
    sql = "select customer, amount from {{ ref('stg_orders') }} where amount > 6 order by id"
    run = run_cli("show", "--inline", sql, "-o", "csv", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == ["customer,amount", "alice,10", "alice,7"]
    run = run_cli(
        "show", "--inline", "select count(*) as n from stg_orders", "-o", "json",
        "--project-dir", project,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == {"name": None, "columns": ["n"], "rows": [{"n": 3}]}


def test_show_names_the_upstream_that_is_not_built(project: Path):
    run = run_cli("show", "-s", "customers", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: 'customers' reads 'stg_orders' (analytics.stg_orders), which is not built in the "
        "target. Build it first: orch build -s +stg_orders\n"
    )
    assert "Traceback" not in run.output
    run = run_cli("show", "--inline", "select * from doubled", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: inline query reads 'doubled' (analytics.doubled), which is not built in the "
        "target. Build it first: orch build -s +doubled\n"
    )


def test_show_user_errors(project: Path):
    run = run_cli("show", "-s", "customer", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == "Error: unknown model 'customer'. Did you mean 'customers'?\n"
    run = run_cli("show", "--inline", "select * from nope", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: <inline>:1:15: unknown table 'nope'. It is neither a model, a seed nor a declared "
        "source: add a model file, or declare the source in YAML\n"
    )
    run = run_cli("show", "-s", "customers", "--limit", "-1", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr.endswith("Error: Invalid value for '--limit': -1 is not in the range x>=0.\n")
    run = run_cli("show", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: give a model (-s MODEL) or a query (--inline SQL), not both or neither. "
        'E.g. orch show -s customers, or orch show --inline "select 1 as x"\n'
    )
    run = run_cli("show", "-s", "raw_orders", "--project-dir", project)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: 'raw_orders' is a seed: orch show previews the compiled SELECT of a SQL model. "
        'Build it, then query its relation: orch show --inline "select * from raw_orders"\n'
    )


PARTITIONED = """\
    {{ config(materialized='incremental', partitioned_by={'grain': 'daily', 'start': '2024-01-01',
        'end': '2024-01-04', 'column': 'day'}) }}
    select day, count(*) as n from events
    where day >= {{ partition.start }} and day < {{ partition.end }}
    group by day
    """


def test_show_a_partitioned_model_reads_the_partition_given(
    make_project: MakeProject, tmp_path: Path
):
    root = make_project(
        tmp_path / "shop",
        {
            "seeds/events.csv": "id,day\n1,2024-01-01\n2,2024-01-02\n3,2024-01-02\n",
            "models/daily.sql": PARTITIONED,
        },
    )
    _build(root, "events")
    run = run_cli("show", "-s", "daily", "--partition", "2024-01-02", "-o", "csv",
                  "--project-dir", root)  # fmt: skip
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == ["day,n", "2024-01-02,2"]
    run = run_cli("show", "-s", "daily", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: 'daily' is partitioned (daily from 2024-01-01 until 2024-01-04): its SQL reads one "
        "partition. Pass --partition KEY, e.g. --partition 2024-01-03\n"
    )


# --------------------------------------------------------------------------- debug


def test_debug_reports_paths_versions_and_a_working_connection(project: Path):
    run = run_cli("debug", "--project-dir", project)
    assert run.exit_code == 0, run.output
    out = run.stdout
    assert f"project file: {project / 'orch_project.yml'}\n" in out
    assert f"profile file: {project / 'profiles.yml'}\n" in out
    assert "target: dev (type duckdb)\n" in out
    assert "  path: warehouse.duckdb\n" in out
    assert f"  orch: {orch.__version__}\n" in out
    assert f"  python: {platform.python_version()}\n" in out
    assert f"  sqlglot: {version('sqlglot')}\n" in out
    assert f"  duckdb: {version('duckdb')}\n" in out
    assert "  adapter duckdb: orch " in out
    assert "project and profile: OK — read and valid\n" in out
    assert "connection: OK — opened the duckdb target, ran SELECT 1\n" in out
    assert out.endswith("All checks passed.\n")


def test_debug_masks_secrets(make_project: MakeProject, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SHOP_EXTENSION_SECRET", "s3cr3t-value-never-shown")
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        profiles_yml="""\
        shop:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: warehouse.duckdb
              settings:
                custom_user_agent: "{{ env_var('SHOP_EXTENSION_SECRET') }}"
        """,
    )
    run = run_cli("debug", "--project-dir", root)
    assert "s3cr3t-value-never-shown" not in run.output
    assert "  settings: ********\n" in run.stdout


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")  # fakesnow's
def test_debug_snowflake_target_masks_the_password(
    make_project: MakeProject, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("SHOP_SF_PASSWORD", "hunter2-hunter2-secret")
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        profiles_yml="""\
        shop:
          target: prod
          outputs:
            prod:
              type: snowflake
              account: fakesnow
              user: orch
              password: "{{ env_var('SHOP_SF_PASSWORD') }}"
              database: debug_db
              schema: analytics
        """,
    )
    with fakesnow.patch():
        run = run_cli("debug", "--project-dir", root)
    assert "hunter2-hunter2-secret" not in run.output
    assert "target: prod (type snowflake)\n" in run.stdout
    assert "  password: ********\n" in run.stdout
    assert "  account: fakesnow\n" in run.stdout
    assert "connection: OK — opened the snowflake target, ran SELECT 1\n" in run.stdout, run.output
    assert run.exit_code == 0


def test_debug_bad_type_is_a_config_failure(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        profiles_yml="""\
        shop:
          target: dev
          outputs:
            dev:
              type: duckdbb
        """,
    )
    run = run_cli("debug", "--project-dir", root)
    assert run.exit_code == 2
    assert f"profile file: {root / 'profiles.yml'}\n" in run.stdout
    assert (
        "project and profile: FAILED — profiles.yml:5:7: unknown target type 'duckdbb'. "
        "Did you mean 'duckdb'? Known adapter types: duckdb, snowflake (a third-party adapter "
        "registers in the 'orch.adapters' entry-point group)\n"
    ) in run.stdout, run.stdout
    assert "connection:" not in run.stdout
    assert run.stderr == "1 check(s) failed: fix what is named above\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_debug_unwritable_path_fails_the_connection(make_project: MakeProject, tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir()
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        profiles_yml=f"""\
        shop:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: {locked}/warehouse.duckdb
        """,
    )
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = run_cli("debug", "--project-dir", root)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert run.exit_code == 1, run.output
    assert "project and profile: OK" in run.stdout
    assert "connection: FAILED — " in run.stdout
    assert str(locked) in run.stdout


def test_debug_warehouse_path_under_a_file_fails_the_connection(
    make_project: MakeProject, tmp_path: Path
):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        profiles_yml=f"""\
        shop:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: {blocker}/warehouse.duckdb
        """,
    )
    run = run_cli("debug", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert "project and profile: OK — read and valid\n" in run.stdout
    assert (
        f"connection: FAILED — cannot open DuckDB database '{blocker}/warehouse.duckdb': "
        f"'{blocker}' is not a directory. Change the profile setting `path` "
        f"('{blocker}/warehouse.duckdb').\n"
    ) in run.stdout
    assert run.stderr == "1 check(s) failed: fix what is named above\n"


def test_debug_without_a_project_file(tmp_path: Path):
    run = run_cli("debug", "--project-dir", tmp_path)
    assert run.exit_code == 2
    assert "project file: not found\n" in run.stdout
    assert (
        f"project and profile: FAILED — {tmp_path}: no orch_project.yml (or dbt_project.yml) in "
        f"'{tmp_path}'. Pass --project-dir pointing at your project, or create one with "
        "'orch init NAME'\n"
    ) in run.stdout


# --------------------------------------------------------------------------- clean


def test_clean_removes_target_and_clean_targets_keeps_state_and_warehouse(
    make_project: MakeProject, tmp_path: Path
):
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        project_yml="name: shop\nprofile: shop\nclean-targets: [target, logs, dbt_packages]\n",
    )
    _build(root)
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / "orch.log").write_text("x", encoding="utf-8")
    assert (root / "target" / "manifest.json").is_file()
    run = run_cli("clean", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == "removed target\nremoved logs\nnot there dbt_packages\n"
    assert not (root / "target").exists() and not (root / "logs").exists()
    assert (root / ".orch").is_dir()
    assert (root / "warehouse.duckdb").is_file()
    assert "customers" in _relations(root)


def test_clean_all_removes_state_and_warehouse(project: Path):
    _build(project)
    run = run_cli("clean", "--all", "--dry-run", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert "would remove .orch\n" in run.stdout
    assert "would remove warehouse.duckdb\n" in run.stdout
    assert (project / ".orch").is_dir() and (project / "target").is_dir()
    run = run_cli("clean", "--all", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert run.stdout.startswith("removed target\nremoved .orch\nremoved warehouse.duckdb\n")
    assert not (project / ".orch").exists()
    assert not (project / "warehouse.duckdb").exists()
    assert not (project / "target").exists()
    assert (project / "models" / "customers.sql").is_file()


def test_clean_keeps_a_clean_target_holding_the_state(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        project_yml="name: shop\nprofile: shop\nclean-targets: [.orch]\n",
    )
    _build(root)
    run = run_cli("clean", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert (
        run.stdout
        == "removed target\nkept .orch (holds the state store: pass --all to remove it)\n"
    )
    assert (root / ".orch").is_dir()


@pytest.mark.parametrize(
    ("entry", "what"),
    [("../elsewhere", "outside the project ({outside})"), (".", "the project folder itself")],
    ids=["outside", "root"],
)
def test_clean_refuses_a_path_outside_the_project(
    make_project: MakeProject, tmp_path: Path, entry: str, what: str
):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = make_project(
        tmp_path / "shop",
        PROJECT,
        project_yml=f"name: shop\nprofile: shop\nclean-targets: [target, '{entry}']\n",
    )
    (root / "target").mkdir()
    run = run_cli("clean", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr == (
        f"Error: orch_project.yml: clean-targets entry '{entry}' is "
        f"{what.format(outside=outside)}. orch clean removes only paths inside the project "
        "folder: remove the entry from clean-targets\n"
    )
    assert outside.is_dir() and (root / "target").is_dir()  # nothing removed


def test_clean_reads_clean_targets_from_dbt_project_yml(tmp_path: Path):
    root = tmp_path / "jaffle"
    (root / "models").mkdir(parents=True)
    (root / "models" / "a.sql").write_text("select 1 as x", encoding="utf-8")
    (root / "dbt_project.yml").write_text(
        "name: jaffle\nprofile: jaffle\nclean-targets: [target, dbt_packages]\n", encoding="utf-8"
    )
    (root / "dbt_packages").mkdir()
    (root / "target").mkdir()
    run = run_cli("clean", "--project-dir", root, "--profiles-dir", root)
    if run.exit_code != 0:  # dbt's profile lookup: give it a profile
        (root / "profiles.yml").write_text(
            "jaffle:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n", encoding="utf-8"
        )
        run = run_cli("clean", "--project-dir", root, "--profiles-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == "removed target\nremoved dbt_packages\n"
    assert not (root / "dbt_packages").exists()


# --------------------------------------------------------------------------- --version


def test_version_lists_orch_sqlglot_duckdb_and_adapters():
    run = run_cli("--version")
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0] == f"orch: {orch.__version__}"
    assert f"sqlglot: {version('sqlglot')}" in lines
    assert f"duckdb: {version('duckdb')}" in lines
    assert any(line.startswith("adapter duckdb: orch ") for line in lines)
    assert any(line.startswith("adapter snowflake: orch ") for line in lines)
