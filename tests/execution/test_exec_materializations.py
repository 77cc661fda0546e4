"""Materializations and seeds, asserted on the rows and types of the DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

SRC_V1 = "id,v\n1,one\n2,two\n"
SRC_V2 = "id,v\n1,one\n2,TWO\n3,three\n"


def test_view_table_and_ephemeral(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "seeds/src.csv": SRC_V1,
            "models/base.sql": "{{ config(materialized='ephemeral') }}\n"
            "select id * 10 as x from src",
            "models/as_view.sql": "{{ config(materialized='view') }}\nselect x from base",
            "models/as_table.sql": "{{ config(materialized='table') }}\n"
            "select x, x + 1 as y from as_view",
        },
    )
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    wh = warehouse(project)
    rels = wh.relations()
    assert rels == {"as_table": "BASE TABLE", "as_view": "VIEW", "src": "BASE TABLE"}
    assert "base" not in rels  # ephemeral: inlined, no relation created
    assert wh.rows("select x from analytics.as_view order by x") == [(10,), (20,)]
    assert wh.rows("select x, y from analytics.as_table order by x") == [(10, 11), (20, 21)]
    # the consumer's compiled SQL carries the ephemeral model as a CTE
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["as_view"]["compiled_code"].startswith(
        'WITH "__orch_ephemeral_base" AS ('
    )
    assert "run_results.json" in os.listdir(project / "target")
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    assert "model.shop.base" not in {r["unique_id"] for r in results}


def test_incremental_append_then_merge(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "seeds/src.csv": SRC_V1,
            "models/inc_append.sql": """\
                {{ config(materialized='incremental') }}
                select id, v from src
                {% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}
                """,
            "models/inc_merge.sql": """\
                {{ config(materialized='incremental', unique_key='id') }}
                select id, v from src
                """,
        },
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    wh = warehouse(project)
    first = [(1, "one"), (2, "two")]
    assert wh.rows("select id, v from analytics.inc_append order by id") == first
    assert wh.rows("select id, v from analytics.inc_merge order by id") == first

    (project / "seeds" / "src.csv").write_text(SRC_V2)
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    # append: only the new row was added; the old row 2 keeps its value
    assert wh.rows("select id, v from analytics.inc_append order by id") == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
    # merge: row 2 updated in place, row 3 inserted, no duplicates
    assert wh.rows("select id, v from analytics.inc_merge order by id") == [
        (1, "one"),
        (2, "TWO"),
        (3, "three"),
    ]


def test_full_refresh_rebuilds_an_incremental(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "seeds/src.csv": SRC_V1,
            # no incremental filter: every incremental run appends all rows again
            "models/inc.sql": "{{ config(materialized='incremental') }}\nselect id, v from src",
        },
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    assert orch("build", "--project-dir", project).exit_code == 0
    wh = warehouse(project)
    assert wh.rows("select count(*) from analytics.inc") == [(4,)]
    run = orch("build", "--project-dir", project, "--full-refresh")
    assert run.exit_code == 0, run.output
    assert wh.rows("select id, v from analytics.inc order by id") == [(1, "one"), (2, "two")]


def test_seed_types_inferred_and_declared(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "seeds/people.csv": "id,name,score,born,joined_at,active\n"
            "1,Ann,1.5,2020-01-02,2020-01-02 03:04:05,true\n"
            "2,Bob,2.25,2021-12-31,2021-12-31 23:59:59,false\n",
            "seeds/codes.csv": "code,amount\n007,12.50\n010,3\n",
        },
        project_yml="""\
            name: shop
            profile: shop
            dialect: duckdb
            seeds:
              shop:
                codes:
                  +column_types:
                    code: varchar
                    amount: decimal(10,2)
            """,
    )
    run = orch("seed", "--project-dir", project)
    assert run.exit_code == 0, run.output
    wh = warehouse(project)
    assert wh.types("people") == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "score": "DOUBLE",
        "born": "DATE",
        "joined_at": "TIMESTAMP",
        "active": "BOOLEAN",
    }
    assert wh.rows("select * from analytics.people order by id")[0] == (
        1,
        "Ann",
        1.5,
        dt.date(2020, 1, 2),
        dt.datetime(2020, 1, 2, 3, 4, 5),
        True,
    )
    assert wh.types("codes") == {"code": "VARCHAR", "amount": "DECIMAL(10,2)"}
    assert wh.rows("select code, amount from analytics.codes order by code") == [
        ("007", Decimal("12.50")),  # leading zeros kept: declared as text
        ("010", Decimal("3.00")),
    ]
    assert not any(name.startswith("__orch_") for name in wh.relations())


def test_seed_csv_edge_cases(make_project, orch, warehouse, tmp_path):
    project = make_project(
        tmp_path,
        {
            "seeds/messy.csv": "",  # written below as bytes (CRLF)
            "seeds/header_only.csv": "a,b\n",
        },
    )
    (project / "seeds" / "messy.csv").write_bytes(
        b'id,label,note\r\n1,"comma, inside","say ""hi"""\r\n2,,\r\n3,"multi\r\nline",x\r\n'
    )
    run = orch("seed", "--project-dir", project)
    assert run.exit_code == 0, run.output
    wh = warehouse(project)
    assert wh.rows("select id, label, note from analytics.messy order by id") == [
        (1, "comma, inside", 'say "hi"'),
        (2, None, None),  # empty values are NULL
        (3, "multi\r\nline", "x"),
    ]
    assert wh.types("messy") == {"id": "BIGINT", "label": "VARCHAR", "note": "VARCHAR"}
    # a header-only file makes an empty table with text columns
    assert wh.rows("select count(*) from analytics.header_only") == [(0,)]
    assert wh.types("header_only") == {"a": "VARCHAR", "b": "VARCHAR"}


def test_table_replaces_a_view_of_the_same_name(make_project, orch, warehouse, tmp_path):
    project = make_project(tmp_path, {"models/m.sql": "select 1 as x"})
    assert orch("run", "--project-dir", project).exit_code == 0
    assert warehouse(project).relations() == {"m": "VIEW"}
    (project / "models" / "m.sql").write_text("{{ config(materialized='table') }}\nselect 2 as x")
    assert orch("run", "--project-dir", project).exit_code == 0
    wh = warehouse(project)
    assert wh.relations() == {"m": "BASE TABLE"}
    assert wh.rows("select x from analytics.m") == [(2,)]
    (project / "models" / "m.sql").write_text("select 3 as x")
    assert orch("run", "--project-dir", project).exit_code == 0
    assert wh.relations() == {"m": "VIEW"}
    assert wh.rows("select x from analytics.m") == [(3,)]
