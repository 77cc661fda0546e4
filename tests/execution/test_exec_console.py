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


def test_unstyled_lines_are_what_rich_would_print() -> None:
    """Piped output skips rich for step and check lines (issue 21): the same text, to the byte."""
    import io
    from datetime import datetime, timezone

    from orch.events import CheckEvaluated, RunStarted, StepFailed, StepMaterialized, StepSkipped
    from orch.run.reporting import ConsoleReporter

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    names = ["orders", "sales[eu]", "a:smile:b [bold]x[/bold]", "esc \x1b[31mred", "tab\there"]
    events = [RunStarted("r", "build", "dev", "", 12)]
    for i, name in enumerate(names):
        rows = None if i == 0 else 1234567 * i
        events.append(StepMaterialized("r", name, name, None, "table", "f", rows, 0.1234, at))
        for status in ("pass", "fail", "warn", "error"):
            events.append(
                CheckEvaluated("r", f"not_null_{name}", name, "eu" if i else None, status,
                               "error", 3 * i, 0.01)
            )  # fmt: skip
        events.append(StepFailed("r", f"{name}_x", f"{name}_x", None, "boom [red]", 0.5))
        events.append(StepSkipped("r", f"{name}_y", f"{name}_y", None, f"upstream '{name}' failed"))
    outputs = []
    for unstyled in (True, False):
        stream = io.StringIO()
        reporter = ConsoleReporter(live=False, stream=stream)
        assert reporter.unstyled  # a StringIO is no terminal
        reporter.unstyled = unstyled  # False: every line through rich, as before
        for event in events:
            reporter.emit(event)
        outputs.append(stream.getvalue())
    fast, rich_text = outputs
    assert fast == rich_text
    assert " 1/12 OK      orders (table) in 0.12s\n" in fast
    assert "sales[eu] (table, 1,234,567 rows)" in fast
    assert "check not_null_sales[eu][eu] (3 failing rows)" in fast
    assert "esc \\x1b[31mred" in fast and "\x1b" not in fast
    assert "a:smile:b [bold]x[/bold] (table" in fast  # as written: no emoji, no markup
    assert "SKIP    sales[eu]_y: upstream 'sales[eu]' failed\n" in fast
    assert "ERROR   sales[eu]_x in 0.50s\n" in fast
