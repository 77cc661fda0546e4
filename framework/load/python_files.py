"""The one importer of user Python files, and what it finds in model files.

Model files (``models/**/*.py``), sensor files (``sensors/*.py``) and job files (``jobs/*.py``:
ops, graphs and jobs, :func:`collect_op_jobs`) are imported by path through
:func:`import_python_file`: each gets a unique module name, an unchanged file is not imported
again, and any failure is a ProjectError naming the file and line. For model files it collects
the ``@asset`` and ``@check`` functions (:func:`collect_assets`, :func:`find_asset`,
:func:`find_check`) and fingerprints their source with the ast (:func:`source_fingerprint`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from orch.assets import (
    ASSET_ATTR,
    CHECK_ATTR,
    AssetSpec,
    CheckSpec,
    Signature,
    analyze_signature,
)
from orch.errors import DuplicateNameError, Location, OrchError, ProjectError, decoding_error
from orch.ops import GraphDefinition, JobDefinition, OpDefinition, definitions_in

MODULE_PREFIX = "orch_models"

# --------------------------------------------------------------------------- fingerprint


def source_fingerprint(path: Path, function: str) -> str:
    """A hash of the function's code and the module-level code it may use, normalized with ast.

    Comments, blank lines and formatting don't count, nor does the docstring. Other assets and
    checks in the same file are left out, so changing one asset does not make its neighbours
    stale. Imports, constants and helper functions at module level count.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorated = any(_decorator_name(d) in ("asset", "check") for d in stmt.decorator_list)
            if decorated and stmt.name != function:
                continue
            if stmt.name == function:
                stmt = _without_docstring(stmt)
        parts.append(ast.dump(stmt, annotate_fields=False, include_attributes=False))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def python_source(text: str, function: str) -> str:
    """The code :func:`source_fingerprint` covers, as text: the file's ``text`` without the
    other assets and checks it declares (what built an asset, for code provenance and its
    diffs)."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name != function:
            if any(_decorator_name(d) in ("asset", "check") for d in stmt.decorator_list):
                first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
                drop.update(range(first - 1, (stmt.end_lineno or stmt.lineno)))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(kept)).strip() + "\n"


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _without_docstring(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.stmt:
    body = fn.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        copy = ast.FunctionDef(**{**fn.__dict__, "body": body[1:] or [ast.Pass()]})  # type: ignore[arg-type]
        return copy
    return fn


# --------------------------------------------------------------------------- importing


@dataclass
class LoadedFile:
    """A model file after import: its module and what it declares."""

    path: str  # relative to the project folder
    abs_path: Path
    digest: str
    module: Any
    assets: dict[str, AssetSpec] = field(default_factory=dict)
    checks: dict[str, CheckSpec] = field(default_factory=dict)


@dataclass
class PythonAsset:
    """A Python asset ready to compile: its spec, signature, file and fingerprint of its code."""

    spec: AssetSpec
    signature: Signature
    file: LoadedFile
    line: int
    code_fingerprint: str

    @property
    def name(self) -> str:
        """The asset's name."""
        return self.spec.name

    @property
    def upstream(self) -> list[str]:
        """Upstream asset names: inputs, then ``deps``."""
        return list(dict.fromkeys([*self.signature.inputs.values(), *self.spec.deps]))

    @property
    def location(self) -> Location:
        """Where the function is defined."""
        return Location(self.file.path, self.line)


_loaded: dict[Path, LoadedFile] = {}
_import_lock = threading.RLock()


def module_name_for(rel_path: str, abs_path: Path) -> str:
    """A unique, stable module name for a model file (no package needed)."""
    stem = re.sub(r"\W", "_", rel_path.rsplit(".", 1)[0])
    digest = hashlib.sha1(str(abs_path).encode()).hexdigest()[:8]
    return f"{MODULE_PREFIX}.{stem}_{digest}"


