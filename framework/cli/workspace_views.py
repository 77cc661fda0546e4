"""Read-only views of the workspace graph: ``orch lineage``, ``orch docs generate`` and
``orch ui`` with ``--workspace`` (asset names are ``member.asset``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from orch import redaction
from orch.errors import SelectionError, suggestion


def split_workspace_target(spec: str, members: set[str]) -> tuple[str, str | None]:
    """``member.model`` or ``member.model.column`` (the first part must be a member)."""
    member, _, rest = spec.partition(".")
    if member not in members or not rest:
        raise SelectionError(
            f"'{spec}' names no asset of the workspace: write member.model[.column]",
            hint=" ".join(
                filter(
                    None, [suggestion(member, members), f"Members: {', '.join(sorted(members))}"]
                )
            ),
        )
    model, _, column = rest.partition(".")
    return f"{member}.{model}", column or None


def load_errors(graph: Any) -> list[dict[str, str]]:
    """``[{"member", "error"}]`` of the members that did not load (for the site and the UI)."""
    return [
        {"member": m, "error": redaction.scrub(err.format_message())}
        for m, err in graph.errors.items()
    ]


def report_load_errors(graph: Any) -> None:
    """Each member that did not load, with its error (file:line from the workspace root)."""
    for member, err in graph.errors.items():
        click.echo(
            redaction.scrub(f"Error: {member} did not load: {err.format_message()}"), err=True
        )


def lineage_across(
    workspace_file: Path, options: Any, spec: str, downstream: bool, depth: int | None
) -> None:
    """``orch lineage`` over the workspace graph: assets and columns traced across members."""
    from orch.cli.lineage_view import asset_tree, column_tree
    from orch.docs.workspace import workspace_manifest
    from orch.load.workspace import load_workspace
    from orch.run.workspace import compile_workspace

    workspace = load_workspace(workspace_file)
    asset, column = split_workspace_target(spec, set(workspace.members))
    graph = compile_workspace(workspace, options, keep_going=True)
    manifest = workspace_manifest(graph)
    if asset not in manifest.nodes:
        report_load_errors(graph)
        raise SelectionError(
            f"unknown asset '{asset}'",
            hint=suggestion(asset, manifest.nodes) or "See 'orch ls --workspace'",
        )
    if column is None:
        lines = asset_tree(manifest, asset, downstream=downstream, depth=depth)
    else:
        lines = column_tree(manifest, asset, column, downstream=downstream, depth=depth)
    for line in lines:
        click.echo(line)
    report_load_errors(graph)
    if graph.errors:
        sys.exit(2)


def docs_across(workspace_file: Path, options: Any, output: Path | None) -> None:
    """``orch docs generate`` for the workspace: one site, every member's assets and state."""
    from orch.docs import generate_site
    from orch.docs.workspace import read_workspace_state, workspace_manifest
    from orch.load.workspace import load_workspace
    from orch.run.workspace import compile_workspace

    workspace = load_workspace(workspace_file)
    graph = compile_workspace(workspace, options, keep_going=True)
    out = output or workspace.root / "target" / "workspace-docs"
    state = read_workspace_state(graph)
    stats = generate_site(
        workspace_manifest(graph),
        None,
        out,
        automation=state.automation,
        catalog=state.catalog,
        snapshot=state.snapshot,
        members=frozenset(graph.compiled),
        load_errors=load_errors(graph),
    )
    for warning in state.warnings:
        click.echo(f"Warning: {warning}", err=True)
    index = (out / "index.html").resolve()
    click.echo(
        f"Wrote the docs site of workspace {workspace.root.name} ({len(graph.compiled)} members, "
        f"{stats.assets} assets, {stats.checks} checks, {stats.files} files, "
        f"{stats.bytes / 1e6:.1f} MB) in {stats.seconds:.2f}s → {index.as_uri()}"
    )
    report_load_errors(graph)
    if graph.errors:
        sys.exit(2)
