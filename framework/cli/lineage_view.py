"""Text trees of asset and column lineage, for ``orch lineage``."""

from __future__ import annotations

from orch.errors import SelectionError, suggestion
from orch.manifest import Manifest


def split_target(spec: str) -> tuple[str, str | None]:
    """``model`` or ``model.column`` (a source is ``source.table`` or ``source.table.column``)."""
    parts = spec.split(".")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 2:
        return parts[0], parts[1]
    return ".".join(parts[:2]), ".".join(parts[2:])


def _label(manifest: Manifest, name: str) -> str:
    node = manifest.nodes.get(name)
    if node is None:
        return name
    return f"{name} ({node.materialized if node.resource_type == 'model' else node.resource_type})"


def asset_tree(
    manifest: Manifest, asset: str, *, downstream: bool = False, depth: int | None = None
) -> list[str]:
    """Upstream (and optionally downstream) assets of ``asset`` as indented tree lines."""
    lines = [_label(manifest, asset)]
    lines.append("upstream:")
    lines.extend(
        _tree(lambda n: manifest.parents.get(n, []), manifest, asset, depth) or ["  (none)"]
    )
    if downstream:
        lines.append("downstream:")
        lines.extend(
            _tree(lambda n: manifest.children.get(n, []), manifest, asset, depth) or ["  (none)"]
        )
    return lines


def _tree(edges, manifest: Manifest, root: str, depth: int | None) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []

    def walk(name: str, prefix: str, level: int, path: frozenset[str]) -> None:
        if depth is not None and level >= depth:
            return
        kids = sorted(edges(name))
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            out.append(f"{prefix}{'└── ' if last else '├── '}{_label(manifest, kid)}")
            if kid not in path:
                walk(kid, prefix + ("    " if last else "│   "), level + 1, path | {kid})

    walk(root, "  ", 0, frozenset({root}))
    return out


def column_tree(
    manifest: Manifest,
    asset: str,
    column: str,
    *,
    downstream: bool = False,
    depth: int | None = None,
) -> list[str]:
    """Where ``asset.column`` comes from (and goes to), column by column."""
    node = manifest.nodes[asset]
    if node.columns and column not in node.columns:
        raise SelectionError(
            f"'{asset}' has no column '{column}'",
            hint=suggestion(column, node.columns)
            or f"Its columns: {', '.join(node.columns) or 'unknown'}",
        )
    readers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    if downstream:
        for name, other in manifest.nodes.items():
            for col, refs in other.column_lineage.items():
                for ref in refs:
                    readers.setdefault((ref.asset, ref.column), []).append((name, col))

    def upstream_of(key: tuple[str, str]) -> list[tuple[str, str]]:
        n = manifest.nodes.get(key[0])
        if n is None:
            return []
        return sorted((r.asset, r.column) for r in n.column_lineage.get(key[1], []))

    lines = [f"{asset}.{column}", "upstream:"]
    lines.extend(_column_walk(upstream_of, (asset, column), depth) or ["  (none: computed here)"])
    if downstream:
        lines.append("downstream:")
        lines.extend(
            _column_walk(lambda k: sorted(readers.get(k, [])), (asset, column), depth)
            or ["  (none)"]
        )
    return lines


def _column_walk(edges, root: tuple[str, str], depth: int | None) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []

    def walk(key: tuple[str, str], prefix: str, level: int, path: frozenset) -> None:
        if depth is not None and level >= depth:
            return
        kids = edges(key)
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            out.append(f"{prefix}{'└── ' if last else '├── '}{kid[0]}.{kid[1]}")
            if kid not in path:
                walk(kid, prefix + ("    " if last else "│   "), level + 1, path | {kid})

    walk(root, "  ", 0, frozenset({root}))
    return out
