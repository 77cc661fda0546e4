"""``orch ui --workspace``: the live UI over every member of a workspace.

- :class:`WorkspaceLiveSite` — the site's payloads over the workspace graph (``member.asset``),
  each asset's state from its own member's state store; a member whose files changed is loaded
  again (no restart), and a member that fails to load is reported with its error (file:line) while
  the others keep working.
- :class:`WorkspaceReader` — the state reads of the run pages and the lock check, over every
  member's store (runs of all members, each member's lock).
- :class:`WorkspaceUiServer` — a schedule or sensor switch (``member.name``) written to its
  member's store.

A build launched from the page runs ``orch build --workspace``'s workflow in the worker
(:func:`orch.run.workspace.run_workspace`): every member's lock, in member-name order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, cast

from orch.automation.toggles import set_enabled
from orch.automation.workspace_daemon import member_digest
from orch.config import RunOptions
from orch.docs import SiteBuilder
from orch.docs.automation import automation_data
from orch.docs.catalog import read_catalog, saved_columns
from orch.docs.workspace import (
    foreign_names,
    merge_automation,
    workspace_manifest,
    workspace_snapshot,
)
from orch.errors import LockHeldError, UserError
from orch.load.workspace import Workspace
from orch.manifest import Manifest
from orch.run.workflow import open_state
from orch.run.workspace import WorkspaceGraph, compile_workspace
from orch.state import StateReader
from orch.state.records import LOCK_STALE_AFTER_S, RunRecord, lock_held_error, lock_is_stale
from orch.state.snapshot import StateSnapshot
from orch.ui.live import SIGNATURE_EVERY_S, LiveSite, state_signature
from orch.ui.runs import RunManager
from orch.ui.server import UiServer

FILES_EVERY_S = 1.0  # how often the members' files are compared with what was loaded


class WorkspaceLiveSite(LiveSite):
    """The live site of a workspace: one graph, each member's state, members reloaded."""

    def __init__(self, workspace: Workspace, options: RunOptions) -> None:
        self.workspace = workspace
        self.options = options
        roots = {m.root for m in workspace.members.values()}
        self._skip = {n: roots - {m.root} for n, m in workspace.members.items()}
        self.digests = self._digests()
        self.graph = compile_workspace(workspace, options, keep_going=True)
        self._manifest = workspace_manifest(self.graph)
        self.workspace_error: UserError | None = None  # the last reload failed as a whole
        self.graph_version = 1  # moves when the graph changed (a member reloaded): the page reloads
        self._files_at = time.monotonic()
        self._file_lock = threading.Lock()
        first = self.graph.compiled[next(iter(self.graph.compiled))]
        super().__init__(first, self._not_used, lambda: cast(StateReader, self._reader()))

    @staticmethod
    def _not_used() -> Any:
        raise NotImplementedError("a workspace is compiled by recompile()")

    def _reader(self) -> WorkspaceReader:
        return WorkspaceReader(self.graph)

    def _digests(self) -> dict[str, str]:
        return {
            name: member_digest(m.root, self._skip[name])
            for name, m in self.workspace.members.items()
        }

    @property
    def manifest(self) -> Manifest:
        """The workspace graph (column lineage across members)."""
        return self._manifest

    @property
    def target(self) -> str:
        """The first member's target (each member keeps its own; see WorkspaceReader)."""
        return self.compiled.project.target_name

    def graph_info(self) -> dict[str, Any]:
        """The graph's version (the page reloads when it moves) and the members' load errors."""
        return {"graph": self.graph_version, "load_errors": self.load_errors()}

    def load_errors(self) -> list[dict[str, str]]:
        """``[{"member", "error"}]``: the members that did not load."""
        from orch import redaction

        errors = dict(self.graph.errors)
        if self.workspace_error is not None:
            for member in self.workspace.members:  # shown once, under the first member it names
                if member in self.workspace_error.format_message():
                    errors.setdefault(member, self.workspace_error)
                    break
            else:
                errors.setdefault(self.workspace.root.name, self.workspace_error)
        return [
            {"member": m, "error": redaction.scrub(err.format_message())}
            for m, err in errors.items()
        ]

    def recompile(self, *, read_catalog_now: bool = False) -> None:
        """Load the workspace again (after a run, or when a member's files changed)."""
        graph = compile_workspace(self.workspace, self.options, keep_going=True)
        manifest = workspace_manifest(graph)
        catalog = self._catalog_of(graph, saved=not read_catalog_now)
        with self._lock:
            changed = (
                set(graph.manifest.nodes) != set(self.graph.manifest.nodes)
                or set(graph.errors) != set(self.graph.errors)
                or any(
                    graph.manifest.parents.get(n) != self.graph.manifest.parents.get(n)
                    for n in graph.manifest.nodes
                )
            )
            self.graph = graph
            self._manifest = manifest
            if graph.compiled:
                self.compiled = graph.compiled[next(iter(graph.compiled))]
            self.catalog = catalog
            self._signature = None
            self._checked_at = 0.0
            if changed:
                self.graph_version += 1

    def reload_if_changed(self) -> bool:
        """Compare the members' files with what was loaded; load again when they differ."""
        with self._file_lock:
            now = time.monotonic()
            if now - self._files_at < FILES_EVERY_S:
                return False
            self._files_at = now
            digests = self._digests()
            if digests == self.digests:
                return False
            self.digests = digests
        try:
            self.recompile(read_catalog_now=False)
        except UserError as err:  # every member failed, or a broken contract: keep the old graph
            self.workspace_error = err
            self.graph_version += 1
        else:
            self.workspace_error = None
        return True

    def _read_catalog(self, compiled: Any) -> dict[str, list[list[str]]]:
        return self._catalog_of(self.graph, saved=False)

    @staticmethod
    def _catalog_of(graph: WorkspaceGraph, *, saved: bool) -> dict[str, list[list[str]]]:
        out: dict[str, list[list[str]]] = {}
        for member, result in graph.compiled.items():
            project, manifest = result.project, result.manifest
            if saved:
                columns = saved_columns(project, manifest)
            else:
                with open_state(project.root, readonly=True, target=project.target) as reader:
                    built = {
                        a for a, _ in reader.latest_materializations(target=project.target_name)
                    }
                columns = read_catalog(project, manifest, built).columns
            skip = foreign_names(manifest)
            out.update({f"{member}.{a}": c for a, c in columns.items() if a not in skip})
        return out

    def builder(self) -> SiteBuilder:
        """The builder over every member's state as it is now (rebuilt when any changed)."""
        self.reload_if_changed()
        with self._lock:
            now = time.monotonic()
            if self._builder is not None and now - self._checked_at < SIGNATURE_EVERY_S:
                return self._builder
            self._checked_at = now
            with WorkspaceReader(self.graph) as readers:
                signature = (
                    self.graph_version,
                    *(state_signature(r, t) for _, r, t in readers.each()),
                )
                if self._builder is not None and signature == self._signature:
                    return self._builder
                snaps = {
                    member: StateSnapshot.read(
                        reader, target, detail=True,
                        known=set(self.graph.compiled[member].manifest.nodes),
                    )
                    for member, reader, target in readers.each()
                }  # fmt: skip
            foreign = {m: foreign_names(r.manifest) for m, r in self.graph.compiled.items()}
            snap = workspace_snapshot(snaps, foreign)
            old = self._builder
            keep = old.layout if old is not None and old.m is self.manifest else None
            self._builder = SiteBuilder(self.manifest, snap, catalog=self.catalog, layout=keep)
            self._builder.members = frozenset(self.workspace.members)
            self._signature = signature
            self._index_js = None
            self._chunks = {}
            self._assets = None
            self.version += 1
            return self._builder

    def automation(self) -> dict[str, Any] | None:
        """Every member's jobs, schedules and sensors, named ``member.name``."""
        parts: dict[str, Any] = {}
        for member, result in self.graph.compiled.items():
            project = result.project
            with open_state(project.root, readonly=True, target=project.target) as reader:
                parts[member] = automation_data(project, reader)
        return merge_automation(parts)

    def index_js(self) -> str:
        """``data.js``, with the workspace's members and their load errors."""
        from orch.docs import DATA_GLOBAL, dump_js

        builder = self.builder()
        with self._lock:
            if self._index_js is None:
                index = builder.build_index()
                index["automation"] = self.automation()
                index["live"] = True
                index["members"] = sorted(self.workspace.members)
                index["load_errors"] = self.load_errors()
                index["graph_version"] = self.graph_version
                self._index_js = f"window.{DATA_GLOBAL}={dump_js(index)};\n"
            return self._index_js

    def member_of(self, name: str) -> str | None:
        """The member a ``member.x`` name belongs to (None: no member's)."""
        member = name.split(".", 1)[0]
        return member if member in self.graph.compiled else None


