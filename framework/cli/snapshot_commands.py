"""``orch snapshot``: build the dbt snapshots of the selection (as ``dbt snapshot`` does)."""

from __future__ import annotations

from typing import Any

from orch.cli.base import cli, project_options, selection_options
from orch.cli.run_commands import _run, run_options


@cli.command("snapshot")
@project_options
@selection_options
@run_options
def snapshot_command(**kwargs: Any) -> None:
    """Build the selected dbt snapshots (snapshots/*.sql blocks and YAML snapshots).

    Each snapshot records the changes of its query since the last build: changed rows get a
    new version, the old one its dbt_valid_to. `orch build` builds them too, in DAG order;
    `orch run` does not (as in dbt).

    \b
    Examples:
      orch snapshot
      orch snapshot -s customers_snapshot
    """
    _run("snapshot", kwargs)
