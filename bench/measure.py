"""Shared pieces of the benchmark scripts: run an ``orch`` command, time it, read its peak RSS."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from generate import generate_project, is_generated  # the sibling script in bench/

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "out"


# Children write and reuse .pyc files as on a user's machine, even where the environment turns
# that off (PYTHONDONTWRITEBYTECODE=1 here would add ~0.3 s of compiling to every command).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class BenchError(Exception):
    """A benchmark cannot run (missing command, failed command); the message says why."""


@dataclass(frozen=True)
class Sample:
    """One run of a child process: wall time in seconds, peak resident memory in MiB and CPU
    seconds (user + system: steadier than wall time on a machine shared with other work)."""

    seconds: float
    peak_rss_mib: float
    cpu_seconds: float = 0.0


def orch_command() -> list[str]:
    """The command that starts orch: the ``orch`` script next to this Python, else on PATH."""
    local = Path(sys.executable).parent / "orch"
    if local.is_file():
        return [str(local)]
    found = shutil.which("orch")
    if found:
        return [found]
    raise BenchError(
        "the 'orch' command is not installed; activate the venv and run 'pip install -e .' first"
    )


def require_command(subcommand: list[str], options: tuple[str, ...] = ()) -> None:
    """Fail with a clear message unless ``orch SUBCOMMAND --help`` works and lists ``options``."""
    cmd = [*orch_command(), *subcommand, "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    label = "orch " + " ".join(subcommand)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BenchError(
            f"'{label}' is not available (exit {proc.returncode}"
            + (f": {detail[-1]}" if detail else "")
            + "). This benchmark needs it; is the CLI finished?"
        )
    for option in options:
        if option not in proc.stdout:
            raise BenchError(f"'{label}' has no {option} option; this benchmark needs it")


def run_measured(args: list[str], cwd: Path | None = None) -> Sample:
    """Run ``orch ARGS`` once; raise :class:`BenchError` with its stderr if it fails.

    The peak RSS is that of this one child (``os.wait4`` gives the child's own rusage), so runs do
    not contaminate each other the way ``RUSAGE_CHILDREN`` maxima would.
    """
    return run_process([*orch_command(), *args], cwd=cwd, label=" ".join(["orch", *args]))


def run_process(cmd: list[str], cwd: Path | None = None, label: str | None = None) -> Sample:
    """Run any command once, timed, with its own peak RSS; :class:`BenchError` if it fails."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-15:]
            raise BenchError(
                f"'{label or ' '.join(cmd)}' failed with exit code {proc.returncode}:\n"
                + "\n".join("    " + line for line in tail)
            )
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(seconds=seconds, peak_rss_mib=rss_kib / 1024, cpu_seconds=cpu)


def median(values: list[float]) -> float:
    """The median (0 for no values)."""
    return statistics.median(values) if values else 0.0


def remove_paths(*paths: Path) -> None:
    """Delete files or folders that may not exist."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def ensure_project(size: int, out_dir: Path, seed: int, flavour: str = "synthetic") -> Path:
    """The generated project of ``size`` models under ``out_dir``, generating it when missing."""
    project = out_dir / (f"project_{size}" if flavour == "synthetic" else f"{flavour}_{size}")
    if not is_generated(project, size, seed, flavour=flavour):
        started = time.perf_counter()
        generate_project(size, project, seed, flavour=flavour)
        print(f"generated {project} in {time.perf_counter() - started:.1f}s", flush=True)
    return project
