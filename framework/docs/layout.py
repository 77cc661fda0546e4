"""Layered left-to-right layout of the asset graph, computed once at generate time.

Longest-path layering (every asset one layer right of its furthest parent), then barycenter
ordering sweeps (down using parents, up using children) to cut edge crossings, then coordinates:
``x`` by layer, ``y`` by rank, each layer centred on the tallest one. Linear in nodes + edges per
sweep, so 10,000 assets lay out in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LAYER_GAP = 280.0
ROW_GAP = 52.0
NODE_WIDTH = 200.0
NODE_HEIGHT = 36.0


@dataclass(frozen=True)
class Layout:
    """Positions of the assets: ``layer``/``rank`` per name and pixel coordinates."""

    layer: dict[str, int]
    rank: dict[str, int]
    x: dict[str, float]
    y: dict[str, float]
    width: float
    height: float


def layer_nodes(order: Sequence[str], parents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Longest-path layers; ``order`` must list every node after its parents."""
    layer: dict[str, int] = {}
    for name in order:
        ps = [layer[p] for p in parents.get(name, ()) if p in layer]
        layer[name] = max(ps) + 1 if ps else 0
    return layer


def _sweep(
    layers: list[list[str]],
    neighbours: Mapping[str, Sequence[str]],
    position: dict[str, float],
    reverse: bool,
) -> None:
    """Reorder every layer by the mean position of each node's neighbours (one pass)."""
    indexes = range(len(layers) - 1, -1, -1) if reverse else range(len(layers))
    for i in indexes:
        row = layers[i]
        keys: dict[str, float] = {}
        for name in row:
            ns = [position[n] for n in neighbours.get(name, ()) if n in position]
            keys[name] = sum(ns) / len(ns) if ns else position[name]
        row.sort(key=lambda n: (keys[n], position[n]))
        size = max(len(row), 1)
        for index, name in enumerate(row):
            position[name] = (index + 0.5) / size


def layout_graph(
    order: Sequence[str],
    parents: Mapping[str, Sequence[str]],
    children: Mapping[str, Sequence[str]],
    *,
    initial_key: Mapping[str, str] | None = None,
    sweeps: int = 2,
) -> Layout:
    """Lay the DAG out left to right.

    Args:
        order: every node, each after its parents (a topological order).
        parents: node -> its parents. children: node -> its children.
        initial_key: a sort key for the first ordering of each layer (e.g. group then name),
            so related assets start together; defaults to the name.
        sweeps: barycenter down+up sweep pairs.

    Returns:
        A :class:`Layout` with layers, ranks and pixel coordinates.
    """
    layer = layer_nodes(order, parents)
    depth = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for name in order:
        layers[layer[name]].append(name)
    position: dict[str, float] = {}
    for row in layers:
        row.sort(key=lambda n: (initial_key or {}).get(n, n))
        size = max(len(row), 1)
        for index, name in enumerate(row):
            position[name] = (index + 0.5) / size
    for _ in range(sweeps):
        _sweep(layers, parents, position, reverse=False)
        _sweep(layers, children, position, reverse=True)
    tallest = max((len(r) for r in layers), default=0)
    x: dict[str, float] = {}
    y: dict[str, float] = {}
    rank: dict[str, int] = {}
    for i, row in enumerate(layers):
        offset = (tallest - len(row)) / 2.0
        for r, name in enumerate(row):
            rank[name] = r
            x[name] = i * LAYER_GAP
            y[name] = round((r + offset) * ROW_GAP, 1)
    return Layout(
        layer=layer,
        rank=rank,
        x=x,
        y=y,
        width=max(depth - 1, 0) * LAYER_GAP + NODE_WIDTH,
        height=max(tallest - 1, 0) * ROW_GAP + NODE_HEIGHT,
    )
