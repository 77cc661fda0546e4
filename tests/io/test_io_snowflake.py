"""SQL reading assets stored as files, on Snowflake: a compile-time error saying what to
configure, and the configuration it names (the IO manager's type per target) compiling to a
read of the warehouse table. Real project folders and the CLI; nothing connects."""

from __future__ import annotations

import json
from pathlib import Path

SNOWFLAKE = """\
shop:
  target: {target}
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: analytics
    prod:
      type: snowflake
      account: acme
      user: me
      password: pw
      database: db
      warehouse: wh
      schema: analytics
"""

EVENTS = """\
import polars as pl
from orch import asset


@asset(io_manager="lake")
def events() -> pl.DataFrame:
    return pl.DataFrame({"n": [1, 2]})
"""

PROJECT = """\
name: shop
profile: shop
resources:
  lake:
    type: parquet
    base_dir: {base}
{targets}"""


def _project(make_project, root: Path, base: str = "lake", targets: str = "") -> Path:
    return make_project(
        root,
        {"models/events.py": EVENTS, "models/total.sql": "select sum(n) as total from events"},
        project_yml=PROJECT.format(base=base, targets=targets),
        profiles_yml=SNOWFLAKE.format(target="prod"),
    )


def test_sql_reading_parquet_on_snowflake_says_what_to_configure(
    make_project, tmp_path: Path, orch
) -> None:
    root = _project(make_project, tmp_path / "p")
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: models/total.sql: model 'total' reads 'events', which is stored as Parquet files "
        "by the IO manager 'lake'; the snowflake target cannot read local files. Store 'events' "
        "in the warehouse on this target: give its IO manager a type per target (resources: "
        "lake: targets: prod: type: warehouse); or load the files into a table yourself (a "
        "Snowflake external stage and COPY INTO) and declare that table as a source"
    )
    remote = _project(make_project, tmp_path / "r", base="s3://bucket/lake")
    run = orch("compile", "--project-dir", remote)
    assert run.exit_code == 2
    assert (
        "model 'total' reads 'events', which is stored as Parquet files by the IO manager "
        "'lake' at s3://bucket/lake/events/data.parquet; orch reads files in SQL on DuckDB only"
    ) in run.stderr


def test_the_io_manager_type_per_target_reads_the_table_on_snowflake(
    make_project, tmp_path: Path, orch
) -> None:
    targets = "    targets:\n      prod:\n        type: warehouse\n"
    root = _project(make_project, tmp_path / "p", targets=targets)
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 0, run.stderr
    nodes = json.loads((root / "target" / "manifest.json").read_text())["nodes"]
    compiled = nodes["total"]["compiled_code"]
    assert 'FROM "DB"."ANALYTICS"."EVENTS" AS events' in compiled
    assert "READ_PARQUET" not in compiled.upper()
    assert nodes["total"]["depends_on"] == ["events"]
    (root / "profiles.yml").write_text(SNOWFLAKE.format(target="dev"))  # DuckDB: the files
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert (root / "lake" / "events" / "data.parquet").is_file()


def test_external_models_on_snowflake_are_refused_at_compile(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path / "p",
        {"models/export.sql": "{{ config(materialized='external') }}\nselect 1 as id\n"},
        profiles_yml=SNOWFLAKE.format(target="prod"),
    )
    run = orch("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "models/export.sql: model 'export' is materialized='external', which the snowflake "
        "target cannot write. Use materialized='table' on this target" in run.stderr
    )
