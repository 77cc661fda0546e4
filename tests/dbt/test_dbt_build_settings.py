"""dbt settings that act when a model is built: ``on_schema_change`` and dbt-duckdb's default
``delete+insert`` (incremental models whose query changes shape), ``sql_header``, contract
``constraints``. Expected tables are what dbt-core 1.11 + dbt-duckdb 1.11 wrote for the same
projects (checked side by side, 2026-12-03)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt.conftest import RunOrch, Warehouse

FIRST = "select 1 as id, 'a' as name, 10 as amount"
SECOND = "select 1 as id, 10.5::double as amount, 'x' as extra"
INCREMENT = "{% if is_incremental() %} union all select 2, 20.5, 'y' {% endif %}"


def model(setting: str | None, *, key: bool = True) -> str:
    options = ["materialized='incremental'"]
    if key:
        options.append("unique_key='id'")
    if setting:
        options.append(f"on_schema_change='{setting}'")
    return f"{{{{ config({', '.join(options)}) }}}}\n{FIRST}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: osc\nprofile: osc\nversion: '1.0'\n")
    (tmp_path / "profiles.yml").write_text(
        "osc:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: wh.duckdb}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def two_builds(orch: RunOrch, project: Path, models: dict[str, str]):  # noqa: ANN201
    for name, sql in models.items():
        (project / "models" / f"{name}.sql").write_text(sql)
    first = orch("build", "--project-dir", str(project))
    assert first.exit_code == 0, first.output + first.stderr
    for name in models:
        path = project / "models" / f"{name}.sql"
        path.write_text(path.read_text().replace(FIRST, f"{SECOND}\n{INCREMENT}"))
    return orch("build", "--project-dir", str(project))


def test_append_and_sync_change_the_table_as_dbt_does(project: Path, orch: RunOrch):
    result = two_builds(
        orch,
        project,
        {
            "m_append": model("append_new_columns"),
            "m_append_nokey": model("append_new_columns", key=False),
            "m_sync": model("sync_all_columns"),
        },
    )
    assert result.exit_code == 0, result.output + result.stderr
    db = Warehouse(project / "wh.duckdb")
    # the new column is added; delete+insert (dbt-duckdb's default) replaces row 1 whole
    assert db.types("main.m_append") == {
        "id": "INTEGER", "name": "VARCHAR", "amount": "INTEGER", "extra": "VARCHAR",
    }  # fmt: skip
    assert db.rows("select * from main.m_append order by id") == [
        (1, None, 10, "x"), (2, None, 20, "y"),
    ]  # fmt: skip
    assert db.rows("select * from main.m_append_nokey order by id, extra nulls first") == [
        (1, "a", 10, None), (1, None, 10, "x"), (2, None, 20, "y"),
    ]  # fmt: skip
    # sync: 'name' dropped, 'extra' added, 'amount' retyped and moved last (dbt's alter_column_type)
    assert db.types("main.m_sync") == {"id": "INTEGER", "extra": "VARCHAR", "amount": "DOUBLE"}
    assert db.rows("select * from main.m_sync order by id") == [(1, "x", 10.5), (2, "y", 20.5)]


def test_fail_and_ignore_stop_the_model_and_keep_its_table(project: Path, orch: RunOrch):
    result = two_builds(orch, project, {"m_fail": model("fail"), "m_ignore": model(None)})
    assert result.exit_code == 1
    out = result.output + result.stderr
    assert (
        "'m_fail': the source and target schemas of this incremental model are out of sync" in out
    )
    assert "new in the query: extra VARCHAR; missing from the query: name VARCHAR" in out
    assert "'m_ignore': the incremental query no longer returns column(s) name" in out
    db = Warehouse(project / "wh.duckdb")
    for name in ("m_fail", "m_ignore"):
        assert db.rows(f"select * from main.{name}") == [(1, "a", 10)]
        assert db.types(f"main.{name}") == {"id": "INTEGER", "name": "VARCHAR", "amount": "INTEGER"}


def test_ignore_leaves_a_new_column_out_and_says_so(project: Path, orch: RunOrch):
    sql = "{{ config(materialized='incremental') }}\nselect 1 as id\n"
    (project / "models" / "m.sql").write_text(sql)
    assert orch("build", "--project-dir", str(project)).exit_code == 0
    (project / "models" / "m.sql").write_text(sql.replace("1 as id", "2 as id, 'x' as extra"))
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    assert "column(s) extra of the query are not in main.m and are not written" in (
        result.output + result.stderr
    )
    assert Warehouse(project / "wh.duckdb").rows("select * from main.m order by id") == [(1,), (2,)]


def test_delete_insert_reads_the_table_before_deleting(project: Path, orch: RunOrch):
    """The increment reads ``{{ this }}``: staged first, as dbt does, so the delete cannot change
    what it selects (a NULL key never matches, as in dbt's ``IN``)."""
    (project / "models" / "events.sql").write_text(
        "{{ config(materialized='incremental', unique_key='id') }}\n"
        "select * from (values (1, 1, 'a'), (2, 2, 'b'), (null, 3, 'n')) as t(id, ts, v)\n"
        "{% if is_incremental() %}\n"
        " union all select id, ts + 10, v || '2' from {{ this }} where ts >= (select max(ts) from "
        "{{ this }}) - 1\n{% endif %}\n"
    )
    assert orch("build", "--project-dir", str(project)).exit_code == 0
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    rows = Warehouse(project / "wh.duckdb").rows("select * from main.events order by ts")
    # ids 1 and 2 replaced by the staged rows; the NULL-key rows never match, so they pile up
    assert rows == [
        (1, 1, "a"), (2, 2, "b"), (None, 3, "n"), (None, 3, "n"), (2, 12, "b2"), (None, 13, "n2"),
    ]  # fmt: skip


def test_merge_settings_orch_does_not_run_fail_the_incremental_run(project: Path, orch: RunOrch):
    (project / "models" / "m.sql").write_text(
        "{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge',"
        " merge_exclude_columns=['name']) }}\nselect 1 as id, 'a' as name\n"
    )
    first = orch("build", "--project-dir", str(project))
    assert first.exit_code == 0, first.output + first.stderr  # a table build, as in dbt
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 1
    assert "'m': merge_exclude_columns is not supported by orch" in result.output + result.stderr
    assert Warehouse(project / "wh.duckdb").rows("select * from main.m") == [(1, "a")]


@pytest.mark.parametrize(
    "header",
    [
        "{{ config(sql_header='create or replace temporary macro twice(x) as x * 2;') }}",
        "{% call set_sql_header(config) %}\ncreate or replace temporary macro twice(x) as x * 2;\n"
        "{%- endcall %}",
    ],
)
def test_sql_header_runs_before_the_model(project: Path, orch: RunOrch, header: str):
    (project / "models" / "doubled.sql").write_text(
        f"{header}\n{{{{ config(materialized='table') }}}}\nselect twice(21) as v\n"
    )
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    assert Warehouse(project / "wh.duckdb").rows("select v from main.doubled") == [(42,)]


def test_contract_constraints_are_named_as_not_enforced(project: Path, orch: RunOrch):
    (project / "models" / "customers.sql").write_text(
        "{{ config(materialized='table') }}\nselect 1 as id, 'a' as name\n"
    )
    (project / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: customers\n    config:\n      contract: {enforced: true}\n"
        "    columns:\n      - name: id\n        data_type: integer\n"
        "        constraints:\n          - type: not_null\n          - type: primary_key\n"
        "      - name: name\n        data_type: varchar\n"
    )
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    assert (
        "models/schema.yml:9:9: the constraints of 'customers' (not_null on id, primary_key on "
        "id) are not enforced by orch"
    ) in result.output + result.stderr
    assert Warehouse(project / "wh.duckdb").rows("select * from main.customers") == [(1, "a")]


def test_log_with_info_prints_the_message_and_hides_secrets(
    project: Path, orch: RunOrch, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ORCH_TEST_LOG_TOKEN", "s3cr3t-t0ken-value")
    (project / "models" / "logged.sql").write_text(
        "{{ log('building with ' ~ env_var('ORCH_TEST_LOG_TOKEN'), info=True) }}"
        "{{ log('only in the debug log') }}\nselect 1 as x\n"
    )
    result = orch("compile", "--project-dir", str(project))
    assert result.exit_code == 0, result.output + result.stderr
    out = result.output + result.stderr
    assert "building with <env_var('ORCH_TEST_LOG_TOKEN')>" in out
    assert "s3cr3t-t0ken-value" not in out
    assert "only in the debug log" not in out


def test_a_source_created_by_on_run_start_is_read_and_a_missing_one_fails_its_reader(
    project: Path, orch: RunOrch
):
    """dbt never queries a source before running: an on-run-start hook may create its table,
    and a source that does not exist fails only the models reading it."""
    (project / "dbt_project.yml").write_text(
        "name: osc\nprofile: osc\nversion: '1.0'\non-run-start:\n"
        '  - "create table if not exists main.raw_things as select 1 as id"\n'
    )
    (project / "models" / "src.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n"
        "      - name: raw_things\n      - name: raw_missing\n"
    )
    (project / "models" / "things.sql").write_text(
        "select * from {{ source('raw', 'raw_things') }}"
    )
    (project / "models" / "gone.sql").write_text("select * from {{ source('raw', 'raw_missing') }}")
    result = orch("build", "--project-dir", str(project))
    assert result.exit_code == 1
    out = result.output + result.stderr
    assert "Failed: gone (models/gone.sql)" in out
    assert "Table with name raw_missing does not exist" in out
    assert Warehouse(project / "wh.duckdb").rows("select * from main.things") == [(1,)]
