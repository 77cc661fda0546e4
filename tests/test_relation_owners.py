"""Every relation has exactly one owner, decided at compile time with the target's name rules.

Two assets writing one relation (an alias equal to another model's name, file names differing
only in case, an alias equal to a seed's name, a model over a declared source table) would let
one build replace the other's data: each is an error naming both files, exit 2, before anything
runs — also when the build is scoped to one of them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import MakeProject, run_cli

ORDERS = "select range as order_id from range(2000)"


def _rows(project: Path, table: str) -> int:
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"select count(*) from analytics.{table}").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def test_an_alias_onto_another_model_is_an_error_and_the_table_survives(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project(
        tmp_path, {"models/orders.sql": f"{{{{ config(materialized='table') }}}}\n{ORDERS}"}
    )
    assert run_cli("build", "--project-dir", project).exit_code == 0
    (project / "models" / "orders_copy.sql").write_text(
        "{{ config(alias='orders') }}\nselect 1 as order_id\n", encoding="utf-8"
    )
    for args in ([], ["-s", "orders_copy"]):  # the scoped build must see the other owner too
        result = run_cli("build", "--project-dir", project, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (
            "Error: models/orders_copy.sql: two assets write the relation analytics.orders: "
            "model 'orders' (models/orders.sql) and model 'orders_copy' "
            "(models/orders_copy.sql, alias 'orders'). Give one of them another name (its file "
            "name or alias=) or another schema"
        )
        assert "models/orders.sql" in result.stderr and "models/orders_copy.sql" in result.stderr
        assert "Traceback" not in result.stderr
    assert _rows(project, "orders") == 2000


@pytest.mark.parametrize(
    ("files", "named"),
    [
        (
            {
                "models/customers.sql": "select 1 as id",
                "models/marts/Customers.sql": "select 2 as id",
            },
            ["models/customers.sql", "models/marts/Customers.sql"],
        ),
        (
            {
                "seeds/orders.csv": "id\n1\n",
                "models/o.sql": "{{ config(alias='ORDERS') }}\nselect 1 as id",
            },
            ["seeds/orders.csv", "models/o.sql"],
        ),
        (
            {
                "models/sources.yml": "version: 2\nsources:\n  - name: raw\n    schema: analytics\n"
                "    tables:\n      - name: events\n",
                "models/events.sql": "select 1 as id",
                "models/reader.sql": "select * from {{ source('raw', 'events') }}",
            },
            ["models/events.sql", "source table"],
        ),
    ],
    ids=["names-differing-in-case", "alias-onto-a-seed", "model-over-a-source-table"],
)
def test_a_shared_relation_is_an_error_naming_both(
    tmp_path: Path, make_project: MakeProject, files: dict[str, str], named: list[str]
) -> None:
    project = make_project(tmp_path, files)
    result = run_cli("build", "--project-dir", project)
    assert result.exit_code == 2, result.output
    assert "two assets write the relation" in result.stderr
    for text in named:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "warehouse.duckdb").exists()  # nothing ran


def test_two_sources_may_read_one_table(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project(
        tmp_path,
        {
            "models/sources.yml": "version: 2\nsources:\n"
            "  - name: a\n    schema: raw\n    tables: [{name: events}]\n"
            "  - name: b\n    schema: raw\n    tables: [{name: events}]\n",
            "models/m.sql": "select 1 as id",
        },
    )
    result = run_cli("compile", "--project-dir", project)
    assert result.exit_code == 0, result.stderr
