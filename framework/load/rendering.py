"""Jinja rendering with a recording context.

Each model is rendered once per variant (full build; and, when the template calls
``is_incremental()``, an incremental variant). Calls to ``ref``, ``source``, ``config``, ``var``,
``env_var`` and ``partition`` are *recorded*, so the loader learns a model's dependencies and config
without a warehouse. ``ref('x')`` and ``source('s', 't')`` render as marker table names that the
compiler later replaces with the target's relations, so a CTE can never shadow them; ``{{ this }}``
renders as ``__orch_this__``. ``env_var()`` values render as placeholders (see
:mod:`orch.redaction`) so no secret reaches the manifest or compiled files.
"""

from __future__ import annotations

import ast
import datetime as datetime_module
import importlib
import itertools
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from orch import redaction
from orch.config import MODEL_CONFIG_KEYS
from orch.errors import (
    Location,
    ProjectError,
    TemplateError,
)
from orch.load import dbt_functions
from orch.load.dbt_builtins import BUILTINS_PATH, builtin_macros_source
from orch.load.dbt_versions import VersionedModel
from orch.load.dbt_versions import resolve as resolve_version
from orch.load.docs_blocks import read_docs_blocks, resolve_doc_calls  # noqa: F401 (re-exported)
from orch.load.introspection import (
    Api,
    LiveWarehouse,
    ParseTimeWarehouse,
    RelationValue,
    quoted_relation,
)
from orch.load.node_context import NodeContext, node_context
from orch.load.template_errors import (
    MissingEnvVarError,
    MissingVarError,
    RenderFault,
    UnsupportedCallError,
    template_error,
)
from orch.manifest import INVOCATION_MARKER  # noqa: F401 (re-exported; a run needs no Jinja)

THIS_MARKER = "__orch_this__"
REF_PREFIX = "__orch_ref_"
PARTITION_TOKENS = {
    "key": "__orch_partition_key__",
    "start": "__orch_partition_start__",
    "end": "__orch_partition_end__",
}


_TEST_START = re.compile(r"({%-?\s*)test\s+(\w+)\s*\(")
_TEST_END = re.compile(r"({%-?\s*)endtest\b")

# ``{{ ref(...) }}``, ``{{ source(...) }}``, ``{{ config(...) }}`` with nothing else in the braces
_SIMPLE_CALL = re.compile(r"\{\{\s*((?:ref|source|config)\([^{}]*\))\s*\}\}")


