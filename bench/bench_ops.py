"""Benchmark of op jobs: orch's overhead per op over calling the same functions directly.

- *layered*: a graph of N trivial ops (``--ops``, default 1,000) in 10 layers, each op adding its
  inputs (1-3 ops of the layer before); *direct* calls the functions in topological order with a
  dict of values, *orch* is ``job.execute_in_process()``. Overhead per op = (orch - direct) / N.
- *small*: ``execute_in_process`` of a 10-op chain, after import and one warm-up run.

Medians of ``--reps`` runs, both measured in the same process, one after the other.

    python bench/bench_ops.py --ops 1000 --reps 7
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from orch import job, op


def make_ops(n: int, layers: int, seed: int) -> tuple[list[Any], dict[str, list[str]]]:
    """N ops named ``op_i``, in ``layers`` layers; each reads 1-3 ops of the layer before."""
    rng = random.Random(seed)
    per_layer = max(1, n // layers)
    names = [f"op_{i}" for i in range(n)]
    parents: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        layer = i // per_layer
        if layer == 0:
            parents[name] = []
            continue
        previous = names[(layer - 1) * per_layer : layer * per_layer]
        parents[name] = rng.sample(previous, k=min(len(previous), rng.randint(1, 3)))
    ops = []
    for name in names:
        k = len(parents[name])
        ops.append(_adder(name, k))
    return ops, parents


def _adder(name: str, k: int) -> Any:
    params = ", ".join(f"x{j}: int" for j in range(k))
    body = " + ".join(f"x{j}" for j in range(k)) or "1"
    scope: dict[str, Any] = {}
    exec(f"def {name}({params}) -> int:\n    return {body} + 1\n", scope)  # noqa: S102
    return op(scope[name])


def layered_job(n: int, seed: int) -> tuple[Any, Callable[[], dict[str, int]]]:
    """The job, and the direct-call baseline doing the same work."""
    ops, parents = make_ops(n, 10, seed)
    by_name = {o.name: o for o in ops}

    @job(name=f"layered_{n}")
    def layered() -> None:
        handles: dict[str, Any] = {}
        for o in ops:
            handles[o.name] = o(*[handles[p] for p in parents[o.name]])

    fns = [(o.name, by_name[o.name].fn, parents[o.name]) for o in ops]

    def direct() -> dict[str, int]:
        values: dict[str, int] = {}
        for name, fn, ups in fns:
            values[name] = fn(*[values[p] for p in ups])
        return values

    return layered, direct


def chain_job(n: int) -> Any:
    """A chain of n ops, each adding one."""
    first = _adder("start", 0)
    rest = [_adder(f"step_{i}", 1) for i in range(n - 1)]

    @job(name=f"chain_{n}")
    def chain() -> None:
        value = first()
        for o in rest:
            value = o(value)

    return chain


def median_time(fn: Callable[[], Any], reps: int) -> float:
    """Median wall seconds of ``reps`` calls."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    layered, direct = layered_job(args.ops, args.seed)
    expected = direct()
    result = layered.execute_in_process()
    assert all(result.output_for(k) == v for k, v in expected.items()), "different results"
    t_direct = median_time(direct, args.reps)
    t_orch = median_time(layered.execute_in_process, args.reps)
    per_op_ms = (t_orch - t_direct) / args.ops * 1000

    chain = chain_job(10)
    chain.execute_in_process()  # warm-up: first-run caches
    t_small = median_time(chain.execute_in_process, max(args.reps, 21))

    print(f"layered job of {args.ops} ops, median of {args.reps}:")
    print(f"  direct calls     {t_direct * 1000:9.2f} ms")
    print(f"  execute_in_process {t_orch * 1000:7.2f} ms")
    print(f"  overhead per op  {per_op_ms:9.3f} ms   (target <= 0.5 ms)")
    print(f"10-op job execute_in_process: {t_small * 1000:.2f} ms   (target <= 50 ms)")


if __name__ == "__main__":
    main()
