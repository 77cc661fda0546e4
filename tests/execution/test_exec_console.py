"""Project text on the console is shown as written: never read as rich markup, never as escapes.

A static partition key such as ``eu`` makes a step id ``sales[eu]``, which rich would read as a
style tag and drop; a Python asset's log message with an escape sequence would drive the terminal.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MakeProject, run_cli

REGIONS = """
{{ config(materialized='incremental',
          partitioned_by={'keys': ['eu', 'us'], 'column': 'region'}) }}
select {{ partition.key }} as region, 1 as amount
"""

LOUD = """
import polars as pl
from orch import asset


@asset
def loud(context) -> pl.DataFrame:
    context.log.info("colour \\x1b[31mred\\x1b[0m and [bold]tags[/bold]")
    return pl.DataFrame({"x": [1]})
"""


def test_partition_keys_and_log_messages_are_printed_as_written(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project(tmp_path, {"models/sales.sql": REGIONS, "models/loud.py": LOUD})
    result = run_cli("build", "--project-dir", project)
    assert result.exit_code == 0, result.output
    assert "sales[eu] (incremental, 1 rows)" in result.stdout
    assert "sales[us] (incremental, 1 rows)" in result.stdout
    assert "\x1b" not in result.stdout
    assert "loud info: colour \\x1b[31mred\\x1b[0m and [bold]tags[/bold]" in result.stdout
