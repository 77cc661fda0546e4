"""Two versions of orch on the same inner-loop commands, interleaved per repetition (issue 21).

Usage: ``python bench/ab_inner_loop.py BASE_PATH [--project DIR] [--reps 5] [--build]``

``BASE_PATH`` is a directory holding another version's ``orch`` package (put first on
``PYTHONPATH``: e.g. a ``git worktree`` of main with ``orch/`` made of symlinks to its
``framework/*``, ``adapters`` and ``templates``); the other version is the one installed in this
venv. On a machine shared with other work the absolute times swing with the load; the ratio of
the two, measured command by command in the same minute, is what this script reports.

The project is the one ``bench_inner_loop.py`` builds (``bench/out/realistic_1000``, built
already); the commands: ``orch run -s MODEL``, ``orch build --changed``, ``orch test`` (``--threads
1`` and ``2``), a cold
``orch compile`` (``target/`` deleted) and, with ``--build``, ``orch build --threads 2`` on an
empty warehouse.

``--copy``: the base version works on its own copy of the project (``DIR_base``, made once).
Needed when the two versions compute different manifest keys (any change under ``orch/load/``
changes the cache salt): on one shared project each would find the other's manifest stale and
recompile on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from measure import CHILD_ENV, DEFAULT_OUT, Sample, median, remove_paths, run_process

ORCH = [sys.executable, "-c", "import sys; from orch.cli import main; sys.argv[0] = 'orch'; main()"]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="directory holding the other version's orch/")
    parser.add_argument("--project", type=Path, default=DEFAULT_OUT / "realistic_1000")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--model", default="int_00457")
    parser.add_argument("--build", action="store_true", help="also time a full build")
    parser.add_argument("--only", help="comma-separated commands to time (default: all)")
    parser.add_argument("--copy", action="store_true", help="the base on its own project copy")
    args = parser.parse_args(argv)
    project = args.project.resolve()
    projects = {"base": project, "this": project}
    if args.copy:
        projects["base"] = project.with_name(project.name + "_base")
        if not projects["base"].exists():
            shutil.copytree(project, projects["base"], symlinks=True)
    commands: dict[str, list[str]] = {
        "one_model": ["run", "-s", args.model],
        "noop": ["build", "--changed"],
        "test": ["test", "--threads", "1"],
        "test_threads2": ["test", "--threads", "2"],
        "cold_compile": ["compile"],
    }
    if args.build:
        commands["build"] = ["build", "--threads", "2"]
    if args.only:
        commands = {k: v for k, v in commands.items() if k in args.only.split(",")}
    versions = {"base": str(args.base.resolve()), "this": ""}
    times: dict[tuple[str, str], list[Sample]] = {}
    saved_env = dict(CHILD_ENV)
    try:
        for rep in range(args.reps):
            for name, cmd in commands.items():
                for version, path in versions.items():
                    CHILD_ENV.clear()
                    CHILD_ENV.update(saved_env)
                    if path:
                        CHILD_ENV["PYTHONPATH"] = path
                    root = projects[version]
                    if name == "cold_compile":
                        remove_paths(root / "target")
                    if name == "build":
                        wh = root / "warehouse.duckdb"
                        remove_paths(wh, wh.with_name(wh.name + ".wal"), root / ".orch")
                    full = [*cmd, "--project-dir", str(root)]
                    sample = run_process([*ORCH, *full], label=f"{version}: orch {' '.join(full)}")
                    times.setdefault((name, version), []).append(sample)
            print(f"  rep {rep + 1}/{args.reps}, load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        CHILD_ENV.clear()
        CHILD_ENV.update(saved_env)
    head = ("base s", "this s", "this/base", "base MiB", "this MiB", "base cpu", "this cpu",
            "cpu ratio")  # fmt: skip
    print(f"\n{'command':<14}" + "".join(f"{h:>10}" for h in head))
    result = {}
    for name in commands:
        base = median([s.seconds for s in times[(name, "base")]])
        this = median([s.seconds for s in times[(name, "this")]])
        base_rss = median([s.peak_rss_mib for s in times[(name, "base")]])
        this_rss = median([s.peak_rss_mib for s in times[(name, "this")]])
        base_cpu = median([s.cpu_seconds for s in times[(name, "base")]])
        this_cpu = median([s.cpu_seconds for s in times[(name, "this")]])
        result[name] = {"base": base, "this": this, "base_rss": base_rss, "this_rss": this_rss,
                        "base_cpu": base_cpu, "this_cpu": this_cpu}  # fmt: skip
        cells = (f"{base:.2f}", f"{this:.2f}", f"{this / base:.2f}x", f"{base_rss:.0f}",
                 f"{this_rss:.0f}", f"{base_cpu:.2f}", f"{this_cpu:.2f}",
                 f"{this_cpu / base_cpu:.2f}x" if base_cpu else "-")  # fmt: skip
        print(f"{name:<14}" + "".join(f"{c:>10}" for c in cells))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
