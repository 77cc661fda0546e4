"""dbt snapshots built by orch over three builds, with dbt's exact rows (fixtures/snap_dbt).

The same builds were compared with dbt-core 1.11 + dbt-duckdb by bench/compare_dbt.py (0
differences, docs/dbt.md); here orch runs alone and the rows dbt wrote are asserted exactly. The
snapshot wall clock (check strategy, deletions) is asserted as "set during this build".
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from tests.dbt.conftest import RunOrch, Warehouse, write_snap_build

CUSTOMERS = "snapshots.customers_snapshot"
PRODUCTS = "main_history.products_snapshot"
LINES = "main_history.order_lines_snapshot"


def scd(*parts: str) -> str:
    """dbt's dbt_scd_id: md5 of the values (cast to varchar) joined by '|'."""
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def build(orch: RunOrch, project: Path, *args: str) -> None:
    result = orch("build", "--project-dir", str(project), *args)
    assert result.exit_code == 0, result.output + result.stderr


def test_timestamp_snapshot_three_builds_exact_rows(snap: Path, orch: RunOrch, snap_db: Warehouse):
    build(orch, snap)
    first = snap_db.rows(f"select id, name, tier, dbt_scd_id, dbt_valid_from, dbt_valid_to, "
                         f"dbt_updated_at from {CUSTOMERS} order by id")  # fmt: skip
    jan1, jan2 = datetime(2024, 1, 1, 8), datetime(2024, 1, 2, 9, 30)
    assert first == [
        (1, "Ada", "gold", scd("1", "2024-01-01 08:00:00"), jan1, None, jan1),
        (2, "Brian", "silver", scd("2", "2024-01-01 08:00:00"), jan1, None, jan1),
        (3, "Chen", "bronze", scd("3", "2024-01-02 09:30:00"), jan2, None, jan2),
    ]
    assert list(snap_db.types(CUSTOMERS).items())[-4:] == [
        ("dbt_scd_id", "VARCHAR"), ("dbt_updated_at", "TIMESTAMP"),
        ("dbt_valid_from", "TIMESTAMP"), ("dbt_valid_to", "TIMESTAMP"),
    ]  # fmt: skip

    write_snap_build(snap, 2)
    started = datetime.now()
    build(orch, snap)
    rows = snap_db.rows(f"select id, name, tier, dbt_valid_from, dbt_valid_to from {CUSTOMERS} "
                        "order by id, dbt_valid_from")  # fmt: skip
    feb1, feb1_11 = datetime(2024, 2, 1, 10), datetime(2024, 2, 1, 11)
    # Ada's name changed but not her updated_at: the timestamp strategy sees no change
    assert rows[:3] == [
        (1, "Ada", "gold", jan1, None),
        (2, "Brian", "silver", jan1, feb1),
        (2, "Brian", "gold", feb1, None),
    ]
    chen, dana = rows[3], rows[4]
    assert chen[:4] == (3, "Chen", "bronze", jan2)
    assert chen[4] >= started.replace(microsecond=0)  # invalidate_hard_deletes: closed now
    assert dana == (4, "Dana", "bronze", feb1_11, None)

    write_snap_build(snap, 3)
    build(orch, snap)
    current = snap_db.rows(f"select id, tier, dbt_scd_id from {CUSTOMERS} "
                           "where dbt_valid_to is null order by id")  # fmt: skip
    assert current == [
        (1, "gold", scd("1", "2024-01-01 08:00:00")),
        (2, "gold", scd("2", "2024-02-01 10:00:00")),
        (3, "silver", scd("3", "2024-03-01 09:00:00")),  # back, as a new version
        (4, "silver", scd("4", "2024-03-02 12:00:00")),
    ]
    assert snap_db.rows(f"select count(*) from {CUSTOMERS}") == [(7,)]
    # a model reading the snapshot is built after it (DAG order)
    assert snap_db.rows("select id, tier from main.current_customers order by id") == [
        (1, "gold"), (2, "gold"), (3, "silver"), (4, "silver"),
    ]  # fmt: skip


def test_check_snapshot_with_new_record_hard_deletes(snap: Path, orch: RunOrch, snap_db: Warehouse):
    build(orch, snap)
    write_snap_build(snap, 2)
    build(orch, snap)
    write_snap_build(snap, 3)
    build(orch, snap)
    rows = snap_db.rows(f"select sku, name, price, dbt_is_deleted, dbt_valid_to is null, "
                        f"dbt_updated_at = dbt_valid_from from {PRODUCTS} "
                        "order by sku, dbt_valid_from")  # fmt: skip
    assert rows == [
        # A's name changed, but only price is in check_cols: one version
        ("A", "Apron", 12.5, "False", True, True),
        ("B", "Bowl", 8.0, "False", False, True),
        ("B", "Bowl", 9.0, "False", True, True),
        ("C", "Cup", 4.25, "False", False, True),
        ("C", "Cup", 4.25, "True", False, True),  # the deletion record, closed when C came back
        ("C", "Cup", 4.5, "False", True, True),
        ("D", "Dish", 6.0, "False", False, True),
        ("D", "Dish", 6.0, "True", True, True),  # deleted in build 3: the current version
    ]
    # the check strategy's dbt_updated_at is the snapshot time: three builds, three instants
    assert snap_db.rows(f"select count(distinct dbt_valid_from) from {PRODUCTS}") == [(3,)]
    # dbt_scd_id: md5(sku | snapshot time) for a version of the query's rows
    sku, stamp, scd_id = snap_db.rows(
        f"select sku, cast(dbt_updated_at as varchar), dbt_scd_id from {PRODUCTS} where sku = 'A'"
    )[0]
    assert scd_id == scd(sku, stamp)


