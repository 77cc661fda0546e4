"""``orch daemon --workspace``: one loop over every member's schedules and sensors.

Each member keeps its own :class:`~orch.automation.daemon.Daemon` (its state store, daemon lock,
runs and targets). Before each evaluation the loop looks at each member's files; a member whose
files changed is loaded again — without a restart, its running runs drained first — and a
member that fails to load is reported with its error (file:line) and left out until its files
change again, while the other members keep ticking.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from orch.automation.daemon import Daemon, system_clock
from orch.config import RunOptions
from orch.errors import UserError
from orch.load.workspace import Workspace, member_stamp


def member_digest(root: Path, skip: set[Path]) -> str:
    """A digest of a member's files (name, size, mtime), without build outputs or other members.

    Cheap enough to take before every evaluation: no file is read.
    """
    return member_stamp(root, skip).digest


@dataclass
class MemberDaemon:
    """One member as the workspace daemon sees it: its daemon, or why it did not load."""

    name: str
    root: Path
    digest: str = ""
    daemon: Daemon | None = None
    error: UserError | None = None
    lock: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


class WorkspaceDaemon:
    """Runs the daemons of every member in one loop, reloading a member whose files changed."""

    def __init__(
        self,
        workspace: Workspace,
        options: RunOptions,
        *,
        clock: Callable[[], datetime] = system_clock,
        sleep: Callable[[float], Any] | None = None,
        report: Callable[[str], None] | None = None,
        **daemon_args: Any,
    ) -> None:
        self.workspace = workspace
        self.options = options
        self.clock = clock
        self.sleep = sleep or time.sleep
        self.report = report or (lambda line: None)
        self.daemon_args = {**daemon_args, "clock": clock}
        self.poll_interval: float = daemon_args.get("poll_interval", 30.0)
        self.stopping = False
        roots = {m.root for m in workspace.members.values()}
        self.members = {name: MemberDaemon(name, m.root) for name, m in workspace.members.items()}
        self._skip = {n: roots - {m.root} for n, m in workspace.members.items()}
        for member in self.members.values():
            self.reload_if_changed(member)

    def reload_if_changed(self, member: MemberDaemon) -> bool:
        """Load the member again when its files changed; True when it was (re)loaded."""
        digest = member_digest(member.root, self._skip[member.name])
        if digest == member.digest:
            return False
        first = not member.digest
        member.digest = digest
        self._unload(member)
        try:
            daemon = Daemon(replace(self.options, project_dir=member.root), **self.daemon_args)
        except UserError as err:
            member.error = err
            self.report(f"{member.name}: not loaded: {err.format_message()}")
            return True
        member.error = None
        try:
            member.lock.enter_context(daemon.acquire())
        except UserError as err:
            daemon.close()
            member.error = err
            self.report(f"{member.name}: not started: {err.format_message()}")
            return True
        member.daemon = daemon
        a = daemon.automation
        verb = "loaded" if first else "reloaded"
        self.report(
            f"{member.name}: {verb} ({len(a.schedules)} schedules, {len(a.sensors)} sensors)"
        )
        return True

    def _unload(self, member: MemberDaemon) -> None:
        if member.daemon is not None:
            member.daemon.drain()
            member.lock.close()
            member.daemon.close()
            member.daemon = None
            member.lock = contextlib.ExitStack()

    def iterate(self, now: datetime | None = None) -> None:
        """Reload what changed, then evaluate every loaded member once."""
        for member in self.members.values():
            self.reload_if_changed(member)
        for member in self.members.values():
            if member.daemon is not None:
                member.daemon.iterate(now or self.clock())

    def run(self, *, max_iterations: int | None = None) -> int:
        """Loop until :meth:`stop` or ``max_iterations``; returns the number of iterations."""
        iterations = 0
        try:
            while not self.stopping:
                self.iterate()
                iterations += 1
                if max_iterations is not None and iterations >= max_iterations:
                    break
                self.sleep(self.poll_interval)
        finally:
            self.close()
        return iterations

    def stop(self) -> None:
        """Stop after the current evaluation."""
        self.stopping = True

    def errors(self) -> dict[str, UserError]:
        """member -> why it is not running."""
        return {n: m.error for n, m in self.members.items() if m.error is not None}

    def close(self) -> None:
        """Drain every member's runs and release its lock and state."""
        for member in self.members.values():
            self._unload(member)
