"""Code provenance: which code built a materialization, and how it differs from today's.

Each successful materialization is recorded with its fingerprint; the code behind that fingerprint
is stored once (:class:`~orch.state.records.CodeVersion`, in ``code_versions``): the compiled SQL
of a SQL model (env_var() values never in it: placeholders, made inert, then scrubbed) or the
Python source of an asset (its function and the module-level code the fingerprint covers). The
project's git commit and dirty flag are asked once per run (``git rev-parse HEAD`` and
``git status --porcelain`` of the project folder, with a timeout); without git the run records
none, never an error.

:func:`built_by` answers ``orch code ASSET`` / ``orch status --diff`` and the site: the code and
commit that built an asset's newest materialization, and a unified diff (difflib) against the
code that would build it now when the two differ.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import logging
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import redaction
from orch.errors import SelectionError, suggestion
from orch.load.project import Project
from orch.load.python_files import python_source
from orch.manifest import Manifest, Node
from orch.state.base import StateReader
from orch.state.kind import open_state_store
from orch.state.records import STATE_DIR, CodeVersion, GitState, MaterializationRecord

if TYPE_CHECKING:
    from orch.ops import JobDefinition
    from orch.ops.definition import OpDefinition

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 3.0
NO_GIT = GitState(None)


def git_state(
    root: Path, *, exclude: Sequence[str] = (), timeout: float = GIT_TIMEOUT_S
) -> GitState:
    """HEAD and the dirty flag of the git work tree holding ``root`` (``NO_GIT`` outside one).

    ``exclude``: folders under ``root`` whose changes don't count (``target/``, logs, state):
    a build writes them. A ``git status`` that fails or times out after HEAD answered counts as
    dirty: orch cannot say the tree was clean.
    """
    git = shutil.which("git")
    if git is None:
        return NO_GIT
    commit = ""
    try:
        head = subprocess.run(
            [git, "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        commit = head.stdout.strip()
        if head.returncode != 0 or not commit:
            return NO_GIT
        spec = [".", *(f":(exclude){p}" for p in exclude)]
        status = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--", *spec],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        log.debug("git did not answer within %ss in %s", timeout, root)
        return GitState(commit, True) if commit else NO_GIT
    except OSError as err:
        log.debug("git failed in %s: %s", root, err)
        return NO_GIT
    return GitState(commit, status.returncode != 0 or bool(status.stdout.strip()))


def provenance_excludes(project: Project) -> list[str]:
    """What a run writes inside the project folder (its changes don't make the tree dirty)."""
    out = [STATE_DIR]
    for folder in (project.target_dir, project.root / project.config.log_path):
        try:
            out.append(Path(folder).resolve().relative_to(project.root.resolve()).as_posix())
        except ValueError:  # outside the project folder: git status of it does not look there
            continue
    return out


def code_of_node(node: Node) -> CodeVersion | None:
    """The code that builds ``node`` in this manifest (as it is stored), or None (a seed, a
    source). A Python asset's code comes from the file text the manifest was compiled from."""
    if node.python is not None:
        try:
            text = python_source(node.raw_code, node.python.function)
        except SyntaxError as err:  # the compiler imported it: only a hand-edited manifest
            log.debug("no source for %s: %s", node.name, err)
            return None
        return CodeVersion(
            node.fingerprint, "python", node.python.module_path, redaction.stored(text)
        )
    if node.compiled_code and node.fingerprint:
        return CodeVersion(node.fingerprint, "sql", node.path, redaction.stored(node.compiled_code))
    return None


def code_lookup(manifest: Manifest) -> Callable[[str], CodeVersion | None]:
    """asset name -> the code that builds it now (what the StateRecorder stores)."""

    def code_of(asset: str) -> CodeVersion | None:
        node = manifest.nodes.get(asset)
        return None if node is None else code_of_node(node)

    return code_of


def code_of_op(op: OpDefinition, root: Path | None = None) -> CodeVersion | None:
    """The Python source of an op's function, fingerprinted by its text (``op:`` + sha256: an
    op step has no fingerprint of its own). None when Python cannot give the source."""
    try:
        text = inspect.getsource(inspect.unwrap(op.fn))
    except (OSError, TypeError) as err:  # defined in a REPL or a C function
        log.debug("no source for op %s: %s", op.name, err)
        return None
    text = redaction.stored(inspect.cleandoc(text) + "\n")
    module = op.location.path
    if root is not None:
        try:
            module = Path(module).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # an op imported from outside the project
            pass
    digest = hashlib.sha256(text.encode()).hexdigest()
    return CodeVersion(f"op:{digest}", "python", module, text)


def op_code_lookup(
    job: JobDefinition, root: Path | None = None
) -> Callable[[str], CodeVersion | None]:
    """op name -> its code (what the StateRecorder stores for each op step), read once."""
    ops = {n.op.name: n.op for n in job.graph.nodes.values()}
    cache: dict[str, CodeVersion | None] = {}

    def code_of(op: str) -> CodeVersion | None:
        if op not in cache:
            cache[op] = code_of_op(ops[op], root) if op in ops else None
        return cache[op]

    return code_of


# --------------------------------------------------------------------------- what built an asset


@dataclass(frozen=True)
class BuiltBy:
    """What built an asset's newest successful materialization, and today's code beside it."""

    asset: str
    record: MaterializationRecord | None
    git: GitState | None  # None: the run recorded no git state (an older orch)
    built: CodeVersion | None  # None: not recorded
    current: CodeVersion | None

    @property
    def changed(self) -> bool:
        """Whether the asset's code differs from the code that built it."""
        return (
            self.built is not None
            and self.current is not None
            and self.built.code != self.current.code
        )

    @property
    def finished_at(self) -> datetime | None:
        """When the materialization finished."""
        return self.record.finished_at if self.record is not None else None

    def describe(self) -> str:
        """``run 3f2a9c1b, commit 1a2b3c4 (dirty)``, ``run 3f2a9c1b, no git`` or ``never built``."""
        if self.record is None:
            return "never built"
        commit = "git unknown" if self.git is None else self.git.describe()
        where = f"commit {commit}" if self.git is not None and self.git.commit else commit
        return f"run {self.record.run_id[:8]}, {where}"

    def to_json(self) -> dict[str, Any] | None:
        """``orch status --output json``'s ``built_by``: run, commit, dirty, whether the code
        changed since (None: never built). ``commit`` None: no git work tree (or not recorded)."""
        if self.record is None:
            return None
        return {
            "run_id": self.record.run_id,
            "commit": self.git.commit if self.git is not None else None,
            "dirty": self.git.dirty if self.git is not None and self.git.commit else None,
            "code_recorded": self.built is not None,
            "code_changed": self.changed,
            "code_kind": self.built.kind if self.built is not None else None,
        }

    def diff(self) -> str:
        """A unified diff from the code that built the asset to today's ('' when equal)."""
        if not self.changed or self.built is None or self.current is None:
            return ""
        run = self.record.run_id[:8] if self.record else "?"
        lines = difflib.unified_diff(
            self.built.code.splitlines(keepends=True),
            self.current.code.splitlines(keepends=True),
            fromfile=f"{self.asset} (built by run {run})",
            tofile=f"{self.asset} (current {self.current.module or 'code'})",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def newest_successes(
    latest: Mapping[tuple[str, str | None], MaterializationRecord],
) -> dict[str, MaterializationRecord]:
    """Each asset's newest successful materialization among ``latest`` (any partition)."""
    out: dict[str, MaterializationRecord] = {}
    for (asset, _), rec in latest.items():
        cur = out.get(asset)
        if cur is None or (rec.finished_at, rec.id) > (cur.finished_at, cur.id):
            out[asset] = rec
    return out


def built_by(
    manifest: Manifest,
    state: StateReader,
    assets: Sequence[str],
    *,
    target: str,
) -> list[BuiltBy]:
    """What built each of ``assets``, with today's code (three reads, whatever the count)."""
    newest = newest_successes(state.latest_materializations(sorted(set(assets)), target=target))
    records = list(newest.values())
    code = state.code_versions([r.fingerprint for r in records if r.fingerprint])
    gits = state.git_states([r.run_id for r in records])
    return [built_by_from(manifest, newest, code, gits, a) for a in assets]


def built_by_from(
    manifest: Manifest,
    newest: Mapping[str, MaterializationRecord],
    code: Mapping[str, CodeVersion],
    gits: Mapping[str, GitState],
    asset: str,
) -> BuiltBy:
    """What built ``asset``, from what was read already (``newest``: :func:`newest_successes`)."""
    rec = newest.get(asset)
    node = manifest.nodes.get(asset)
    return BuiltBy(
        asset=asset,
        record=rec,
        git=gits.get(rec.run_id) if rec is not None else None,
        built=code.get(rec.fingerprint) if rec is not None and rec.fingerprint else None,
        current=code_of_node(node) if node is not None else None,
    )


def provenance_report(
    manifest: Manifest, project: Project, assets: Sequence[str] | None = None
) -> list[BuiltBy]:
    """What built each asset (``None``: every buildable asset), from the project's state.

    Raises SelectionError for a name that is not an asset, with the closest names.
    """
    known = [n for n in manifest.topological_names() if manifest.nodes[n].resource_type != "source"]
    names = known if assets is None else list(assets)
    for name in names:
        if name not in manifest.nodes:
            raise SelectionError(
                f"unknown asset '{name}'",
                hint=suggestion(name, known) or "List the assets with `orch ls`",
            )
    with open_state_store(project.root, project.target, readonly=True) as state:
        return built_by(manifest, state, names, target=project.target_name)


def add_built_by(
    manifest: Manifest, project: Project, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``orch status --output json``: each asset object of ``items`` gains ``built_by``
    (:meth:`BuiltBy.to_json`); three state reads whatever the count."""
    names = [i["asset"] for i in items if i["asset"] in manifest.nodes]
    built = {b.asset: b.to_json() for b in provenance_report(manifest, project, names)}
    for item in items:
        item["built_by"] = built.get(item["asset"])
    return items
