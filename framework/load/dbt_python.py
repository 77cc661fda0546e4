"""dbt Python models (``def model(dbt, session)``) read without running them, as dbt does.

dbt parses a Python model's source: its ``dbt.ref("x")``, ``dbt.source("s", "t")`` and
``dbt.config(...)`` calls, with literal arguments only, are its dependencies and settings. This
module does the same with :mod:`ast`; a call with a computed argument is refused at its line (dbt
refuses it too). Running one is :mod:`orch.run.dbt_python`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from orch.errors import Location, ProjectError, UnknownReferenceError, UnsupportedFeatureError
from orch.load.dbt_versions import VersionedModel
from orch.load.dbt_versions import resolve as resolve_version

_SIGNATURE = re.compile(r"^def\s+model\s*\(\s*dbt\s*,", re.M)


def is_dbt_python(text: str) -> bool:
    """Whether a model file's text is a dbt Python model."""
    return bool(_SIGNATURE.search(text))


@dataclass(frozen=True)
class DbtPythonModel:
    """What a dbt Python model declares: its refs, sources and ``dbt.config()`` settings."""

    name: str
    path: str
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    line: int = 1

    @property
    def upstream(self) -> list[str]:
        """Upstream asset names (sources as ``source.table``)."""
        return list(dict.fromkeys([*self.refs, *(f"{s}.{t}" for s, t in self.sources)]))


def parse_dbt_python(
    name: str, path: str, text: str, versions: dict[str, VersionedModel] | None = None
) -> DbtPythonModel:
    """Read ``text`` (the file at ``path``) as dbt's Python model parser does.

    ``dbt.ref('m', version=2)`` (or ``v=2``) names a dbt model version; ``dbt.ref('m')`` of a
    versioned model is its latest version (``versions``: the project's, by model name).
    """
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as err:
        where = Location(path, err.lineno or 0, err.offset or 0)
        raise ProjectError(f"invalid Python: {err.msg}", location=where) from None
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "model"), None)
    if fn is None or [a.arg for a in fn.args.args[:2]] != ["dbt", "session"]:
        raise ProjectError("a dbt Python model needs a top-level def model(dbt, session)",
                           location=Location(path, 1), hint="Define def model(dbt, session): "
                           "... return <DataFrame or DuckDB relation>")  # fmt: skip
    refs: list[str] = []
    sources: list[tuple[str, str]] = []
    config: dict[str, Any] = {}
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner, method = node.func.value, node.func.attr
        if not (isinstance(owner, ast.Name) and owner.id == "dbt"):
            continue
        where = Location(path, node.lineno, node.col_offset + 1)
        if method == "ref":
            args = _literals(node, where, "dbt.ref()")
            version = _ref_version(node, where)
            if len(args) not in (1, 2):
                raise _refused(where, "dbt.ref() without a model name",
                               "Write dbt.ref('model') or dbt.ref('model', version=2)")  # fmt: skip
            found: str | None = str(args[-1])
            why = None
            if versions is None:  # at run time: the asset name a pinned version has
                found = found if version is None else f"{found}_v{version}"
            else:
                found, why = resolve_version(versions, str(args[-1]), version)
            if found is None:
                raise UnknownReferenceError(
                    f"dbt.ref(): {why}", location=where, hint="Use a version listed under versions:"
                )
            refs.append(found)
        elif method == "source":
            args = _literals(node, where, "dbt.source()")
            if len(args) != 2:
                raise _refused(where, "dbt.source() without (source, table)",
                               "Write dbt.source('source', 'table')")  # fmt: skip
            sources.append((str(args[0]), str(args[1])))
        elif method == "config":
            if node.args:
                raise _refused(where, "dbt.config() with positional arguments",
                               "Write dbt.config(materialized='table')")  # fmt: skip
            for kw in node.keywords:
                try:
                    config[str(kw.arg)] = ast.literal_eval(kw.value)
                except ValueError:
                    raise _refused(where, f"dbt.config({kw.arg}=<computed value>)",
                                   "dbt reads config() values without running the model: use "
                                   "literals") from None  # fmt: skip
    return DbtPythonModel(name, path, refs, sources, config, fn.lineno)


def _ref_version(node: ast.Call, where: Location) -> Any:
    """The ``version=`` / ``v=`` of a dbt.ref() call (a literal), None without one."""
    version = None
    for kw in node.keywords:
        if kw.arg not in ("version", "v"):
            raise _refused(where, f"dbt.ref() with the keyword argument {kw.arg}=",
                           "Write dbt.ref('model') or dbt.ref('model', version=2)")  # fmt: skip
        try:
            version = ast.literal_eval(kw.value)
        except ValueError:
            raise _refused(where, "dbt.ref() with a computed version",
                           "Pass the version as a literal: version=2") from None  # fmt: skip
    return version


def _literals(node: ast.Call, where: Location, what: str) -> list[Any]:
    out = []
    for arg in node.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise _refused(where, f"{what} with a computed argument",
                           "dbt finds dependencies without running the model: pass string "
                           "literals")  # fmt: skip
        out.append(arg.value)
    return out


def _refused(where: Location, feature: str, hint: str) -> UnsupportedFeatureError:
    return UnsupportedFeatureError(f"{feature}: not supported in a dbt Python model",
                                   location=where, hint=hint)  # fmt: skip