def test_check_all_with_renamed_columns_and_valid_to_current(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    build(orch, snap)
    write_snap_build(snap, 2)
    build(orch, snap)
    assert list(snap_db.types(LINES)) == [
        "order_id", "line", "qty", "status", "version_id", "dbt_updated_at", "valid_from",
        "valid_to",
    ]  # fmt: skip
    rows = snap_db.rows(f"select order_id, line, qty, valid_to = '9999-12-31'::timestamp "
                        f"from {LINES} order by order_id, line, valid_from")  # fmt: skip
    assert rows == [
        (100, 1, 2, True),
        (100, 2, 1, False),  # qty changed (check_cols='all', composite unique_key)
        (100, 2, 3, True),
        (101, 1, 5, False),  # deleted: hard_deletes='invalidate'
        (102, 1, 1, True),
    ]


def test_orch_snapshot_builds_only_the_selected_snapshots(
    snap: Path, orch: RunOrch, snap_db: Warehouse
):
    assert orch("seed", "--project-dir", str(snap)).exit_code == 0
    result = orch("snapshot", "--project-dir", str(snap), "-s", "products_snapshot")
    assert result.exit_code == 0, result.output + result.stderr
    assert "products_snapshot (snapshot, 3 rows)" in result.output
    tables = {n for _, n, _ in snap_db.relations()}
    assert "products_snapshot" in tables
    assert not {"customers_snapshot", "order_lines_snapshot", "current_customers"} & tables
    result = orch("snapshot", "--project-dir", str(snap))
    assert result.exit_code == 0
    assert {"customers_snapshot", "order_lines_snapshot"} <= {n for _, n, _ in snap_db.relations()}
    # `orch run` builds models only, never a snapshot (as `dbt run`)
    result = orch("run", "--project-dir", str(snap))
    assert result.exit_code == 0, result.output + result.stderr
    assert "snapshot" not in result.output.split("Slowest")[0].replace("_snapshot", "")


def test_yaml_snapshot_relation_must_be_ref_or_source(snap: Path, orch: RunOrch):
    path = snap / "snapshots" / "snapshots.yml"
    path.write_text(path.read_text().replace("relation: ref('products')", "relation: products"))
    result = orch("build", "--project-dir", str(snap))
    assert result.exit_code == 2
    assert "snapshots/snapshots.yml:6:5: snapshot 'products_snapshot': relation must be " \
           "ref('model') or source('source', 'table')" in result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr


def test_snapshot_without_unique_key_is_refused(snap: Path, orch: RunOrch):
    path = snap / "snapshots" / "customers_snapshot.sql"
    path.write_text(path.read_text().replace("unique_key='id',", ""))
    result = orch("build", "--project-dir", str(snap))
    assert result.exit_code == 2
    assert ("snapshots/customers_snapshot.sql: snapshot 'customers_snapshot' needs a unique_key"
            in result.stderr)  # fmt: skip


def test_two_snapshots_with_one_name_are_refused(snap: Path, orch: RunOrch):
    (snap / "snapshots" / "again.sql").write_text(
        "{% snapshot products_snapshot %}\nselect 1 as id\n{% endsnapshot %}\n"
    )
    result = orch("build", "--project-dir", str(snap))
    assert result.exit_code == 2
    assert "two files define the asset 'products_snapshot'" in result.stderr


def test_unclosed_snapshot_block_is_refused(snap: Path, orch: RunOrch):
    (snap / "snapshots" / "broken.sql").write_text("\n{% snapshot broken %}\nselect 1 as id\n")
    result = orch("build", "--project-dir", str(snap))
    assert result.exit_code == 2
    assert "snapshots/broken.sql:2: a {% snapshot %} block is not closed" in result.stderr


def test_a_change_to_snapshot_properties_is_seen_by_the_next_command(snap: Path, orch: RunOrch):
    main = snap / "snapshots" / "snapshots.yml"
    main.write_text(main.read_text().split("  - name: customers_snapshot")[0])
    props = snap / "snapshots" / "customers.yml"
    props.write_text("version: 2\nsnapshots:\n  - name: customers_snapshot\n")
    build(orch, snap)
    props.write_text(props.read_text() + "    columns:\n      - name: id\n"
                     "        data_tests:\n          - not_null\n")  # fmt: skip
    result = orch("test", "--project-dir", str(snap), "-s", "customers_snapshot")
    assert result.exit_code == 0, result.output + result.stderr
    assert "not_null_customers_snapshot_id" in result.output


def test_a_model_cannot_be_materialized_as_snapshot(snap: Path, orch: RunOrch):
    (snap / "models" / "fake.sql").write_text(
        "{{ config(materialized='snapshot') }}\nselect 1 as id\n"
    )
    result = orch("build", "--project-dir", str(snap))
    assert result.exit_code == 2
    assert "models/fake.sql: 'fake' is materialized='snapshot', which only dbt snapshots are" in (
        result.stderr
    )