class WorkspaceReader:
    """What the run pages and the lock check read, over every loaded member's state store.

    Runs are every member's (newest first); an asset or a run is looked up in its member's.
    """

    def __init__(self, graph: WorkspaceGraph) -> None:
        self.graph = graph
        self._stack = contextlib.ExitStack()
        self.readers: dict[str, tuple[StateReader, str]] = {}

    def __enter__(self) -> WorkspaceReader:
        for member, result in self.graph.compiled.items():
            project = result.project
            reader = self._stack.enter_context(
                open_state(project.root, readonly=True, target=project.target)
            )
            self.readers[member] = (reader, project.target_name)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def each(self) -> Iterator[tuple[str, StateReader, str]]:
        """``(member, its reader, its target)`` for every loaded member."""
        for member, (reader, target) in self.readers.items():
            yield member, reader, target

    def recent_runs(self, limit: int, *, target: str | None = None) -> list[RunRecord]:
        runs = [r for _, reader, t in self.each() for r in reader.recent_runs(limit, target=t)]
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return runs[:limit]

    def materialization_history(self, asset: str, limit: int, *, target: str | None = None) -> Any:
        member, _, local = asset.partition(".")
        if member not in self.readers:
            return []
        reader, t = self.readers[member]
        return [
            dataclasses.replace(r, asset=f"{member}.{r.asset}")
            for r in reader.materialization_history(local, limit, target=t)
        ]

    def _owner(self, run_id: str) -> tuple[str, StateReader] | None:
        for member, reader, _ in self.each():
            if reader.get_run(run_id) is not None:
                return member, reader
        return None

    def get_run(self, run_id: str) -> RunRecord | None:
        for _, reader, _ in self.each():
            run = reader.get_run(run_id)
            if run is not None:
                return run
        return None

    def run_materializations(self, run_id: str) -> list[Any]:
        owner = self._owner(run_id)
        if owner is None:
            return []
        member, reader = owner
        return [
            dataclasses.replace(m, asset=f"{member}.{m.asset}")
            for m in reader.run_materializations(run_id)
        ]

    def run_check_results(self, run_id: str) -> list[Any]:
        owner = self._owner(run_id)
        if owner is None:
            return []
        member, reader = owner
        return [
            dataclasses.replace(c, check=f"{member}.{c.check}") if hasattr(c, "check") else c
            for c in reader.run_check_results(run_id)
        ]

    def lock_holder(self, target: str | None = None) -> Any:
        """The holder of the first member's lock that is held (a workspace build takes all)."""
        for _, reader, t in self.each():
            info = reader.lock_holder(t)
            if info is not None:
                return info
        return None

    def latest_materializations(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for member, reader, t in self.each():
            for (asset, part), rec in reader.latest_materializations(target=t).items():
                out[(f"{member}.{asset}", part)] = rec
        return out


class WorkspaceRunManager(RunManager):
    """Launches across the workspace: refused while any member's lock is held (naming it)."""

    def __init__(self, base_spec: dict[str, Any], site: WorkspaceLiveSite) -> None:
        super().__init__(
            base_spec, site.target, lambda: cast(StateReader, WorkspaceReader(site.graph))
        )
        self.site = site

    def check_lock(self) -> None:
        running = self.active()
        if running is not None:
            raise LockHeldError(
                f"workspace is busy: run {running.run_id} ({running.label}) launched from this "
                "page is still running",
                hint="Wait for it to finish or cancel it",
            )
        now = datetime.now(timezone.utc)
        with WorkspaceReader(self.site.graph) as readers:
            for member, reader, target in readers.each():
                info = reader.lock_holder(target)
                if (
                    info is not None
                    and lock_is_stale(info, now=now, stale_after=LOCK_STALE_AFTER_S) is None
                ):
                    err = lock_held_error(
                        info, how_to_clear=f"'orch unlock --project-dir {member}' releases it"
                    )
                    raise LockHeldError(f"{member}: {err.message}", hint=err.hint)


class WorkspaceUiServer(UiServer):
    """The UI server over a workspace: switches written to their member's store; each member's
    column types read by the worker at the end of its run (not by one project's spec)."""

    site: WorkspaceLiveSite

    def _catalog_schemas(self) -> None:
        self.runs.base_spec["catalog_schemas"] = []  # the workspace worker reads each member's

    def write_switch(self, name: str, enabled: bool) -> None:
        member, _, local = name.partition(".")
        result = self.site.graph.compiled[member]
        project = result.project
        with open_state(project.root, target=project.target) as store:
            set_enabled(store, local, enabled)


def workspace_spec(workspace: Workspace, options: RunOptions) -> dict[str, Any]:
    """The launch spec's base for a workspace (the worker runs ``run_workspace``)."""
    return {
        "project_dir": str(workspace.root),
        "workspace": str(workspace.path),
        "profiles_dir": str(options.profiles_dir) if options.profiles_dir else None,
        "target": options.target,
    }
