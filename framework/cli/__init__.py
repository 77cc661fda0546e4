"""The ``orch`` command line: the only place an OrchError becomes output and an exit code.

``base`` holds the group, the error handler and the shared options; each ``*_commands`` module
adds one family of commands to the group when imported. The modules are imported on first use
(click's "lazily loading subcommands"): ``orch run`` imports ``run_commands`` only, while
``orch --help`` imports them all to list every command with its help text.
"""

from __future__ import annotations

import gc

# The modules imported here create what lives as long as the process (classes, functions,
# pydantic validators): the cyclic collector scanning them again and again while they load was
# ~10 % of a one-model run. Paused for these imports, what they made frozen (never scanned
# again: main() freezes everything at its start anyway), then the collector as it was.
_collecting = gc.isenabled()
gc.disable()
try:
    from orch.cli import base
    from orch.cli.base import cli
    from orch.run.reporting import guard_standard_streams
finally:
    gc.freeze()  # what they made lives on: never scanned (main() freezes again, as before)
    if _collecting:
        gc.enable()

# Each top-level command -> the modules that define it (and its subcommands), in import order.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "automation": ("condition_commands",),
    "backfill": ("run_commands",),
    "build": ("run_commands",),
    "clean": ("dev_commands",),
    "code": ("code_commands",),
    "compile": ("project_commands",),
    "contract": ("workspace_commands",),
    "daemon": ("automation_commands",),
    "debug": ("dev_commands",),
    "deps": ("deps_commands",),
    "docs": ("docs_commands",),
    "init": ("project_commands",),
    "job": ("automation_commands",),
    "lineage": ("project_commands",),
    "ls": ("project_commands",),
    "resources": ("project_commands",),
    "retry": ("history_commands",),
    "run": ("run_commands",),
    "runs": ("history_commands",),
    "schedule": ("automation_commands",),
    "seed": ("run_commands",),
    "sensor": ("automation_commands",),
    "show": ("dev_commands",),
    "snapshot": ("snapshot_commands",),
    "source": ("source_commands", "observe_commands"),  # observe adds `orch source observe`
    "status": ("run_commands",),
    "test": ("run_commands",),
    "ui": ("ui_commands",),
    "workspace": ("workspace_commands",),
}
cli.lazy_commands.update(
    {name: tuple(f"orch.cli.{m}" for m in modules) for name, modules in COMMAND_MODULES.items()}
)


def main() -> None:
    """Console-script entry point (``orch``).

    stdout and stderr drop what is written once their reader has gone, so ``orch build | head``
    lets the build finish, be recorded, and exit as if all its output had been read.
    """
    guard_standard_streams()
    base.main()


__all__ = ["COMMAND_MODULES", "cli", "main"]
