"""``{{ this }}``, ``{{ ref() }}`` and ``{{ source() }}`` print as dbt-duckdb prints them.

dbt-duckdb renders a relation as ``"<database>"."<schema>"."<name>"``, the database being the
DuckDB file's stem, wherever the text lands: SQL, a string literal, a comment, a hook. The
expected rows are what ``dbt build`` (dbt-core 1.11.16, dbt-duckdb 1.11.1) wrote for this same
project.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.dbt.conftest import RunOrch, Warehouse

PROJECT = {
    "dbt_project.yml": """\
name: 'thisexp'
version: '1.0.0'
config-version: 2
profile: 'thisexp'
models:
  thisexp:
    +materialized: table
    +post-hook: "insert into main.hook_log select '{{ this }}', '{{ this.database }}', \
'{{ this.schema }}', '{{ this.identifier }}', '{{ this.name }}'"
""",
    "profiles.yml": """\
thisexp:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: exp.duckdb
      threads: 1
""",
    "seeds/raw.csv": "id\n1\n",
    "models/sources.yml": """\
version: 2
sources:
  - name: src
    schema: main
    tables:
      - name: hook_log
""",
    # this.database / .schema / .render(): rendered at run time, with the real relation
    "models/a.sql": """\
select '{{ this }}' as t, '{{ this.database }}' as d, '{{ this.schema }}' as s,
  '{{ this.identifier }}' as i, '{{ ref("raw") }}' as r, '{{ source("src", "hook_log") }}' as src,
  '{{ this.render() }}' as rendered, '{{ ref("raw").include(database=false) }}' as nodb,
  {{ 1 if this == this else 0 }} as eq, '{{ this | string }}' as str,
  '{{ target.database }}' as tdb
""",
    # plain markers in strings and comments: compiled, not rendered at run time
    "models/b.sql": """\
-- built from {{ ref("raw") }} into {{ this }}
select '{{ this }}' as t, '{{ ref("raw") }}' as r, '{{ source("src", "hook_log") }}' as s, id
from {{ ref("raw") }}
""",
    "models/inc.sql": """\
{{ config(materialized='incremental') }}
select 1 as id, '{{ this }}' as t
{% if is_incremental() %} where (select count(*) from {{ this }}) < 2 {% endif %}
""",
}


@pytest.fixture
def thisexp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "thisexp"
    for rel, text in PROJECT.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(project)
    con = duckdb.connect(str(project / "exp.duckdb"))  # the source, as a loader would write it
    con.execute(
        "create table main.hook_log (t varchar, d varchar, s varchar, i varchar, n varchar)"
    )
    con.close()
    return project


def test_relations_print_with_the_database_as_in_dbt_duckdb(thisexp: Path, orch: RunOrch):
    result = orch("build", "--project-dir", str(thisexp))
    assert result.exit_code == 0, result.output + result.stderr
    db = Warehouse(thisexp / "exp.duckdb")
    assert db.rows("select * from main.a") == [(
        '"exp"."main"."a"', "exp", "main", "a", '"exp"."main"."raw"', '"exp"."main"."hook_log"',
        '"exp"."main"."a"', '"main"."raw"', 1, '"exp"."main"."a"', "exp",
    )]  # fmt: skip
    assert db.rows("select * from main.b") == [
        ('"exp"."main"."b"', '"exp"."main"."raw"', '"exp"."main"."hook_log"', 1)
    ]
    assert db.rows("select * from main.inc") == [(1, '"exp"."main"."inc"')]
    # the post-hook's this: text, database and parts
    assert db.rows("select * from main.hook_log order by all") == [
        ('"exp"."main"."a"', "exp", "main", "a", "a"),
        ('"exp"."main"."b"', "exp", "main", "b", "b"),
        ('"exp"."main"."inc"', "exp", "main", "inc", "inc"),
    ]
    # an incremental run reads {{ this }} as a table, and the string keeps dbt's text
    assert orch("build", "-s", "inc", "--project-dir", str(thisexp)).exit_code == 0
    assert db.rows("select * from main.inc") == [(1, '"exp"."main"."inc"')] * 2


def test_compiled_comments_and_strings_hold_the_relations(thisexp: Path, orch: RunOrch):
    result = orch("compile", "--project-dir", str(thisexp))
    assert result.exit_code == 0, result.output + result.stderr
    compiled = (thisexp / "target" / "compiled" / "models" / "b.sql").read_text()
    # dbt: '-- built from "exp"."main"."raw" into "exp"."main"."b"'; the table reference
    # leaves the default database out (the same table)
    assert compiled.splitlines() == [
        '-- built from "exp"."main"."raw" into "exp"."main"."b"',
        'select \'"exp"."main"."b"\' as t, \'"exp"."main"."raw"\' as r, '
        '\'"exp"."main"."hook_log"\' as s, id',
        'from "main"."raw"',
    ]
    assert "__orch_" not in compiled
