"""env_var() placeholders reach the warehouse as bound parameters, on every adapter (issue 22)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from orch.adapters.base import Adapter
from orch.names import Relation
from orch.redaction import SecretBindingError, bind_placeholders, placeholder

PAYLOAD = "x'; drop table canary; --"


@pytest.fixture
def payload(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORCH_TEST_PAYLOAD", PAYLOAD)
    return f"'{placeholder('ORCH_TEST_PAYLOAD')}'"


def test_placeholder_runs_as_data_in_every_write(
    adapter: Adapter, rel: Callable[[str], Relation], payload: str
) -> None:
    canary, t = rel("canary"), rel("t")
    adapter.create_table_as(canary, "SELECT 1 AS x")
    adapter.replace_table_atomically(t, f"SELECT 1 AS id, {payload} AS v")
    adapter.insert_into(t, f"SELECT 2 AS id, {payload} AS v")
    adapter.delete_insert(t, f"SELECT 3 AS id, {payload} AS v", "1 = 0")
    adapter.merge(t, f"SELECT 1 AS id, {payload} AS v", ["id"])
    assert sorted(adapter.fetch_rows(f"SELECT id, v FROM {adapter.render(t)}")) == [
        (1, PAYLOAD),
        (2, PAYLOAD),
        (3, PAYLOAD),
    ]
    query = f"SELECT COUNT(*) AS n FROM {adapter.render(t)} WHERE v = {payload}"
    assert adapter.fetch_rows(query) == [(3,)]
    assert adapter.fetch_arrow(query).to_pylist()[0] in ({"n": 3}, {"N": 3})
    assert adapter.fetch_rows(f"SELECT * FROM {adapter.render(canary)}") == [(1,)]


def test_placeholder_inside_a_longer_literal(adapter: Adapter, payload: str) -> None:
    inner = payload.strip("'")
    assert adapter.fetch_rows(f"SELECT 'Bearer {inner}!' AS h") == [(f"Bearer {PAYLOAD}!",)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            f"SELECT 1 AS x FROM {placeholder('ORCH_TEST_PAYLOAD')}",
            "env_var() is used outside a string literal; its value would be pasted into the SQL "
            "as code",
        ),
        (
            f"SELECT '{placeholder('ORCH_TEST_PAYLOAD')}' AS x; DROP TABLE canary",
            "a statement holding env_var() values contains more than one SQL statement",
        ),
    ],
    ids=["identifier", "two-statements"],
)
def test_unbindable_placeholders_are_refused(adapter: Adapter, payload: str, sql: str, message):
    with pytest.raises(SecretBindingError) as info:
        adapter.fetch_rows(sql)
    assert info.value.message == message


def test_bind_placeholders_keeps_other_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A__B", "one")
    sql = f"SELECT ?, '{placeholder('A__B')}', 'k={placeholder('A__B')}' -- {placeholder('Z')}"
    assert bind_placeholders(sql, "duckdb", [7]) == (
        f"SELECT ?, ?, ('k=' || ?) -- {placeholder('Z')}",
        [7, "one", "one"],
    )
    assert bind_placeholders("SELECT ?", "duckdb", [1]) == ("SELECT ?", [1])
