"""The contract every adapter keeps, run against each warehouse in ``conftest.ADAPTER_TYPES``.

SQL here is plain enough for every dialect; relation names go through ``adapter.render`` so the
adapter quotes them. Results are compared by position, so upper-casing warehouses also pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from orch.adapters.base import STAGING_PREFIX, TEMP_PREFIX, Adapter, WriteMode
from orch.errors import WarehouseError
from orch.names import Relation

Rel = Callable[[str], Relation]

THREE_ROWS = "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, 'b' UNION ALL SELECT 3, 'c'"


def rows(adapter: Adapter, relation: Relation, order_by: str = "1") -> list[tuple[Any, ...]]:
    """Every row of ``relation`` ordered by ``order_by``."""
    return adapter.fetch_rows(f"SELECT * FROM {adapter.render(relation)} ORDER BY {order_by}")


def temporary_relations(adapter: Adapter, schema: str) -> list[Relation]:
    """Relations in ``schema`` left behind by a write (temporary or staging names)."""
    return [
        r
        for r in adapter.list_relations(None, schema)
        if r.name.lower().startswith((TEMP_PREFIX, STAGING_PREFIX))
    ]


def make_table(adapter: Adapter, relation: Relation, select_sql: str = THREE_ROWS) -> None:
    """Create ``relation`` from ``select_sql``."""
    adapter.create_table_as(relation, select_sql)


# ---------------------------------------------------------------------------- raw SQL


def test_execute_and_fetch_rows(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    affected = adapter.execute(f"CREATE TABLE {adapter.render(orders)} AS {THREE_ROWS}")
    assert affected in (3, None)
    inserted = adapter.execute(f"INSERT INTO {adapter.render(orders)} SELECT 4, 'd'")
    assert inserted in (1, None)
    assert rows(adapter, orders) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert adapter.fetch_rows("SELECT 1 WHERE 1 = 0") == []


def test_fetch_arrow(adapter: Adapter) -> None:
    table = adapter.fetch_arrow(f"SELECT * FROM ({THREE_ROWS}) AS t ORDER BY 1")
    assert isinstance(table, pa.Table)
    assert table.num_rows == 3
    assert table.column(0).to_pylist() == [1, 2, 3]
    assert table.column(1).to_pylist() == ["a", "b", "c"]


def test_fetch_table_gives_column_names_and_rows(adapter: Adapter) -> None:
    # what dbt's run_query / statement(fetch_result=True) return to a template
    names, found = adapter.fetch_table(f"SELECT * FROM ({THREE_ROWS}) AS t ORDER BY 1")
    assert [n.lower() for n in names] == ["id", "name"]
    assert [tuple(r) for r in found] == [(1, "a"), (2, "b"), (3, "c")]
    assert adapter.current_database()  # relations render with it, as dbt renders them


def test_statement_error_is_warehouse_error_with_sql(adapter: Adapter, rel: Rel) -> None:
    sql = f"SELECT *\nFROM {adapter.render(rel('does_not_exist'))}"
    with pytest.raises(WarehouseError) as info:
        adapter.execute(sql)
    assert info.value.sql == sql
    assert info.value.exit_code == 1
    assert "does_not_exist" in info.value.message
    with pytest.raises(WarehouseError):
        adapter.fetch_rows(sql)
    with pytest.raises(WarehouseError):
        adapter.fetch_arrow(sql)


# ---------------------------------------------------------------------------- catalog


def test_ensure_schema_is_idempotent_and_thread_safe(adapter: Adapter) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: adapter.ensure_schema(None, "orch_other"), range(16)))
    adapter.ensure_schema(None, "orch_other")
    other = Relation(None, "orch_other", "t")
    make_table(adapter, other)
    assert adapter.list_relations(None, "orch_other") == [other]


def test_relation_catalog(adapter: Adapter, rel: Rel, schema: str) -> None:
    orders, recent, missing = rel("orders"), rel("recent_orders"), rel("missing")
    make_table(adapter, orders)
    adapter.create_view(recent, f"SELECT id FROM {adapter.render(orders)} WHERE id > 1")

    assert adapter.relation_exists(orders) and adapter.relation_exists(recent)
    assert not adapter.relation_exists(missing)
    assert adapter.relation_type(orders) == "table"
    assert adapter.relation_type(recent) == "view"
    assert adapter.relation_type(missing) is None

    columns = adapter.columns(orders)
    assert [c.name.lower() for c in columns] == ["id", "name"]
    assert all(c.data_type for c in columns)
    assert [c.name.lower() for c in adapter.columns(recent)] == ["id"]
    assert adapter.columns(missing) == []

    names = [r.name.lower() for r in adapter.list_relations(None, schema)]
    assert names == ["orders", "recent_orders"]
    assert adapter.list_relations(None, "no_such_schema") == []


def test_drop_relation(adapter: Adapter, rel: Rel, schema: str) -> None:
    orders, view = rel("orders"), rel("orders_view")
    make_table(adapter, orders)
    adapter.create_view(view, f"SELECT * FROM {adapter.render(orders)}")
    adapter.drop_relation(view)
    adapter.drop_relation(orders)
    adapter.drop_relation(rel("missing"))
    assert adapter.list_relations(None, schema) == []


# ---------------------------------------------------------------------------- materializations


def test_create_view_over_table(adapter: Adapter, rel: Rel) -> None:
    orders, big = rel("orders"), rel("big_orders")
    make_table(adapter, orders)
    adapter.create_view(big, f"SELECT id, name FROM {adapter.render(orders)} WHERE id >= 2")
    assert rows(adapter, big) == [(2, "b"), (3, "c")]
    adapter.execute(f"INSERT INTO {adapter.render(orders)} SELECT 4, 'd'")
    assert rows(adapter, big) == [(2, "b"), (3, "c"), (4, "d")]
    # Replacing the view with new SQL, and a table of that name with a view.
    adapter.create_view(big, f"SELECT id, name FROM {adapter.render(orders)} WHERE id >= 4")
    assert rows(adapter, big) == [(4, "d")]
    adapter.create_view(orders, "SELECT 9 AS id, 'z' AS name")
    assert adapter.relation_type(orders) == "view"
    assert rows(adapter, orders) == [(9, "z")]


def test_create_table_as(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    assert adapter.create_table_as(orders, THREE_ROWS) == 3
    assert rows(adapter, orders) == [(1, "a"), (2, "b"), (3, "c")]
    assert adapter.row_count(orders) == 3
    with pytest.raises(WarehouseError):
        adapter.create_table_as(orders, THREE_ROWS)


def test_replace_table_atomically(adapter: Adapter, rel: Rel, schema: str) -> None:
    orders = rel("orders")
    assert adapter.replace_table_atomically(orders, THREE_ROWS) == 3  # creates when absent
    assert adapter.replace_table_atomically(orders, "SELECT 7 AS id, 'x' AS name") == 1
    assert rows(adapter, orders) == [(7, "x")]
    assert temporary_relations(adapter, schema) == []


def test_replace_table_atomically_replaces_a_view(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    adapter.create_view(orders, THREE_ROWS)
    assert adapter.replace_table_atomically(orders, "SELECT 7 AS id, 'x' AS name") == 1
    assert adapter.relation_type(orders) == "table"
    assert rows(adapter, orders) == [(7, "x")]


def test_publish_staged_replaces_a_table_a_view_or_nothing(
    adapter: Adapter, rel: Rel, schema: str
) -> None:
    orders, staged = rel("orders"), rel(f"{STAGING_PREFIX}orders")
    for before in ("nothing", "table", "view"):
        if before == "table":
            make_table(adapter, orders, "SELECT 0 AS id, 'old' AS name")
        elif before == "view":
            adapter.drop_relation(orders)
            adapter.create_view(orders, "SELECT 0 AS id, 'old' AS name")
        make_table(adapter, staged)
        adapter.publish_staged(staged, orders)
        assert adapter.relation_type(orders) == "table", before
        assert rows(adapter, orders) == [(1, "a"), (2, "b"), (3, "c")], before
        assert not adapter.relation_exists(staged), before
        assert temporary_relations(adapter, schema) == [], before
        if before == "nothing":
            adapter.drop_relation(orders)


@pytest.mark.parametrize(
    "bad_select",
    [
        "SELECT id, name FROM {missing}",
        "SELECT CAST(name AS INTEGER) AS id, name FROM {orders}",
    ],
    ids=["unknown-table", "runtime-cast-error"],
)
def test_replace_table_atomically_failure_keeps_old_table(
    adapter: Adapter, rel: Rel, schema: str, bad_select: str
) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    bad_select = bad_select.format(
        orders=adapter.render(orders), missing=adapter.render(rel("missing"))
    )
    with pytest.raises(WarehouseError) as info:
        adapter.replace_table_atomically(orders, bad_select)
    assert bad_select in (info.value.sql or "")
    assert adapter.relation_type(orders) == "table"
    assert rows(adapter, orders) == [(1, "a"), (2, "b"), (3, "c")]
    assert temporary_relations(adapter, schema) == []
    # The adapter is usable afterwards (no transaction left open on this thread).
    assert adapter.replace_table_atomically(orders, "SELECT 5 AS id, 'e' AS name") == 1


def test_transaction_commits(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    with adapter.transaction():
        adapter.execute(f"INSERT INTO {adapter.render(orders)} SELECT 4, 'd'")
    assert adapter.row_count(orders) == 4


def test_transaction_rollback(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    with pytest.raises(RuntimeError, match="boom"), adapter.transaction():
        adapter.execute(f"INSERT INTO {adapter.render(orders)} SELECT 4, 'd'")
        adapter.execute(f"DELETE FROM {adapter.render(orders)} WHERE id = 1")
        raise RuntimeError("boom")
    assert rows(adapter, orders) == [(1, "a"), (2, "b"), (3, "c")]


def test_transaction_rollback_after_failed_statement(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    with pytest.raises(WarehouseError), adapter.transaction():
        adapter.execute(f"DELETE FROM {adapter.render(orders)} WHERE id = 1")
        adapter.execute(f"SELECT * FROM {adapter.render(rel('missing'))}")
    assert adapter.row_count(orders) == 3
    with adapter.transaction():  # the thread's connection is usable again
        adapter.execute(f"DELETE FROM {adapter.render(orders)} WHERE id = 1")
    assert adapter.row_count(orders) == 2


def test_nested_transaction_joins_the_outer_one(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    with pytest.raises(RuntimeError), adapter.transaction():
        with adapter.transaction():
            adapter.execute(f"DELETE FROM {adapter.render(orders)} WHERE id = 1")
        # The inner block did not commit: the outer rollback undoes it.
        raise RuntimeError("outer fails")
    assert adapter.row_count(orders) == 3
    with adapter.transaction(), adapter.transaction():
        adapter.delete_insert(orders, "SELECT 1 AS id, 'A' AS name", "id = 1")
    assert rows(adapter, orders) == [(1, "A"), (2, "b"), (3, "c")]


def test_insert_into(adapter: Adapter, rel: Rel) -> None:
    orders = rel("orders")
    make_table(adapter, orders)
    assert adapter.insert_into(orders, "SELECT 4, 'd'") in (1, None)
    assert adapter.insert_into(orders, "SELECT 'e', 5", columns=["name", "id"]) in (1, None)
    assert rows(adapter, orders)[-2:] == [(4, "d"), (5, "e")]


PARTITIONED = (
    "SELECT DATE '2024-01-01' AS day, 1 AS v UNION ALL SELECT DATE '2024-01-01', 2"
    " UNION ALL SELECT DATE '2024-01-02', 3"
)


def test_delete_insert(adapter: Adapter, rel: Rel) -> None:
    events = rel("events")
    make_table(adapter, events, PARTITIONED)
    new_day = "SELECT DATE '2024-01-01' AS day, 10 AS v UNION ALL SELECT DATE '2024-01-01', 20"
    inserted = adapter.delete_insert(events, new_day, "day = DATE '2024-01-01'")
    assert inserted in (2, None)
    result = adapter.fetch_rows(f"SELECT day, v FROM {adapter.render(events)} ORDER BY v")
    assert [(str(d), v) for d, v in result] == [
        ("2024-01-02", 3),
        ("2024-01-01", 10),
        ("2024-01-01", 20),
    ]
    # Idempotent: running the same partition again gives the same rows.
    adapter.delete_insert(events, new_day, "day = DATE '2024-01-01'")
    assert adapter.row_count(events) == 3


def test_delete_insert_is_one_transaction(adapter: Adapter, rel: Rel) -> None:
    events = rel("events")
    make_table(adapter, events, PARTITIONED)
    with pytest.raises(WarehouseError):
        adapter.delete_insert(
            events, f"SELECT * FROM {adapter.render(rel('missing'))}", "day = DATE '2024-01-01'"
        )
    assert adapter.row_count(events) == 3


def test_merge_updates_and_inserts_on_a_composite_key(adapter: Adapter, rel: Rel) -> None:
    stock = rel("stock")
    make_table(
        adapter,
        stock,
        "SELECT 'paris' AS city, 1 AS item, 10 AS qty"
        " UNION ALL SELECT 'paris', 2, 20"
        " UNION ALL SELECT 'rome', 1, 30"
        " UNION ALL SELECT NULL, 1, 40",
    )
    changes = (
        "SELECT 'paris' AS city, 2 AS item, 21 AS qty"  # update
        " UNION ALL SELECT 'rome', 2, 50"  # insert: same item, other city
        " UNION ALL SELECT NULL, 1, 41"  # update: NULL keys match NULL keys
    )
    affected = adapter.merge(stock, changes, ["city", "item"])
    assert affected in (3, None)
    result = adapter.fetch_rows(
        f"SELECT city, item, qty FROM {adapter.render(stock)} ORDER BY city NULLS FIRST, item"
    )
    assert result == [
        (None, 1, 41),
        ("paris", 1, 10),
        ("paris", 2, 21),
        ("rome", 1, 30),
        ("rome", 2, 50),
    ]


def test_merge_matches_columns_by_name(adapter: Adapter, rel: Rel) -> None:
    stock = rel("stock")
    make_table(adapter, stock, "SELECT 1 AS id, 'a' AS name, 10 AS qty")
    adapter.merge(stock, "SELECT 5 AS qty, 1 AS id UNION ALL SELECT 7, 2", ["id"])
    assert rows(adapter, stock) == [(1, "a", 5), (2, None, 7)]


# ---------------------------------------------------------------------------- Arrow


N_ROWS = 100_000


def arrow_table(offset: int = 0, n: int = N_ROWS) -> pa.Table:
    """``n`` rows: id offset..offset+n, label 'row-<id>', amount id * 0.5."""
    ids = pa.array(range(offset, offset + n), type=pa.int64())
    return pa.table(
        {
            "id": ids,
            "label": pa.array([f"row-{i}" for i in range(offset, offset + n)]),
            "amount": pc.multiply(ids.cast(pa.float64()), 0.5),
        }
    )


def summary(adapter: Adapter, relation: Relation) -> tuple[Any, ...]:
    """count, min(id), max(id), sum(amount) of an Arrow-written table."""
    return adapter.fetch_rows(
        f"SELECT COUNT(*), MIN(id), MAX(id), SUM(amount) FROM {adapter.render(relation)}"
    )[0]


def test_write_arrow_create_append_replace(adapter: Adapter, rel: Rel, schema: str) -> None:
    facts = rel("facts")
    first = arrow_table()
    assert adapter.write_arrow(first, facts, WriteMode.CREATE) == N_ROWS
    assert summary(adapter, facts) == (N_ROWS, 0, N_ROWS - 1, sum(range(N_ROWS)) * 0.5)
    assert adapter.fetch_rows(
        f"SELECT id, label, amount FROM {adapter.render(facts)} WHERE id = 12345"
    ) == [(12345, "row-12345", 6172.5)]

    with pytest.raises(WarehouseError):
        adapter.write_arrow(first, facts, WriteMode.CREATE)

    second = arrow_table(offset=N_ROWS)
    assert adapter.write_arrow(second, facts, WriteMode.APPEND) == N_ROWS
    total = 2 * N_ROWS
    assert summary(adapter, facts) == (total, 0, total - 1, sum(range(total)) * 0.5)

    third = arrow_table(offset=1_000_000)
    assert adapter.write_arrow(third, facts, WriteMode.REPLACE) == N_ROWS
    assert summary(adapter, facts) == (
        N_ROWS,
        1_000_000,
        1_000_000 + N_ROWS - 1,
        sum(range(1_000_000, 1_000_000 + N_ROWS)) * 0.5,
    )
    assert temporary_relations(adapter, schema) == []


def test_write_arrow_append_by_name_and_creates(adapter: Adapter, rel: Rel) -> None:
    facts = rel("facts")
    adapter.write_arrow(arrow_table(n=2), facts, WriteMode.APPEND)  # absent: created
    reordered = arrow_table(offset=2, n=2).select(["amount", "label", "id"])
    adapter.write_arrow(reordered, facts, WriteMode.APPEND)
    assert rows(adapter, facts) == [
        (0, "row-0", 0.0),
        (1, "row-1", 0.5),
        (2, "row-2", 1.0),
        (3, "row-3", 1.5),
    ]


def test_read_arrow(adapter: Adapter, rel: Rel) -> None:
    facts = rel("facts")
    adapter.write_arrow(arrow_table(n=1000), facts, WriteMode.CREATE)
    everything = adapter.read_arrow(facts)
    assert everything.num_rows == 1000
    some = adapter.read_arrow(facts, where_sql="id >= 990")
    assert some.num_rows == 10
    assert sorted(some.column(0).to_pylist()) == list(range(990, 1000))
    assert sorted(some.column(1).to_pylist()) == [f"row-{i}" for i in range(990, 1000)]


# ---------------------------------------------------------------------------- threads


def test_two_threads_write_different_tables(adapter: Adapter, rel: Rel, schema: str) -> None:
    rounds = 15
    start = threading.Barrier(2)

    def work(name: str) -> int:
        start.wait()
        relation = rel(name)
        for i in range(rounds):
            adapter.replace_table_atomically(
                relation, f"SELECT {i} AS round, 'x' AS label UNION ALL SELECT {i}, 'y'"
            )
            with adapter.transaction():
                adapter.execute(f"INSERT INTO {adapter.render(relation)} SELECT {i}, 'z'")
            adapter.write_arrow(
                arrow_table(offset=i, n=1000), rel(name + "_arrow"), WriteMode.APPEND
            )
        return adapter.row_count(relation)

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(work, ["left", "right"]))
    assert counts == [3, 3]
    for name in ("left", "right"):
        assert rows(adapter, rel(name), "2") == [
            (rounds - 1, "x"),
            (rounds - 1, "y"),
            (rounds - 1, "z"),
        ]
        assert adapter.row_count(rel(name + "_arrow")) == rounds * 1000
    assert temporary_relations(adapter, schema) == []


def test_schema_columns_lists_every_relation_in_column_order(
    adapter: Adapter, rel: Callable[[str], Relation], schema: str
) -> None:
    """The docs' catalog: one call gives each table's and view's columns, types, in order."""
    adapter.create_table_as(rel("wide"), "SELECT 1 AS zeta, 'x' AS alpha, 2.5 AS mid")
    adapter.create_view(rel("narrow"), f"SELECT alpha FROM {adapter.render(rel('wide'))}")
    found = {name.lower(): cols for name, cols in adapter.schema_columns(None, schema).items()}
    assert set(found) >= {"wide", "narrow"}
    assert [c.name.lower() for c in found["wide"]] == ["zeta", "alpha", "mid"]
    assert [c.name.lower() for c in found["narrow"]] == ["alpha"]
    assert found["wide"] == adapter.columns(rel("wide"))  # the same types as one relation's
    assert adapter.schema_columns(None, "no_such_schema") == {}
