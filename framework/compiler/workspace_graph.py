"""The workspace graph: every member compiled (or read from the workspace cache) and joined.

:func:`compile_workspace` gives a :class:`WorkspaceGraph`: one manifest whose names are
``member.asset``, the members in reference order, and each member's compile result on demand.
It lives in the compiler stage (it imports nothing of ``orch.run``), so ``orch ls
--workspace`` pays for no run machinery; :mod:`orch.run.workspace` runs across it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from orch.compiler.artifacts import CompileResult, write_artifacts
from orch.compiler.workspace import WorkspaceCompiler
from orch.compiler.workspace_cache import light_copy, read_cache, take_stamps, write_cache
from orch.config import RunOptions
from orch.errors import UserError
from orch.load.workspace import Workspace
from orch.manifest import CheckNode, Manifest, Node, ProjectInfo


@dataclass
class WorkspaceGraph:
    """The members and their union: one manifest whose names are ``member.asset``.

    ``manifest`` is the graph for selection, listing and ordering; with ``light`` (what
    :func:`compile_workspace` gives when asked for it, from the workspace cache or not) its
    nodes carry no SQL bodies, columns or column lineage: read those from the member's own
    manifest, ``compiled[member].manifest``. ``compiled`` loads a member on first access
    (reusing its manifest), so a command pays only for the members it touches.
    """

    workspace: Workspace
    compiler: WorkspaceCompiler
    manifest: Manifest
    order: list[str]  # members, producers before consumers
    reads: dict[str, list[str]] = field(default_factory=dict)  # member -> members it reads
    from_cache: bool = False

    @property
    def compiled(self) -> MemberResults:
        """member -> its CompileResult, in reference order (loaded on first access)."""
        return MemberResults(self.compiler, self.order)

    @property
    def errors(self) -> dict[str, UserError]:
        """member -> the error it failed to load with (only with ``keep_going``)."""
        return self.compiler.errors

    def topological_names(self) -> list[str]:
        """The graph's asset names, each after its parents (the cache keeps them so)."""
        if self.from_cache:
            return list(self.manifest.nodes)
        return self.manifest.topological_names()

    def local(self, names: Iterable[str]) -> dict[str, set[str]]:
        """member -> its own names of the given workspace names."""
        out: dict[str, set[str]] = {m: set() for m in self.order}
        for name in names:
            member, _, local = name.partition(".")
            out[member].add(local)
        return out


class MemberResults(Mapping[str, CompileResult]):
    """The members' compile results, each loaded (its manifest reused) when first read."""

    def __init__(self, compiler: WorkspaceCompiler, order: list[str]) -> None:
        self.compiler = compiler
        self.order = order

    def __getitem__(self, name: str) -> CompileResult:
        if name not in self.order:
            raise KeyError(name)
        return self.compiler.compile(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def compile_workspace(
    workspace: Workspace,
    options: RunOptions,
    *,
    keep_going: bool = False,
    light: bool = False,
    check_contracts: bool = True,
) -> WorkspaceGraph:
    """Compile every member (reusing manifests) and join them into one graph.

    With ``keep_going`` a member that fails to load is left out (its error in
    ``graph.errors``) and the graph is the other members'. With ``light`` the merged graph
    is the light one (see :class:`WorkspaceGraph`), read from the workspace cache
    (:mod:`orch.compiler.workspace_cache`) when no member changed since it was written.
    A broken public contract raises (``check_contracts``).
    """
    compiler = WorkspaceCompiler(workspace, options)
    stamps = take_stamps(workspace, options)
    cached = read_cache(workspace, options, stamps) if light else None
    if cached is not None:
        if check_contracts:
            compiler.check_contracts(cached.contracts)
        return WorkspaceGraph(
            workspace, compiler, cached.manifest, cached.order, cached.reads, from_cache=True
        )
    compiled = compiler.compile_all(keep_going=keep_going)
    if not compiled:
        compiler.compile_all()  # nothing loaded: raise every error
    specs = [spec for name in compiler.results for spec in compiler.contract_specs(name)]
    if check_contracts:
        compiler.check_contracts(specs)
    for result in compiled.values():
        write_artifacts(result)
    full = merged_manifest(workspace, compiler)
    manifest = light_copy(full) if light else full
    reads = {m: sorted(getattr(compiler.results[m].project.foreign, "reads", {})) for m in compiled}
    if not compiler.errors:
        write_cache(
            workspace,
            options,
            stamps.after_compile(workspace),
            manifest if light else light_copy(full),
            order=list(compiled),
            reads=reads,
            env_vars={m: r.env_vars for m, r in compiled.items()},
            contracts=specs,
        )
    return WorkspaceGraph(workspace, compiler, manifest, list(compiled), reads)


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
