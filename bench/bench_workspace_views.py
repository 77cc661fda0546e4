"""Time ``orch docs generate`` and ``orch lineage`` across a workspace, warm (issue 20).

Usage: ``python bench/bench_workspace_views.py [--members 3] [--size 1000] [--reps 3] [--out DIR]``

The workspace of :mod:`bench_workspace` (members ``m0``..``m<N-1>``, each a copy of the generated
project, ``m1``.. reading ``m0``'s public model). Measured as fresh subprocesses, every manifest
already compiled (warm):

- **site, each member alone**: the sum of ``orch docs generate --project-dir mI`` over members;
- **site, workspace**: ``orch docs generate --workspace DIR`` (one site of every member);
- **lineage, workspace**: ``orch lineage --workspace DIR m1.reads_m0 -d``.

The workspace site does the members' work in one process, plus the merge and one layout of
the whole graph; the ratio to the members' sum is what it costs to see them as one graph.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_workspace import build_workspace
from measure import DEFAULT_OUT, ensure_project, median, run_measured


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    base = ensure_project(args.size, args.out, 0)
    root = build_workspace(base, args.out / f"workspace_{args.members}x{args.size}", args.members)
    members = [root / f"m{i}" for i in range(args.members)]
    run_measured(["ls", "--workspace", str(root)])  # warm every member's manifest
    alone, together, lineage = [], [], []
    for rep in range(args.reps):
        alone.append(
            sum(
                run_measured(["docs", "generate", "--project-dir", str(m)]).seconds for m in members
            )
        )
        together.append(run_measured(["docs", "generate", "--workspace", str(root)]).seconds)
        lineage.append(
            run_measured(["lineage", "--workspace", str(root), "m1.reads_m0", "-d"]).seconds
        )
        print(
            f"  rep {rep + 1}/{args.reps}: members alone {alone[-1]:.2f}s | workspace site "
            f"{together[-1]:.2f}s | workspace lineage {lineage[-1]:.2f}s",
            flush=True,
        )
    print(
        f"{args.members} x {args.size} models, warm: workspace site {median(together):.2f}s = "
        f"{median(together) / median(alone):.2f} x the members' sites one by one "
        f"({median(alone):.2f}s); workspace lineage -d {median(lineage):.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