def _ensure_parent_package() -> None:
    """Register ``orch_models`` as an (empty) package, so ``orch_models.<file>`` is importable by
    name: pickle finds a class defined in a model file (an object stored by ``objects``)."""
    if MODULE_PREFIX not in sys.modules:
        package = ModuleType(MODULE_PREFIX, "Model files imported by orch, one module each.")
        package.__path__ = []
        sys.modules[MODULE_PREFIX] = package


def import_python_file(rel_path: str, abs_path: Path, *, kind: str = "model file") -> ModuleType:
    """Import a user's Python file by path; the module is reused while the file's content is equal.

    Every user file (``models/**/*.py``, ``sensors/*.py``) is imported here, each under its own
    module name (no package needed). A failure is a ProjectError at the file's line, whatever the
    kind of file: a syntax error at its position, an orch error raised by a decorator where the
    decorator stands, any other exception at the deepest line of the file in its traceback.
    """
    return _import(rel_path, abs_path, kind).module


def import_model_file(rel_path: str, abs_path: Path) -> LoadedFile:
    """Import a model file and collect the ``@asset`` and ``@check`` functions defined in it."""
    return _import(rel_path, abs_path, "model file")


def _import(rel_path: str, abs_path: Path, kind: str) -> LoadedFile:
    raw = abs_path.read_bytes()
    try:  # Python would read a latin-1 comment; orch's fingerprint would not: refuse it once
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise decoding_error(err, rel_path, raw) from None
    digest = hashlib.sha256(raw).hexdigest()
    with _import_lock:
        cached = _loaded.get(abs_path)
        if cached is not None and cached.digest == digest:
            return cached
        name = module_name_for(rel_path, abs_path)
        spec = importlib.util.spec_from_file_location(name, abs_path)
        if spec is None or spec.loader is None:
            raise ProjectError(f"cannot import '{rel_path}'", location=Location(rel_path))
        module = importlib.util.module_from_spec(spec)
        _ensure_parent_package()
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as err:
            sys.modules.pop(name, None)
            if isinstance(err, KeyboardInterrupt):
                raise
            raise import_error(rel_path, abs_path, err, kind) from None
        loaded = LoadedFile(rel_path, abs_path, digest, module)
        for value in list(vars(module).values()):
            code = getattr(inspect.unwrap(value), "__code__", None) if callable(value) else None
            if code is None or Path(code.co_filename).resolve() != abs_path.resolve():
                continue  # imported from elsewhere
            a = getattr(value, ASSET_ATTR, None)
            if isinstance(a, AssetSpec):
                loaded.assets[a.name] = a
            c = getattr(value, CHECK_ATTR, None)
            if isinstance(c, CheckSpec):
                loaded.checks[c.name] = c
        _loaded[abs_path] = loaded
        return loaded


def import_error(
    rel_path: str, abs_path: Path, err: BaseException, kind: str = "model file"
) -> ProjectError | OrchError:
    """A failed import as an error at the line of the user's file where it happened."""
    if isinstance(err, SyntaxError) and err.filename and Path(err.filename) == abs_path:
        return ProjectError(
            f"syntax error: {err.msg}",
            location=Location(rel_path, err.lineno or 1, err.offset or 1),
            hint="Fix the Python syntax",
        )
    if isinstance(err, OrchError):  # a decorator's own error: name the file relative to the project
        if err.location is not None and Path(err.location.path) == abs_path:
            err.location = Location(rel_path, err.location.line, err.location.col)
        return err
    line = 1
    for frame in traceback.extract_tb(err.__traceback__):
        if Path(frame.filename) == abs_path:
            line = frame.lineno or 1
    what = f"{type(err).__name__}: {err}"
    hint = f"Fix the error in the {kind} (run it with python to see the traceback)"
    if isinstance(err, ModuleNotFoundError):
        hint = f"Install '{err.name}' in the environment orch runs in, or remove the import"
    return ProjectError(
        f"importing the {kind} failed: {what}",
        location=Location(rel_path, line),
        hint=hint,
    )


