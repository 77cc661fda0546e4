"""Run across the members of a workspace: one graph, each member's own target, state and lock.

Every member is compiled first (so a broken contract or a load error stops the run before
anything is built), the selection is evaluated over the workspace graph (asset names are
``member.asset``), every member taking part is locked in name order (a fixed order: two
workspace runs never wait on each other in a circle), and the members run one after the other
in the order their references need, each through :func:`~orch.run.workflow.run_command`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from orch.compiler.workspace_graph import (
    MemberResults,
    WorkspaceGraph,
    compile_workspace,
    merged_manifest,
)
from orch.config import RunOptions
from orch.events import EventSink
from orch.load.workspace import Workspace
from orch.manifest import Manifest
from orch.run.workflow import Command, RunResult, open_state, run_command
from orch.selection import Selection
from orch.state.base import LockOwner

__all__ = [
    "MemberResults",
    "WorkspaceGraph",
    "WorkspaceRun",
    "compile_workspace",
    "downstream",
    "merged_manifest",
    "run_workspace",
]

BUILT_KINDS = {"build": ("model", "seed"), "run": ("model",), "seed": ("seed",)}


def run_workspace(
    workspace: Workspace,
    options: RunOptions,
    command: Command,
    *,
    sinks_for: Callable[[str], Iterable[EventSink]] = lambda member: (),
) -> WorkspaceRun:
    """Run ``build``/``run``/``seed`` over the workspace selection, member by member.

    ``sinks_for(member)`` gives the event sinks of one member's run. A member after a failed
    one still runs, without the assets downstream of what failed (those are ``skipped``).
    """
    graph = compile_workspace(workspace, options, keep_going=True, light=True)
    kinds = BUILT_KINDS.get(command, ("model", "seed"))
    evaluated = Selection.from_options(options).evaluate(graph.manifest).assets
    chosen = {n for n in evaluated if graph.manifest.nodes[n].resource_type in kinds}
    by_member = {m: names for m, names in graph.local(chosen).items() if names}
    run = WorkspaceRun(graph)
    run_id = uuid.uuid4().hex
    failed: set[str] = set()
    with contextlib.ExitStack() as stack:
        if not options.dry_run:
            for member in sorted(by_member):  # a fixed order: no two runs wait in a circle
                project = graph.compiled[member].project
                state = open_state(project.root, target=project.target)
                stack.callback(state.close)
                stack.enter_context(
                    state.acquire_lock(project.target_name, LockOwner(command, run_id))
                )
        for member in graph.compiled:
            if member not in by_member:
                continue
            compiled = graph.compiled[member]
            blocked = downstream(graph.manifest, failed)
            names = {n for n in by_member[member] if f"{member}.{n}" not in blocked}
            run.skipped.extend(sorted(f"{member}.{n}" for n in by_member[member] - names))
            if not names:
                continue
            member_options = replace(
                graph.compiler.options_for(workspace.members[member]),
                select=tuple(sorted(names)),
            )
            result = run_command(
                member_options, command, sinks=sinks_for(member), compiled=compiled,
                take_lock=False,
            )  # fmt: skip
            run.results.append((member, result))
            if result.summary is not None:
                asset_of = {step.step_id: step.asset for step in result.plan.order}
                failed |= {
                    f"{member}.{asset_of.get(s, s)}"
                    for s, o in result.summary.outcomes.items()
                    if o.status in ("failed", "blocked")
                }
    return run


@dataclass
class WorkspaceRun:
    """What a run across the workspace did: each member's result, in run order, and the
    assets left out because something they read (in another member) failed."""

    graph: WorkspaceGraph
    results: list[tuple[str, RunResult]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst of the members' exit codes (1 when anything was skipped for a failure)."""
        codes = [r.exit_code for _, r in self.results]
        codes += [err.exit_code for err in self.graph.errors.values()]
        return max([*codes, 1 if self.skipped else 0])


def downstream(manifest: Manifest, names: set[str]) -> set[str]:
    """Every asset downstream of ``names`` (not the names themselves)."""
    out: set[str] = set()
    todo = [c for n in names for c in manifest.children.get(n, [])]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(manifest.children.get(name, []))
    return out