def _literal_call(text: str) -> tuple[str, list[Any], dict[str, Any]] | None:
    """``name(args, key=value)`` whose arguments are all Python literals, else None."""
    try:
        node = ast.parse(text, mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            return None
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (SyntaxError, ValueError, TypeError):
        return None
    if len(kwargs) != len(node.keywords) or any(isinstance(a, str) is False for a in args):
        return None
    return node.func.id, args, kwargs


class SecretString(str):
    """An env var's value: compares as the value, renders as a placeholder token."""

    value: str
    env_name: str

    def __new__(cls, value: str, env_name: str) -> SecretString:
        obj = super().__new__(cls, value)
        obj.value = value
        obj.env_name = env_name
        return obj

    def __str__(self) -> str:
        return redaction.placeholder(self.env_name)

    def __html__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class TargetInfo:
    """What a template sees as ``target``."""

    name: str
    type: str
    schema: str
    database: str | None
    dialect: str
    threads: int = 1


@dataclass
class Recording:
    """What one render of a model called."""

    refs: dict[str, str] = field(default_factory=dict)  # marker -> asset name
    # marker -> the project named by a two-argument ref('project', 'model')
    ref_projects: dict[str, str] = field(default_factory=dict)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # marker -> (source, table)
    config: dict[str, Any] = field(default_factory=dict)
    vars_used: set[str] = field(default_factory=set)
    env_vars_used: set[str] = field(default_factory=set)
    uses_is_incremental: bool = False
    uses_partition: bool = False
    uses_this: bool = False
    # run_query / statement / execute / adapter.get_columns_in_relation...: rendered again, with
    # the warehouse, right before the model runs (orch.run.live_render)
    uses_warehouse: bool = False


@dataclass(frozen=True)
class LiveBinding:
    """A run-time render's context: the warehouse and how ref/source/this resolve."""

    warehouse: LiveWarehouse
    ref: Callable[..., RelationValue]
    source: Callable[[str, str], RelationValue]
    this: RelationValue | None
    model: Any = None  # dbt's ``model`` at run time: the node as manifest.json writes it
    context: dict[str, Any] = field(default_factory=dict)  # more names (a hook's ``results``)


class _Partition:
    """``partition`` in a template: attributes render as quoted placeholder literals.

    ``partition.key`` is a string literal; ``partition.start``/``partition.end`` are
    ``CAST('...' AS TIMESTAMP)``. Execution substitutes the real values (orch.partitions).
    """

    def __init__(self, recording: Callable[[], Recording]) -> None:
        self._recording = recording

    def __getattr__(self, name: str) -> str:
        if name not in PARTITION_TOKENS:
            raise AttributeError(
                f"partition has no attribute '{name}' (use {', '.join(PARTITION_TOKENS)})"
            )
        self._recording().uses_partition = True
        if name == "key":
            return f"'{PARTITION_TOKENS[name]}'"
        # typed, so a DATE or TIMESTAMP column compares with it in every dialect
        return f"CAST('{PARTITION_TOKENS[name]}' AS TIMESTAMP)"


class _Adapter:
    """``adapter`` in a template: the few helpers typical dbt projects call."""

    def __init__(self, quote: Callable[[str], str], renderer: Renderer) -> None:
        self.quote = quote
        self._renderer = renderer

    def dispatch(
        self, macro_name: str, macro_namespace: str | None = None, packages: Any = None
    ) -> Any:
        """dbt's ``adapter.dispatch``: the first ``<adapter>__name`` / ``default__name`` macro in
        the namespace's search order (see :meth:`Renderer.dispatch`)."""
        return self._renderer.dispatch(macro_name, macro_namespace, packages)

    def type(self) -> str:
        """The adapter's type (``target.type``)."""
        return self._renderer.target.type

    def get_columns_in_relation(self, relation: Any) -> Any:
        """The relation's columns (dbt's Column); none while parsing (``execute`` False)."""
        return self._renderer.warehouse().get_columns_in_relation(relation)

    def get_relation(self, database: Any = None, schema: Any = None, identifier: Any = None) -> Any:
        """The relation if it exists, else None; always None while parsing."""
        return self._renderer.warehouse().get_relation(database, schema, identifier)

    def __getattr__(self, name: str) -> Any:
        # get_relation, get_columns_in_relation...: they need a warehouse while rendering
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedCallError(f"adapter.{name}()")


def _dbt_set(value: Any, default: Any = None) -> Any:
    """dbt's ``set(value, default=None)``: a Python set, or ``default`` when not iterable."""
    try:
        return set(value)
    except TypeError:
        return default


def _dbt_zip(*args: Any, default: Any = None) -> Any:
    """dbt's ``zip(*args, default=None)``: a zip, or ``default`` when an argument is no
    iterable."""
    try:
        return zip(*args)  # noqa: B905 (dbt's zip is not strict)
    except TypeError:
        return default


class _MacroReturn(Exception):
    """dbt's ``{{ return(value) }}``: leaves the macro with ``value``."""

    def __init__(self, value: Any) -> None:
        super().__init__("return")
        self.value = value


def _return(value: Any) -> None:
    raise _MacroReturn(value)


def _returning(macro: Any) -> Any:
    """A macro callable that honours ``{{ return(...) }}`` like dbt's macros do."""
    if not callable(macro):
        return macro

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return macro(*args, **kwargs)
        except _MacroReturn as ret:
            return ret.value

    call.__name__ = getattr(macro, "name", "macro")
    return call


class _MacroFile:
    """The macros one file defines, by name."""

    def __init__(self, macros: dict[str, Any]) -> None:
        self._file_macros = macros

    def __dir__(self) -> list[str]:
        return sorted(self._file_macros)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_file_macros"][name]
        except KeyError:
            raise AttributeError(name) from None


class MacroNamespace:
    """A package's macros as ``pkg.macro`` (dbt's package namespace)."""

    def __init__(self, package: str, macros: dict[str, Any]) -> None:
        self._package = package
        self._macros = macros

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_package", "_macros"):
            raise AttributeError(name)  # dbt_utils._is_relation is a macro; dunders are not
        if name in self._macros:
            return self._macros[name]
        raise UnsupportedCallError(
            f"{self._package}.{name}()",
            f"the package '{self._package}' has no macro named '{name}'"
            + (" (orch provides only some of dbt's built-in macros, see docs/dbt.md)"
               if self._package == "dbt" else ""),
        )  # fmt: skip

    def __contains__(self, name: object) -> bool:
        return name in self._macros


class _Sandbox(SandboxedEnvironment):
    """jinja's sandbox, letting a package's private macros through (``dbt_utils._is_relation``),
    and honouring ``{{ return() }}`` in every macro call."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, MacroNamespace) and not attr.startswith("__"):
            return True
        return bool(super().is_safe_attribute(obj, attr, value))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A macro calling a sibling macro of its file reaches jinja's own ``Macro`` (the
        file's closure), not the :func:`_returning` wrapper: its ``return()`` ends the callee
        here, as in dbt, instead of the caller."""
        try:
            return super().call(__context, __obj, *args, **kwargs)
        except _MacroReturn as ret:
            if isinstance(__obj, jinja2.runtime.Macro):
                return ret.value
            raise


@dataclass(frozen=True)
class PackageScope:
    """A dbt package as the renderer sees it: its files' path prefix and its vars."""

    name: str
    prefix: str  # e.g. 'dbt_packages/dbt_utils/': files under it belong to the package
    variables: dict[str, Any]


# Compiled template code by (path, source): every Renderer's environment compiles alike, and a
# process makes several (unit tests with their own vars, the daemon's compiles, dbt's built-ins).
_CODE_CACHE: dict[tuple[str, str], Any] = {}
_CODE_CACHE_SIZE = 20_000


class Renderer:
    """A Jinja environment for one project and target, with user macros loaded."""

    def __init__(
        self,
        *,
        project_name: str,
        target: TargetInfo,
        variables: dict[str, Any],
        macro_files: dict[str, str] | None = None,  # display path -> source
        docs: dict[str, str] | None = None,
        quote: Callable[[str], str] | None = None,
        packages: list[PackageScope] | None = None,
        dispatch: dict[str, list[str]] | None = None,
        lenient_undefined: bool = False,
        versions: dict[str, VersionedModel] | None = None,
    ) -> None:
        self.project_name = project_name
        self.versions = versions or {}  # dbt model versions: what ref('m', version=) means
        self._store_failures = False  # should_store_failures() while a generic test renders
        self.packages = {p.name: p for p in packages or []}
        self.dispatch_orders = dispatch or {}  # macro_namespace -> search_order (dispatch:)
        self._root_variables = variables
        self.target = target
        self.variables = variables
        self.docs = docs or {}
        self.run_started_at = datetime.now(timezone.utc)
        self._recording: Recording | None = None
        self.last_recording = Recording()
        self._incremental = False
        self._path = ""
        self._live: LiveBinding | None = None
        self._parse_time = ParseTimeWarehouse(self._mark_warehouse)
        self.env = _Sandbox(
            # dbt renders an undefined name as '' (jinja2's default); orch projects fail on it
            undefined=jinja2.Undefined if lenient_undefined else jinja2.StrictUndefined,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
            keep_trailing_newline=True,
        )
        self.env.globals.update(
            ref=self._ref,
            source=self._source,
            config=self._config,
            var=self._var,
            env_var=self._env_var,
            is_incremental=self._is_incremental,
            set_sql_header=self._set_sql_header,
            doc=self._doc,
            target=target,
            this=RelationValue(
                THIS_MARKER,
                target.database,
                target.schema,
                THIS_MARKER,
                on_read=self._mark_warehouse,
            ),  # fmt: skip
            partition=_Partition(self._current),
            adapter=_Adapter(quote or (lambda s: '"' + s.replace('"', '""') + '"'), self),
            run_started_at=self.run_started_at,
            project_name=project_name,
            log=_dbt_log,
            print=lambda msg: _dbt_log(msg, info=True),  # dbt's print(): shown, renders ''
            # dbt's hook helpers: a hook run outside the step's transaction
            before_begin=lambda sql: {"sql": sql, "transaction": False},
            after_commit=lambda sql: {"sql": sql, "transaction": False},
            return_=lambda v: v,
            api=Api(quoted_relation),
            **self._parse_time.globals(),
            **{"return": _return},
            should_store_failures=lambda: self._store_failures,
            _orch_store_failures=self._set_store_failures,
            exceptions=_Exceptions(),
            modules=_Modules(),
            # dbt's set() / zip() context functions (dbt_utils.equality: set(columns))
            set=_dbt_set,
            set_strict=set,
            zip=_dbt_zip,
            zip_strict=zip,
            **dbt_functions.FUNCTIONS,
        )
        self.macro_errors: list[ProjectError] = []
        self.generic_tests: dict[str, str] = {}  # custom generic test name -> defining file
        self._load_macros(macro_files or {})

    # ------------------------------------------------------------------ macros

    def _load_macros(self, macro_files: dict[str, str]) -> None:
        """Load every macro file once; each macro's free names are looked up when it is called,
        in the namespace of the model being rendered (as in dbt, where a macro runs in the
        calling node's context)."""
        self._ns = self.env.globals
        self._base = dict(self.env.globals)
        self._macros: dict[str, dict[str, Any]] = {self.project_name: {}}
        builtins = self._module(builtin_macros_source(), BUILTINS_PATH)
        self._macros["dbt"] = {
            n: _returning(getattr(builtins, n)) for n in dir(builtins) if not n.startswith("_")
        }
        for name in self.packages:
            self._macros.setdefault(name, {})
        package_tests: dict[str, str] = {}
        for path, source in sorted(macro_files.items()):
            owner = self.package_of(path) or self.project_name
            tests = self.generic_tests if owner == self.project_name else package_tests
            source = self._generic_tests_as_macros(source, path, tests, owner)
            module = self._module(source, path)
            if module is None:
                continue
            qualify = "" if owner == self.project_name else f"{owner}."
            for name in dir(module):
                if not name.startswith("__"):
                    self._macros[owner][name] = _returning(getattr(module, name))
                    if name.startswith("test_"):  # dbt: a macro test_x is the generic test x
                        tests.setdefault(qualify + name[5:], path)
        for name, path in package_tests.items():  # dbt finds an unqualified test in packages
            short = name.rsplit(".", 1)[-1]
            self.generic_tests.setdefault(name, path)
            self.generic_tests.setdefault(short, path)
        self._scopes: dict[str, dict[str, Any]] = {}
        self._scope = ""
        self._enter(self.project_name)
        self._recording = None

    def _module(self, source: str, path: str) -> Any:
        try:
            self._recording = Recording()
            template = self._compile(source, path)
            context = template.new_context(self._ns, shared=True)
            for _ in template.root_render_func(context):
                pass
            # every macro, private ones too (dbt_utils._is_relation): jinja's module would
            # export only the names without a leading underscore
            return _MacroFile({k: v for k, v in context.vars.items()
                               if isinstance(v, jinja2.runtime.Macro)})  # fmt: skip
        except jinja2.TemplateSyntaxError as err:
            self.macro_errors.append(
                TemplateError(
                    f"Jinja syntax error in macro file: {err.message}",
                    location=Location(path, err.lineno or 0),
                    hint="Fix the template syntax",
                )
            )
        except Exception as err:  # a macro file should only define macros
            self.macro_errors.append(template_error(err, path, source))
        return None

    def _node_context(self, node: str | None, path: str) -> NodeContext:
        for versioned in self.versions.values():  # dbt: a version's name is the model's
            if node in versioned.versions.values():
                node = versioned.name
        package = self.package_of(path)
        prefix = self.packages[package].prefix if package is not None else ""
        return node_context(node, path, package or self.project_name, prefix)

    def package_of(self, path: str) -> str | None:
        """The package a file (path relative to the root project) belongs to, or None."""
        for scope in self.packages.values():
            if path.startswith(scope.prefix):
                return scope.name
        return None

    def _scope_of(self, package: str) -> dict[str, Any]:
        """dbt's macro namespace for a node of ``package``: its own macros, then the root
        project's, then each package by name (``dbt_utils.x``), then dbt's built-ins."""
        if package not in self._scopes:
            flat = dict(self._base)
            flat.update(self._macros["dbt"])
            flat.update({n: MacroNamespace(n, m) for n, m in self._macros.items()})
            flat.update(self._macros[self.project_name])
            flat.update(self._macros.get(package, {}))
            self._scopes[package] = flat
        return self._scopes[package]

    def _enter(self, package: str) -> None:
        if package == self._scope:
            return
        self._ns.clear()
        self._ns.update(self._scope_of(package))
        scope = self.packages.get(package)
        self.variables = scope.variables if scope is not None else self._root_variables
        self._scope = package

    @contextmanager
    def package_macros_overridden(
        self, overrides: dict[tuple[str, str], Callable[..., Any]]
    ) -> Iterator[None]:
        """A unit test's ``overrides: macros: {pkg.name: value}`` while it renders: the macro
        replaced in its package's namespace (``pkg.name`` and the package's own calls)."""
        missing = object()
        saved = [(pkg, name, self._macros[pkg].get(name, missing)) for pkg, name in overrides]
        for (pkg, name), macro in overrides.items():
            self._macros[pkg][name] = macro
        self._scopes.clear()
        self._scope = ""
        try:
            yield
        finally:
            for pkg, name, macro in saved:
                if macro is missing:
                    self._macros[pkg].pop(name, None)
                else:
                    self._macros[pkg][name] = macro
            self._scopes.clear()
            self._scope = ""
            self._enter(self.project_name)

    def macro_packages(self) -> list[str]:
        """The macro namespaces: the root project, each package, and ``dbt``."""
        return sorted(self._macros)

    def _set_store_failures(self, value: bool) -> str:
        """Set by a generic test's rendered use: what dbt's should_store_failures() returns."""
        self._store_failures = bool(value)
        return ""

    def dispatch(self, name: str, namespace: str | None, packages: Any = None) -> Any:
        """dbt's ``adapter.dispatch(name, macro_namespace)``.

        Packages searched: the ``dispatch:`` search order of the namespace in the root
        dbt_project.yml, else [root project, namespace] for an installed package, else the
        calling node's own namespace; in each, ``<adapter>__name`` then ``default__name``.
        """
        if "." in name:
            space, short = name.split(".", 1)
            raise RenderFault(
                f"adapter.dispatch('{name}'): '.' is not valid in a macro name; did you mean "
                f"adapter.dispatch('{short}', macro_namespace='{space}')?"
            )
        if packages is not None:
            raise RenderFault(
                f"adapter.dispatch('{name}', packages=...) was removed in dbt 1.0: use "
                "macro_namespace= and the 'dispatch:' config in dbt_project.yml"
            )
        order: list[str | None] = [None]
        if namespace is not None:
            if namespace in self.dispatch_orders:
                order = list(self.dispatch_orders[namespace])
            elif namespace in self.packages:
                order = [self.project_name, namespace]
        prefixes = [self.target.type, "default"]
        tried = []
        for package in order:
            for prefix in prefixes:
                candidate = f"{prefix}__{name}"
                if package is None:
                    macro = self._ns.get(candidate)
                    tried.append(candidate)
                elif package in self._macros:
                    macro = self._macros[package].get(candidate)
                    tried.append(f"{package}.{candidate}")
                else:
                    raise RenderFault(
                        f"adapter.dispatch('{name}'): the search order of '{namespace}' names "
                        f"'{package}', which is no installed package or the project",
                        hint="Fix 'dispatch:' in dbt_project.yml, or install the package",
                    )
                if callable(macro):
                    return macro
        raise RenderFault(
            f"adapter.dispatch: no macro named '{name}' found within namespace "
            f"'{namespace}' (searched for {', '.join(repr(t) for t in tried)})",
            hint=f"Define {prefixes[0]}__{name} or default__{name}",
        )

    def _generic_tests_as_macros(
        self, source: str, path: str, tests: dict[str, str], owner: str
    ) -> str:
        """``{% test name(...) %}...{% endtest %}`` as dbt compiles it: the macro ``test_name``
        (a package's test is registered as ``<package>.name``).

        The rewrite keeps every line where it was, so errors point at the user's lines.
        """
        if "test" not in source:
            return source
        qualify = "" if owner == self.project_name else f"{owner}."

        def start(match: re.Match[str]) -> str:
            tests[qualify + match.group(2)] = path
            return f"{match.group(1)}macro test_{match.group(2)}("

        source = _TEST_START.sub(start, source)
        return _TEST_END.sub(lambda m: f"{m.group(1)}endmacro", source)

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        source: str,
        path: str,
        *,
        incremental: bool = False,
        context: dict[str, Any] | None = None,
        node: str | None = None,
    ) -> tuple[str, Recording]:
        """Render a model's template (or a hook's, with its extra ``context``); returns the SQL
        and what it called.

        Raises TemplateError naming the template file and line.
        """
        recording = Recording()
        self._recording = recording
        self.last_recording = recording  # what a render that raised had called, for its error
        self._incremental = incremental
        self._path = path
        self._enter(self.package_of(path) or self.project_name)
        self._ns["model"] = self._node_context(node, path)
        self._store_failures = False
        try:
            text = None if context else self._render_simple(source)
            if text is None:
                text = self._compile(source, path).render(**(context or {}))
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"Jinja syntax error: {err.message}",
                location=Location(path, err.lineno or 0),
                hint="Fix the template syntax",
            ) from None
        except TemplateError:
            raise
        except Exception as err:
            raise template_error(err, path, source) from None
        finally:
            self._recording = None
            self._enter(self.project_name)
        return text, recording

    def render_config_value(self, text: str, path: str) -> Any:
        """A YAML config value with Jinja in it, rendered as dbt renders a test's config at
        parse time: a value that is one ``{{ ... }}`` becomes the Python value it prints
        (``True``, ``5``, a list), any other text stays text.

        Raises TemplateError naming ``path``.
        """
        rendered, _ = self.render(text, path)
        stripped = text.strip()
        single = (stripped.startswith("{{") and stripped.endswith("}}")
                  and stripped.count("{{") == 1 and "{%" not in stripped)  # fmt: skip
        if single:
            try:
                return ast.literal_eval(rendered.strip())
            except (ValueError, SyntaxError, MemoryError):
                pass
        return rendered

    def render_live(
        self,
        source: str,
        path: str,
        live: LiveBinding,
        *,
        incremental: bool = False,
        node: str | None = None,
    ) -> str:
        """Render a model again at run time, as dbt does right before running it: ``execute``
        is True, ``run_query``/``statement``/``adapter.get_columns_in_relation`` query the
        warehouse, and ``ref``/``source``/``this`` render as the real relations.

        Raises TemplateError naming the template file and line.
        """
        self._live = live
        self._scope = ""  # force the scope's names to be set again, then the live ones over them
        try:
            self._enter(self.package_of(path) or self.project_name)
            self._ns.update(live.warehouse.globals())
            if live.this is not None:
                self._ns["this"] = live.this
            self._ns["model"] = (
                live.model if live.model is not None else self._node_context(node, path)
            )
            self._ns.update(live.context)
            self._scope = "\0live"  # render() must not re-enter (it would drop the live names)
            text, _ = self._render_entered(source, path, incremental=incremental)
            return text
        finally:
            self._live = None
            self._scope = ""
            for name in live.context:
                self._ns.pop(name, None)
            self._enter(self.project_name)

    def _render_entered(
        self, source: str, path: str, *, incremental: bool
    ) -> tuple[str, Recording]:
        recording = Recording()
        self._recording = recording
        self._incremental = incremental
        self._path = path
        try:
            text = self._compile(source, path).render()
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"Jinja syntax error: {err.message}",
                location=Location(path, err.lineno or 0),
                hint="Fix the template syntax",
            ) from None
        except TemplateError:
            raise
        except Exception as err:
            raise template_error(err, path, source) from None
        finally:
            self._recording = None
        return text, recording

    def warehouse(self) -> Any:
        """The warehouse of this render: the live one at run time, else parse-time answers."""
        return self._live.warehouse if self._live is not None else self._parse_time

    def mark_rendered_at_run_time(self) -> None:
        """The template being rendered reads what exists only at run time: render it again
        then (a hook reading ``results``)."""
        self._current().uses_warehouse = True

    def _mark_warehouse(self) -> None:
        if self._live is None:
            self._current().uses_warehouse = True

    def _render_simple(self, source: str) -> str | None:
        """Render a template whose only Jinja is ``ref()``, ``source()`` and ``config()`` calls.

        Compiling a Jinja template costs about a millisecond — more than parsing the SQL — and
        most model files use nothing but these calls with literal arguments. Anything else
        returns None (full Jinja).
        """
        if "{%" in source or "{#" in source or source.count("{{") != source.count("}}"):
            return None
        matches = list(_SIMPLE_CALL.finditer(source))
        if len(matches) != source.count("{{"):
            return None
        out, pos = [], 0
        for match in matches:
            call = _literal_call(match.group(1))
            if call is None:
                return None
            name, args, kwargs = call
            if name == "ref" and not kwargs and 1 <= len(args) <= 2:
                text = self._ref(*args)
            elif name == "source" and not kwargs and len(args) == 2:
                text = self._source(*args)
            elif name == "config" and not args:
                text = self._config(**kwargs)
            else:
                return None
            out.append(source[pos : match.start()])
            out.append(text)
            pos = match.end()
        out.append(source[pos:])
        return "".join(out)

    def _compile(self, source: str, path: str) -> jinja2.Template:
        key = (path, source)
        code = _CODE_CACHE.get(key)
        if code is None:
            code = self.env.compile(source, name=path, filename=path)
            if len(_CODE_CACHE) < _CODE_CACHE_SIZE:
                _CODE_CACHE[key] = code
        return self.env.template_class.from_code(self.env, code, self.env.globals, None)

    def _current(self) -> Recording:
        if self._recording is None:
            return Recording()
        return self._recording

    # ------------------------------------------------------------------ context functions

    def _ref(self, *args: str, **kwargs: Any) -> str:
        version = kwargs.pop("version", kwargs.pop("v", None))
        if kwargs:
            raise TemplateError(f"ref() got unknown keyword arguments: {', '.join(kwargs)}")
        if not args or len(args) > 2:
            raise TemplateError("ref() takes a model name, or a package and a model name")
        name, why = resolve_version(self.versions, args[-1], version)
        if name is None:  # raised as the user's error: reported at the template's line
            raise jinja2.TemplateRuntimeError(f"ref(): {why}")
        if self._live is not None:
            return self._live.ref(*args[:-1], name)
        rec = self._current()
        marker = f"{REF_PREFIX}{len(rec.refs) + len(rec.sources)}"
        rec.refs[marker] = name
        if len(args) == 2:
            rec.ref_projects[marker] = str(args[0])  # checked when the graph is resolved
        return RelationValue(marker, self.target.database, self.target.schema, str(name),
                             on_read=self._mark_warehouse)  # fmt: skip

    def _source(self, source_name: str, table_name: str) -> str:
        if self._live is not None:
            return self._live.source(source_name, table_name)
        rec = self._current()
        marker = f"{REF_PREFIX}{len(rec.refs) + len(rec.sources)}"
        rec.sources[marker] = (source_name, table_name)
        return RelationValue(marker, self.target.database, source_name, table_name,
                             on_read=self._mark_warehouse)  # fmt: skip

    def _config(self, *args: Any, **kwargs: Any) -> str:
        if args and isinstance(args[0], dict):
            kwargs = {**args[0], **kwargs}
        cleaned = {k: _reveal_or_hide(v, reveal=k in _STRUCTURAL_KEYS) for k, v in kwargs.items()}
        self._current().config.update(cleaned)
        return ""

    def _set_sql_header(self, config: Any, caller: Any = None) -> str:
        """dbt's ``{% call set_sql_header(config) %}...{% endcall %}``: the block's text is the
        model's ``sql_header``, sent before its statements (orch.run.materialize)."""
        if caller is not None:
            self._current().config["sql_header"] = str(caller())
        return ""

    def _var(self, name: str, default: Any = jinja2.Undefined) -> Any:
        self._current().vars_used.add(name)
        if name in self.variables:
            return self.variables[name]
        if default is not jinja2.Undefined:
            return default
        raise MissingVarError(name, sorted(self.variables))

    def _env_var(self, name: str, default: Any = jinja2.Undefined) -> Any:
        self._current().env_vars_used.add(name)
        value = os.environ.get(name)
        if value is not None:
            redaction.register(name, value)
            return SecretString(value, name)
        if default is not jinja2.Undefined:
            return default
        raise MissingEnvVarError(name)

    def _is_incremental(self) -> bool:
        self._current().uses_is_incremental = True
        return self._incremental

    def _doc(self, name: str) -> str:
        if name not in self.docs:
            raise jinja2.UndefinedError(f"no docs block named '{name}'")
        return self.docs[name]


