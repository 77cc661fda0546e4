"""Compile: Project -> Manifest (models, Python assets, the graph, lineage, checks, artifacts).

:func:`compile_or_reuse` is the stage's entry point. It stays light: when no input changed since
``manifest.json`` was written it reads that manifest, and :mod:`orch.compiler.models` (sqlglot and
Jinja) is imported only when a compile is really needed.
"""

from __future__ import annotations

import importlib

from orch.compiler.artifacts import (
    CompileResult,
    project_key,
    properties_deferrable,
    read_key_meta,
    reuse_manifest,
)
from orch.compiler.workspace import attach_workspace
from orch.config import RunOptions
from orch.load.project import load_project, read_properties
from orch.load.workspace import find_workspace_file


def compile_or_reuse(options: RunOptions, names: set[str] | None = None) -> CompileResult:
    """The manifest on disk when no input changed since it was written; else a compile.

    In a workspace member, the public contracts of the members compiled are checked too, as
    across the workspace (a breaking change other members read raises ContractBrokenError).
    """
    # The property files (models/**/*.yml) are read only when the manifest must be compiled:
    # an up-to-date manifest needs just their digests for the key.
    project = load_project(options, defer_properties=True)
    if project.properties_pending and find_workspace_file(project.root) is not None:
        read_properties(project)  # a workspace member: its own errors before the workspace's
    workspace = attach_workspace(project, options)
    if workspace is not None:  # a workspace member: the other members are readable
        member = workspace.compile(project.name, project, names)
        workspace.check_contracts()  # a broken contract is reported before anything ships
        return member
    meta = read_key_meta(project)
    if not properties_deferrable(meta):
        read_properties(project)
    key = project_key(project)
    # a scoped selection (exact names) reads few nodes: validate each when first used
    reused = reuse_manifest(project, key, lazy=names is not None, meta=meta) if key else None
    if reused is not None:
        return reused
    read_properties(project)  # a compile needs them (their errors are raised here)
    # imported here, not at the top: a warm command must not pay for sqlglot and Jinja
    models = importlib.import_module("orch.compiler.models")
    result: CompileResult = models.compile_project(
        options, names, project=project, write_files=True
    )
    return result
