"""dbt Python models, relationships tests to ephemeral models, run hooks in ``orch test`` and
``incremental_strategy`` values, on fixtures/snap_dbt (orch alone; dbt compared in bench/)."""

from __future__ import annotations

from pathlib import Path

from tests.dbt.conftest import RunOrch, Warehouse, write_snap_build


def build(orch: RunOrch, project: Path, *args: str):  # noqa: ANN201 - click's Result
    return orch("build", "--project-dir", str(project), *args)


def test_dbt_python_model_reads_refs_and_builds_a_table(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    result = build(orch, snap)
    assert result.exit_code == 0, result.output + result.stderr
    assert snap_db.rows("select * from main.tier_counts order by tier") == [
        ("bronze", 1), ("gold", 1), ("silver", 1),
    ]  # fmt: skip
    assert snap_db.types("main.tier_counts") == {"tier": "VARCHAR", "customers": "BIGINT"}
    # its dbt.ref() is a dependency: built after current_customers, rebuilt with it
    write_snap_build(snap, 2)
    assert build(orch, snap).exit_code == 0
    assert snap_db.rows("select * from main.tier_counts order by tier") == [
        ("bronze", 1), ("gold", 2),
    ]  # fmt: skip


def test_dbt_python_model_returning_pandas_and_using_this(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    (snap / "models" / "lines_df.py").write_text(
        "def model(dbt, session):\n"
        "    dbt.config(materialized='table', tags=['py'])\n"
        "    df = dbt.ref('order_lines').df()\n"
        "    df['where'] = str(dbt.this)\n"
        "    df['tag'] = dbt.config.get('tags')[0]\n"
        "    return df[df['qty'] > 1]\n"
    )
    result = build(orch, snap)
    assert result.exit_code == 0, result.output + result.stderr
    assert snap_db.rows("select order_id, line, qty, \"where\", tag from main.lines_df "
                        "order by order_id") == [
        (100, 1, 2, '"snap"."main"."lines_df"', "py"),  # as dbt-duckdb prints it
        (101, 1, 5, '"snap"."main"."lines_df"', "py"),
    ]  # fmt: skip


def test_dbt_python_model_error_names_its_line(snap: Path, orch: RunOrch):
    (snap / "models" / "broken.py").write_text(
        "def model(dbt, session):\n    rows = dbt.ref('order_lines')\n    return rows.nope()\n"
    )
    result = build(orch, snap, "-s", "+broken")
    assert result.exit_code == 1
    assert "asset 'broken' raised AttributeError" in result.output + result.stderr
    assert "line 3, in model" in result.output + result.stderr


def test_dbt_python_model_unknown_ref_is_refused(snap: Path, orch: RunOrch):
    (snap / "models" / "lost.py").write_text(
        "def model(dbt, session):\n    return dbt.ref('order_line')\n"
    )
    result = build(orch, snap)
    assert result.exit_code == 2
    assert "models/lost.py:1: dbt.ref('order_line') in 'lost' is not a model or seed" in (
        result.stderr
    )


def test_relationships_to_an_ephemeral_model(snap: Path, orch: RunOrch, snap_db: Warehouse):
    assert build(orch, snap).exit_code == 0
    stg = snap / "models" / "stg_customers.sql"
    stg.write_text(stg.read_text() + "where id <> 2\n")
    result = orch("test", "--project-dir", str(snap), "-s", "test_type:relationships")
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "relationships_current_customers_id__customer_id__ref_stg_customers_" in result.output
    # the failing row is customer 2, absent from the ephemeral model's rows (inlined)
    assert "on current_customers: 1 failing rows" in result.output
    assert '{"id": 2, "name": "Brian"' in result.output


def test_orch_test_runs_the_run_hooks(snap: Path, orch: RunOrch, snap_db: Warehouse):
    assert build(orch, snap).exit_code == 0
    result = orch("test", "--project-dir", str(snap))
    assert result.exit_code == 0, result.output + result.stderr
    assert snap_db.rows("select event from main_audit.hook_log") == [
        ("start",), ("end",), ("start",), ("end",),
    ]  # fmt: skip


def test_orch_test_with_a_failing_on_run_start_runs_no_check(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    assert build(orch, snap).exit_code == 0
    project = snap / "dbt_project.yml"
    project.write_text(project.read_text().replace(
        "  - \"insert into {{ target.schema }}_audit.hook_log values ('start')\"",
        "  - \"insert into no_such_table values ('start')\""))  # fmt: skip
    result = orch("test", "--project-dir", str(snap))
    assert result.exit_code == 1
    assert "failed run hook(s): on-run-start 3" in result.stderr
    assert "PASS" not in result.output
    # on-run-end still ran, as in dbt
    assert snap_db.rows("select event from main_audit.hook_log") == [
        ("start",), ("end",), ("end",),
    ]  # fmt: skip


def test_incremental_strategies_delete_insert_and_append(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    assert build(orch, snap).exit_code == 0
    write_snap_build(snap, 2)
    assert build(orch, snap).exit_code == 0
    # delete+insert on order_id: order 101 (gone from the seed) stays, 100 is replaced
    assert snap_db.rows("select * from main.line_totals order by order_id") == [
        (100, 5, 2), (101, 5, 1), (102, 1, 1),
    ]  # fmt: skip
    # append with an is_incremental() filter: only order 102 was added
    assert snap_db.rows("select * from main.line_log order by order_id, line") == [
        (100, 1, 2), (100, 2, 1), (101, 1, 5), (102, 1, 1),
    ]  # fmt: skip


def test_unknown_incremental_strategy_fails_only_the_incremental_run(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    model = snap / "models" / "line_totals.sql"
    model.write_text(model.read_text().replace("'delete+insert'", "'insert_overwrite'"))
    result = build(orch, snap)
    assert result.exit_code == 0, result.output + result.stderr  # first build: a table build
    assert snap_db.rows("select count(*) from main.line_totals") == [(2,)]
    result = build(orch, snap)
    assert result.exit_code == 1
    assert ("'line_totals': incremental_strategy 'insert_overwrite' is not supported by orch"
            in result.output + result.stderr)  # fmt: skip
    assert build(orch, snap, "--full-refresh").exit_code == 0
