"""The ``orch`` command line: the only place an OrchError becomes output and an exit code.

``base`` holds the group, the error handler and the shared options; each ``*_commands`` module
adds one family of commands to the group when imported.
"""

from __future__ import annotations

from orch.cli import (
    automation_commands,
    base,
    code_commands,
    condition_commands,
    deps_commands,
    dev_commands,
    docs_commands,
    history_commands,
    observe_commands,
    project_commands,
    run_commands,
    snapshot_commands,
    source_commands,
    ui_commands,
    workspace_commands,
)
from orch.cli.base import cli
from orch.run.reporting import guard_standard_streams


def main() -> None:
    """Console-script entry point (``orch``).

    stdout and stderr drop what is written once their reader has gone, so ``orch build | head``
    lets the build finish, be recorded, and exit as if all its output had been read.
    """
    guard_standard_streams()
    base.main()


__all__ = [
    "automation_commands",
    "cli",
    "condition_commands",
    "code_commands",
    "deps_commands",
    "dev_commands",
    "docs_commands",
    "history_commands",
    "main",
    "observe_commands",
    "project_commands",
    "run_commands",
    "source_commands",
    "snapshot_commands",
    "ui_commands",
    "workspace_commands",
]