def function_line(fn: Callable[..., Any]) -> int:
    """The line of the ``def`` (after decorators)."""
    try:
        lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return int(getattr(getattr(fn, "__code__", None), "co_firstlineno", 0))
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return start


def collect_assets(files: Iterable[tuple[str, Path]]) -> dict[str, PythonAsset]:
    """Import model files and describe every ``@asset`` in them (duplicates are errors)."""
    out: dict[str, PythonAsset] = {}
    for rel_path, abs_path in files:
        loaded = import_model_file(rel_path, abs_path)
        for name, spec in loaded.assets.items():
            line = function_line(spec.fn)
            where = Location(rel_path, line)
            if name in out:
                raise DuplicateNameError(
                    f"two Python assets are named '{name}': in {out[name].file.path} and "
                    f"{rel_path}",
                    location=where,
                    hint="Rename one (name= in @asset, or the function)",
                )
            out[name] = PythonAsset(
                spec=spec,
                signature=analyze_signature(spec, where),
                file=loaded,
                line=line,
                code_fingerprint=source_fingerprint(abs_path, spec.function),
            )
    return out


def find_asset(module_path: str, project_root: Path, name: str) -> tuple[AssetSpec, Signature]:
    """The spec and signature of asset ``name`` in a model file (imported if needed)."""
    loaded = import_model_file(module_path, project_root / module_path)
    spec = loaded.assets.get(name)
    if spec is None:
        raise ProjectError(
            f"model file no longer defines the asset '{name}'",
            location=Location(module_path),
            hint="Compile again: the file changed since the manifest was built",
        )
    return spec, analyze_signature(spec, Location(module_path, function_line(spec.fn)))


def find_check(module_path: str, project_root: Path, name: str) -> CheckSpec:
    """The spec of Python check ``name`` in a model file (for the check runner)."""
    loaded = import_model_file(module_path, project_root / module_path)
    spec = loaded.checks.get(name)
    if spec is None:
        raise ProjectError(
            f"model file no longer defines the check '{name}'", location=Location(module_path)
        )
    return spec


# --------------------------------------------------------------------------- op jobs


def _relative_location(root: Path, where: Location) -> Location:
    try:
        rel = Path(where.path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return where
    return Location(rel, where.line, where.col)


def collect_op_jobs(root: Path, files: Iterable[Path]) -> dict[str, JobDefinition]:
    """Import job files and return the op jobs they define, by name.

    The graph and op definitions are checked when the files are imported (an unknown input, a
    cycle, a graph calling a non-op: a ProjectError at the line); here two jobs, two graphs or
    two different ops with one name are a DuplicateNameError naming both places.
    """
    jobs: dict[str, tuple[JobDefinition, Location]] = {}
    graphs: dict[str, tuple[Any, Location]] = {}
    ops: dict[str, tuple[Any, Location]] = {}
    for path in files:
        rel = path.relative_to(root).as_posix()
        module = import_python_file(rel, path, kind="job file")
        for value in definitions_in(vars(module), path):
            where = _relative_location(root, value.location)
            kind, pool = (
                ("job", jobs) if isinstance(value, JobDefinition)
                else ("graph", graphs) if isinstance(value, GraphDefinition)
                else ("op", ops)
            )  # fmt: skip
            assert isinstance(value, (JobDefinition, GraphDefinition, OpDefinition))
            first = pool.get(value.name)
            if first is not None and first[0] is not value:
                raise DuplicateNameError(
                    f"two {kind}s are named '{value.name}': at {first[1]} and {where}",
                    location=where,
                    hint=f"Rename one (name= in @{kind}, or the function)",
                )
            pool[value.name] = (value, where)  # type: ignore[assignment]
    return {name: job for name, (job, _) in sorted(jobs.items())}


def job_location(root: Path, job: JobDefinition) -> Location:
    """Where a job is defined, relative to the project folder."""
    return _relative_location(root, job.location)
