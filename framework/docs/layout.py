"""Layered left-to-right layout of the asset graph, computed once at generate time by igraph.

igraph's Sugiyama layout (layering, barycentric crossing reduction, coordinate assignment) does
the work; this module only turns its top-to-bottom answer into left-to-right pixels. An edge that
spans several layers gets one *dummy slot* in every layer it crosses (a dummy vertex), so
it is drawn as a polyline through slots of its own and never through another asset's box: inside
a layer it passes through its slot, between layers it is in the gap, where no box is. igraph ships
wheels for every platform, so this needs nothing but pip; 10,000 assets lay out in under a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import igraph

LAYER_GAP = 280.0
ROW_GAP = 52.0
NODE_WIDTH = 200.0
NODE_HEIGHT = 36.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Layout:
    """Pixel positions (top-left corners) of the assets and of the slots their long edges use.

    ``routes[(parent, child)]`` lists the top-left corners of the dummy slots of an edge spanning
    more than one layer, one per layer in between, left to right; it is absent for short edges.
    """

    layer: dict[str, int]
    x: dict[str, float]
    y: dict[str, float]
    routes: dict[tuple[str, str], list[Point]]
    width: float
    height: float

    def polyline(self, parent: str, child: str) -> list[Point]:
        """The edge's points: the parent's right side, through each slot, the child's left side."""
        mid = NODE_HEIGHT / 2
        points = [(self.x[parent] + NODE_WIDTH, self.y[parent] + mid)]
        for sx, sy in self.routes.get((parent, child), ()):
            points += [(sx, sy + mid), (sx + NODE_WIDTH, sy + mid)]
        points.append((self.x[child], self.y[child] + mid))
        return points


def layer_nodes(order: Sequence[str], parents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Longest-path layers; ``order`` must list every node after its parents."""
    layer: dict[str, int] = {}
    for name in order:
        ps = [layer[p] for p in parents.get(name, ()) if p in layer]
        layer[name] = max(ps) + 1 if ps else 0
    return layer


def layout_graph(
    order: Sequence[str],
    parents: Mapping[str, Sequence[str]],
    *,
    initial_key: Mapping[str, str] | None = None,
    maxiter: int = 100,
) -> Layout:
    """Lay the DAG out left to right with igraph's Sugiyama layout.

    Args:
        order: every node, each after its parents (a topological order).
        parents: node -> its parents (names outside ``order`` are ignored).
        initial_key: a sort key for the first ordering of each layer (e.g. group then name),
            so related assets start together; defaults to the name.
        maxiter: igraph's crossing-reduction iterations.
    """
    layer = layer_nodes(order, parents)
    key = initial_key or {}
    # igraph starts each layer in vertex-id order: number the vertices by (layer, key)
    names = sorted(order, key=lambda n: (layer[n], key.get(n, n)))
    vid = {n: i for i, n in enumerate(names)}
    layers = [layer[n] for n in names]
    # Long edges become chains through dummy vertices of our own, one per layer crossed, so igraph
    # sees a proper layered graph (its own edge_routing mis-assigns dummies to edges in 1.0).
    links: list[tuple[int, int]] = []
    chains: dict[tuple[str, str], list[int]] = {}
    for child in names:
        for parent in parents.get(child, ()):
            if parent not in vid:
                continue
            chain = []
            for lay in range(layer[parent] + 1, layer[child]):
                chain.append(len(layers))
                layers.append(lay)
            if chain:
                chains[(parent, child)] = chain
            hops = [vid[parent], *chain, vid[child]]
            links += list(zip(hops, hops[1:], strict=False))
    coords: list[list[float]] = []
    if names:
        graph = igraph.Graph(n=len(layers), edges=links, directed=True)
        coords = graph.layout_sugiyama(layers=layers, maxiter=maxiter).coords
    top = min((c[0] for c in coords), default=0.0)

    def pixel(v: int) -> Point:
        pos, lay = coords[v]
        return round(lay * LAYER_GAP, 1), round((pos - top) * ROW_GAP, 1)

    x: dict[str, float] = {}
    y: dict[str, float] = {}
    for name in names:
        x[name], y[name] = pixel(vid[name])
    routes = {edge: [pixel(v) for v in chain] for edge, chain in chains.items()}
    depth = max(layer.values(), default=-1) + 1
    lowest = max((pixel(v)[1] for v in range(len(coords))), default=0.0)
    return Layout(
        layer=layer,
        x=x,
        y=y,
        routes=routes,
        width=max(depth - 1, 0) * LAYER_GAP + NODE_WIDTH,
        height=lowest + NODE_HEIGHT,
    )
