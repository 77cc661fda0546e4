"""The ``orch`` command line: the only place an OrchError becomes output and an exit code.

``base`` holds the group, the error handler and the shared options; each ``*_commands`` module
adds one family of commands to the group when imported.
"""

from __future__ import annotations

from orch.cli import automation_commands, docs_commands, project_commands, run_commands
from orch.cli.base import cli, main

__all__ = [
    "automation_commands",
    "cli",
    "docs_commands",
    "main",
    "project_commands",
    "run_commands",
]
