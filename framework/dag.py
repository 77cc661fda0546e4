"""A generic directed acyclic graph: topological order, ancestors, descendants, cycle paths."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class DAG(Generic[T]):
    """Nodes and their upstream edges; ``upstream[n]`` is the set of nodes ``n`` reads."""

    def __init__(self, upstream: Mapping[T, Iterable[T]] | None = None) -> None:
        self._up: dict[T, set[T]] = {}
        self._down: dict[T, set[T]] = {}
        for node, parents in (upstream or {}).items():
            self.add(node, parents)

    def add(self, node: T, upstream: Iterable[T] = ()) -> None:
        """Add ``node`` with edges from each of ``upstream`` (parents are added if new)."""
        self._up.setdefault(node, set())
        self._down.setdefault(node, set())
        for parent in upstream:
            self._up.setdefault(parent, set())
            self._down.setdefault(parent, set()).add(node)
            self._up[node].add(parent)

    def __contains__(self, node: object) -> bool:
        return node in self._up

    def __len__(self) -> int:
        return len(self._up)

    @property
    def nodes(self) -> list[T]:
        """All nodes in insertion order."""
        return list(self._up)

    def parents(self, node: T) -> set[T]:
        """Direct upstream nodes."""
        return self._up[node]

    def children(self, node: T) -> set[T]:
        """Direct downstream nodes."""
        return self._down[node]

    def ancestors(self, node: T, depth: int | None = None) -> set[T]:
        """Upstream nodes, up to ``depth`` levels (all when None)."""
        return self._walk(node, self._up, depth)

    def descendants(self, node: T, depth: int | None = None) -> set[T]:
        """Downstream nodes, up to ``depth`` levels (all when None)."""
        return self._walk(node, self._down, depth)

    @staticmethod
    def _walk(start: T, edges: dict[T, set[T]], depth: int | None) -> set[T]:
        seen: set[T] = set()
        frontier = deque([(start, 0)])
        while frontier:
            node, level = frontier.popleft()
            if depth is not None and level >= depth:
                continue
            for nxt in edges[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, level + 1))
        seen.discard(start)
        return seen

    def topological_order(self) -> list[T]:
        """Every node after all of its parents; ties broken by sorted name for determinism.

        Raises ValueError carrying the cycle path (``err.args[1]``) when there is a cycle.
        """
        indegree = {n: len(p) for n, p in self._up.items()}
        ready = sorted((n for n, d in indegree.items() if d == 0), key=str)
        order: list[T] = []
        queue = deque(ready)
        while queue:
            node = queue.popleft()
            order.append(node)
            released = []
            for child in self._down[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    released.append(child)
            queue.extend(sorted(released, key=str))
        if len(order) != len(self._up):
            raise ValueError("cycle", self.find_cycle())
        return order

    def find_cycle(self) -> list[T]:
        """One cycle as a path ``[a, b, ..., a]`` following upstream edges, or [] if none."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self._up, white)
        for root in sorted(self._up, key=str):
            if color[root] != white:
                continue
            stack: list[tuple[T, list[T]]] = [(root, sorted(self._up[root], key=str))]
            path = [root]
            color[root] = grey
            while stack:
                node, pending = stack[-1]
                if not pending:
                    color[node] = black
                    stack.pop()
                    path.pop()
                    continue
                nxt = pending.pop(0)
                if color[nxt] == grey:
                    cycle = path[path.index(nxt) :] + [nxt]
                    return list(reversed(cycle))
                if color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    stack.append((nxt, sorted(self._up[nxt], key=str)))
        return []

    def subgraph(self, keep: Iterable[T]) -> DAG[T]:
        """The induced graph on ``keep``."""
        keep_set = set(keep)
        return DAG({n: self._up[n] & keep_set for n in self._up if n in keep_set})