# config() settings that decide what is built (an env var there is a setting, not a secret); any
# other value read from env_var() (meta, dbt pass-through keys) keeps its placeholder, so the secret
# never reaches the manifest or the parse cache.
_STRUCTURAL_KEYS = frozenset(MODEL_CONFIG_KEYS - {"meta"})


def _reveal_or_hide(value: Any, *, reveal: bool) -> Any:
    """``value`` with each env_var() string replaced by its value (``reveal``) or placeholder."""
    if isinstance(value, SecretString):
        return value.value if reveal else str(value)
    if isinstance(value, dict):
        return {k: _reveal_or_hide(v, reveal=reveal) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reveal_or_hide(v, reveal=reveal) for v in value]
    return value


class _Exceptions:
    """``exceptions`` in a template (dbt): raise_compiler_error and warn."""

    def raise_compiler_error(self, message: str) -> None:
        """Fail the render with the user's message."""
        raise jinja2.TemplateRuntimeError(message)

    def warn(self, message: str) -> str:
        """Ignored at compile time."""
        return ""


_PLACEHOLDER = re.compile(re.escape(redaction.PLACEHOLDER_PREFIX) + r"(\w+?)__")


def _dbt_log(msg: Any, info: bool = False) -> str:
    """dbt's ``log(msg, info=False)``: an ``info=True`` message is printed (to stderr, as it is
    rendered: orch renders a model when it compiles it, not again when it runs); others go to
    orch's debug log. Renders as ''."""
    # an env_var() value is its placeholder here (or scrubbed): named, never shown
    text = _PLACEHOLDER.sub(r"<env_var('\1')>", redaction.scrub(str(msg)))
    if info:
        print(text, file=sys.stderr, flush=True)
    else:
        logging.getLogger("orch.dbt").debug("%s", text)
    return ""


class _Modules:
    """``modules`` in a template (dbt): datetime, pytz, re and itertools."""

    def __init__(self) -> None:
        self.datetime = datetime_module
        self.re = re
        self.itertools = itertools

    @property
    def pytz(self) -> Any:
        """pytz, imported on first use (dbt-date's ``modules.pytz.timezone(tz)``): 5 ms that
        most projects never need."""
        return importlib.import_module("pytz")
