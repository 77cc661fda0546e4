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
from typing import TYPE_CHECKING, Any

from orch.assets import (
    ASSET_ATTR,
    CHECK_ATTR,
    AssetSpec,
    CheckSpec,
    Signature,
    analyze_signature,
)
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    OrchError,
    ProjectError,
    decoding_error,
)

if TYPE_CHECKING:
    from orch.ops import JobDefinition

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
            # compiled from the bytes hashed above, not through a cached .pyc: a .pyc is
            # checked by whole-second mtime and size, so a same-size edit within one second
            # would run the old code
            exec(compile(raw, str(abs_path), "exec", dont_inherit=True), module.__dict__)
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
    # imported here: the op API is for job files; a run of models never loads it
    from orch.ops import GraphDefinition, JobDefinition, OpDefinition, definitions_in

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


# --------------------------------------------------------------------------- project modules


def split_class_path(text: str) -> tuple[str, str] | None:
    """``my_pkg.io:JsonLines`` or ``my_pkg.io.JsonLines`` → ``("my_pkg.io", "JsonLines")``;
    None for a bare class name."""
    if ":" in text:
        module, _, attr = text.partition(":")
        return (module.strip(), attr.strip()) if module.strip() and attr.strip() else None
    module, _, attr = text.rpartition(".")
    return (module, attr) if module else None


def is_module_path(spec: str, root: Path) -> bool:
    """Whether a ``type:`` names a class by module path: ``module:Class``, or a dotted name
    whose top-level module is a package or file of the project folder."""
    parts = split_class_path(spec)
    if parts is None:
        return False
    top = parts[0].split(".", 1)[0]
    return ":" in spec or (root / top).is_dir() or (root / f"{top}.py").is_file()


def import_project_module(module: str, root: Path) -> ModuleType:
    """Import ``module`` (``my_pkg.io``) with the project folder first on ``sys.path``.

    A module of the same name imported from another project folder (or an older copy of this
    one's file) is imported again, so each project gets its own. Raises ConfigError when no such
    module exists, ProjectError at the user's file and line when importing it fails.
    """
    root = root.resolve()
    with _import_lock:
        if str(root) in sys.path:  # first: a module of this project wins over another's
            sys.path.remove(str(root))
        sys.path.insert(0, str(root))
        _forget_stale(module, root)
        importlib.invalidate_caches()
        try:
            imported = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and (module == err.name or module.startswith(err.name + ".")):
                raise ConfigError(
                    f"no module '{module}' in the project folder or the installed packages",
                ) from None
            raise _module_error(module, root, err) from None
        except Exception as err:
            raise _module_error(module, root, err) from None
        _stamp(module.split(".", 1)[0])
        return imported


def _family(top: str) -> list[str]:
    return [n for n in sys.modules if n == top or n.startswith(top + ".")]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(top: str) -> None:
    """Remember the content of each imported file of package ``top``."""
    for name in _family(top):
        file = getattr(sys.modules[name], "__file__", None)
        if file is not None and Path(file).is_file():
            _stamps[name] = _digest(Path(file))


def _forget_stale(module: str, root: Path) -> None:
    """Drop ``module``, its packages and their submodules from ``sys.modules`` when they were
    imported from outside ``root`` although ``root`` has them, or their file's content changed
    since."""
    top = module.split(".", 1)[0]
    if not ((root / top).is_dir() or (root / f"{top}.py").is_file()):
        return  # an installed package: leave it alone
    stale = False
    for name in _family(top):
        file = getattr(sys.modules[name], "__file__", None)
        if file is None:
            continue
        path = Path(file).resolve()
        if root not in path.parents:
            stale = True
        elif not path.is_file() or _digest(path) != _stamps.get(name):
            stale = True
    if stale:
        for name in _family(top):
            file = getattr(sys.modules[name], "__file__", None)
            if file is not None and root in Path(file).resolve().parents:
                _discard_bytecode(Path(file))  # checked by whole seconds: may be of old code
            del sys.modules[name]
            _stamps.pop(name, None)


_stamps: dict[str, str] = {}  # module name -> sha256 of its file when imported


def _discard_bytecode(source: Path) -> None:
    try:
        Path(importlib.util.cache_from_source(str(source))).unlink(missing_ok=True)
    except (OSError, ValueError, NotImplementedError):
        pass


def _module_error(module: str, root: Path, err: BaseException) -> OrchError:
    """A failed import of a project module as an error at the deepest line of the project's
    files in its traceback."""
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if root in Path(f.filename).parents
    ]
    if isinstance(err, SyntaxError) and err.filename and root in Path(err.filename).parents:
        path = Path(err.filename)
    elif frames:
        path = Path(frames[-1].filename)
    else:
        return ProjectError(
            f"importing module '{module}' failed: {type(err).__name__}: {err}",
            hint="Fix the module (run python -c 'import " + module + "' to see the traceback)",
        )
    return import_error(path.relative_to(root).as_posix(), path, err, f"module '{module}'")


def find_project_class(spec: str, root: Path, base: type | None = None) -> type:
    """The class ``spec`` names (``my_pkg.io:JsonLines``), importable from the project folder
    (or an installed package), and a subclass of ``base`` when given.

    Raises ConfigError for an unknown module or class or one of another kind, ProjectError for
    a module that fails to import.
    """
    parts = split_class_path(spec)
    if parts is None:
        raise ConfigError(f"'{spec}' is not a module path (write it as my_pkg.module:ClassName)")
    module, attr = parts
    found = getattr(import_project_module(module, root), attr, None)
    if not isinstance(found, type):
        raise ConfigError(
            f"module '{module}' has no class '{attr}'"
            if found is None
            else f"'{module}:{attr}' is not a class"
        )
    if base is not None and not issubclass(found, base):
        home = "orch" if base.__module__.startswith("orch") else base.__module__
        raise ConfigError(f"class '{module}:{attr}' is not a subclass of {home}.{base.__name__}")
    return found
