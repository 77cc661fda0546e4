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

from orch.compiler.artifacts import CompileResult, write_artifacts
from orch.compiler.workspace import WorkspaceCompiler, write_contracts
from orch.config import RunOptions
from orch.errors import UserError
from orch.events import EventSink
from orch.load.workspace import Workspace
from orch.manifest import CheckNode, Manifest, Node, ProjectInfo
from orch.run.workflow import Command, RunResult, open_state, run_command
from orch.selection import Selection
from orch.state.base import LockOwner

BUILT_KINDS = {"build": ("model", "seed"), "run": ("model",), "seed": ("seed",)}


@dataclass
class WorkspaceGraph:
    """The compiled members and their union: one manifest whose names are ``member.asset``."""

    workspace: Workspace
    compiled: dict[str, CompileResult]  # producers before consumers
    manifest: Manifest
    compiler: WorkspaceCompiler

    @property
    def errors(self) -> dict[str, UserError]:
        """member -> the error it failed to load with (only with ``keep_going``)."""
        return self.compiler.errors

    def local(self, names: Iterable[str]) -> dict[str, set[str]]:
        """member -> its own names of the given workspace names."""
        out: dict[str, set[str]] = {m: set() for m in self.compiled}
        for name in names:
            member, _, local = name.partition(".")
            out[member].add(local)
        return out


def compile_workspace(
    workspace: Workspace, options: RunOptions, *, keep_going: bool = False
) -> WorkspaceGraph:
    """Compile every member (reusing manifests) and join them into one graph.

    With ``keep_going`` a member that fails to load is left out (its error in
    ``graph.errors``) and the graph is the other members'.
    """
    compiler = WorkspaceCompiler(workspace, options)
    compiled = compiler.compile_all(keep_going=keep_going)
    if not compiled:
        compiler.compile_all()  # nothing loaded: raise every error
    compiler.check_contracts()
    for result in compiled.values():
        write_artifacts(result)
    return WorkspaceGraph(workspace, compiled, merged_manifest(workspace, compiler), compiler)


def merged_manifest(workspace: Workspace, compiler: WorkspaceCompiler) -> Manifest:
    """The members' manifests as one: ``member.asset`` names, paths from the workspace root;
    a model read from another member is that member's node, not a copy."""
    nodes: dict[str, Node] = {}
    parents: dict[str, list[str]] = {}
    checks: dict[str, CheckNode] = {}
    for member in compiler.order:
        manifest = compiler.results[member].manifest
        prefix = compiler.prefix(member)

        def name_of(local: str, manifest: Manifest = manifest, member: str = member) -> str:
            node = manifest.nodes.get(local)
            if node is not None and node.config.meta.get("workspace_member"):
                return local  # already 'producer.model'
            return f"{member}.{local}"

        for local, node in manifest.nodes.items():
            if node.resource_type == "source" and node.config.meta.get("workspace_member"):
                continue
            name = name_of(local)
            nodes[name] = node.model_copy(
                update={
                    "name": name,
                    "path": prefix + node.path if node.path else None,
                    "depends_on": [name_of(p) for p in node.depends_on],
                }
            )
            parents[name] = [name_of(p) for p in manifest.parents.get(local, [])]
        for local, check in manifest.checks.items():
            checks[f"{member}.{local}"] = check.model_copy(
                update={
                    "name": f"{member}.{local}",
                    "asset": name_of(check.asset) if check.asset else None,
                    "depends_on": [name_of(p) for p in check.depends_on],
                    "path": prefix + check.path if check.path else None,
                }
            )
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for child, ups in parents.items():
        for up in ups:
            children.setdefault(up, []).append(child)
    first = compiler.results[compiler.order[0]].manifest
    info = ProjectInfo(
        name=workspace.root.name,
        dialect=first.project.dialect,
        target_name=first.project.target_name,
        target_type=first.project.target_type,
        target_dialect=first.project.target_dialect,
        database=first.project.database,
        schema_name=first.project.schema_name,
    )
    return Manifest.model_construct(  # its parts are validated already: don't do it again
        schema_version=first.schema_version,
        orch_version=first.orch_version,
        project=info,
        nodes=nodes,
        checks=checks,
        parents=parents,
        children={k: sorted(v) for k, v in children.items()},
    )


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
    graph = compile_workspace(workspace, options, keep_going=True)
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
                outcomes = [
                    (asset_of.get(s, s), o.status) for s, o in result.summary.outcomes.items()
                ]
                built = {a for a, status in outcomes if status == "success"}
                failed |= {
                    f"{member}.{a}" for a, status in outcomes if status in ("failed", "blocked")
                }
                write_contracts(compiled.project, compiled.manifest, built)
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
