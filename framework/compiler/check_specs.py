"""Check specs read from YAML (dbt and orch spellings), their argument models, singular checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orch.compiler.graph import ResolvedRef, resolve_graph
from orch.config import OrchModel, merge_model_config
from orch.errors import ConfigError, ErrorGroup, Location, UserError, suggestion
from orch.load.dbt import generic_test_name
from orch.load.dbt_packages import test_folder_layers
from orch.load.parsing import ParsedModel, parse_models
from orch.load.project import ModelFile, Project
from orch.manifest import THRESHOLD
from orch.yamldoc import KeyPath, YamlDoc, load_yaml
from pydantic import Field, field_validator, model_validator

if TYPE_CHECKING:
    from orch.load.rendering import Renderer

SPEC_KEYS = ("checks", "tests", "data_tests")
CONFIG_KEYS = frozenset(
    {"severity", "where", "warn_if", "error_if", "blocking", "tags", "name", "enabled",
     "description", "meta", "limit", "store_failures", "store_failures_as", "fail_calc"}
)  # fmt: skip
SINGULAR_PREFIX = "__check__"
MAX_NAME = 100
_THRESHOLD = THRESHOLD
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_OPERATOR_START = re.compile(
    r"^\s*(=|!=|<>|<=|>=|<|>|is\b|in\b|not\b|between\b|like\b|ilike\b)", re.I
)
_UNITS = {"s": "SECOND", "m": "MINUTE", "h": "HOUR", "d": "DAY", "w": "WEEK"}


# --------------------------------------------------------------------------- argument models


class NoArgs(OrchModel):
    """not_null and unique take no arguments."""


class AcceptedValuesArgs(OrchModel):
    """accepted_values: the allowed values."""

    values: list[Any]
    quote: bool = True


class RelationshipsArgs(OrchModel):
    """relationships: every value must exist in ``to``'s ``field``."""

    to: str
    field: str


class ExpressionArgs(OrchModel):
    """expression: a SQL boolean that must hold on every row."""

    expression: str


class RowCountArgs(OrchModel):
    """row_count: bounds on the number of rows (at least one of them)."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_bound(self) -> RowCountArgs:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class FreshnessArgs(OrchModel):
    """freshness: the newest value of ``column`` is at most ``max_age`` old."""

    column: str | None = None
    max_age: str

    @field_validator("max_age")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.match(str(v)):
            raise ValueError("write a duration such as 30m, 24h, 2d or 1w")
        return str(v)


class UniqueCombinationArgs(OrchModel):
    """unique_combination: no two rows share the values of ``columns``."""

    columns: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class CheckType:
    """A built-in check type: its argument model, where it may be declared, its main argument."""

    args: type[OrchModel]
    column_level: bool  # needs a column (declared under a column, or with column_name:)
    model_level: bool = True
    shorthand: str | None = None  # `- expression: "a > 0"` fills this argument


BUILTIN_TYPES: dict[str, CheckType] = {
    "not_null": CheckType(NoArgs, column_level=True, model_level=False),
    "unique": CheckType(NoArgs, column_level=True, model_level=False),
    "accepted_values": CheckType(AcceptedValuesArgs, column_level=True, model_level=False,
                                 shorthand="values"),
    "relationships": CheckType(RelationshipsArgs, column_level=True, model_level=False),
    "expression": CheckType(ExpressionArgs, column_level=False, shorthand="expression"),
    "row_count": CheckType(RowCountArgs, column_level=False),
    "freshness": CheckType(FreshnessArgs, column_level=False, shorthand="max_age"),
    "unique_combination": CheckType(UniqueCombinationArgs, column_level=False,
                                    shorthand="columns"),
}  # fmt: skip
ALIASES = {
    "expression_is_true": "expression",
    "unique_combination_of_columns": "unique_combination",
    "accepted_range": None,  # named so the error says it is not supported rather than unknown
}
_ARG_ALIASES = {"combination_of_columns": "columns", "column": "column"}


# --------------------------------------------------------------------------- check specs


@dataclass(frozen=True)
class CheckSpec:
    """One entry of a ``checks:`` list, with where it was written."""

    raw: Any
    asset: str
    column: str | None
    doc: YamlDoc
    key_path: KeyPath

    @property
    def location(self) -> Location:
        """file:line:col of the entry."""
        return self.doc.location(self.key_path)


def split_entry(spec: CheckSpec) -> tuple[str, Any]:
    """``- unique`` / ``- accepted_values: {...}`` -> (type as written, its body or None).

    A top-level ``config:`` (dbt's long form) is folded into the body.
    """
    raw = spec.raw
    if isinstance(raw, str):
        return raw, None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"invalid check entry: {raw!r}",
            location=spec.location,
            hint="Write '- not_null' or '- accepted_values: {values: [...]}'",
        )
    body_dict = dict(raw)
    top_config = body_dict.pop("config", None)
    body: Any
    # dbt's long form: `- name: my_check` + `test_name: accepted_values`
    if "test_name" in body_dict:
        name = str(body_dict.pop("test_name"))
        body = body_dict
    elif len(body_dict) == 1:
        name, body = next(iter(body_dict.items()))
    else:
        raise ConfigError(
            f"a check entry must name one check type, found keys {', '.join(map(str, body_dict))}",
            location=spec.location,
            hint="Write '- not_null' or '- accepted_values: {values: [...]}'",
        )
    if top_config:
        body = {**(body if isinstance(body, dict) else {}), "config": top_config}
    return str(name), body


def split_arguments(spec: CheckSpec, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A check entry's mapping -> (arguments, config): ``arguments:``/``config:`` or top level."""
    body = dict(body)
    nested_config = body.pop("config", None) or {}
    arguments = body.pop("arguments", None) or {}
    args: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for key, value in {**body, **arguments}.items():
        (config if key in CONFIG_KEYS else args)[key] = value
    if not isinstance(nested_config, dict):
        raise ConfigError(
            "a check's 'config' must be a mapping",
            location=spec.location,
            hint="e.g. config: {severity: warn}",
        )
    for key, value in nested_config.items():
        if key not in CONFIG_KEYS:
            raise ConfigError(
                f"unknown check setting '{key}' on '{spec.asset}'",
                location=spec.location,
                hint=suggestion(key, CONFIG_KEYS)
                or f"Known settings: {', '.join(sorted(CONFIG_KEYS))}",
            )
        config[key] = value
    return args, config


def render_config(
    config: dict[str, Any], spec: CheckSpec, renderer: Renderer | None
) -> dict[str, Any]:
    """A dbt test's config with its Jinja rendered, as dbt renders it while parsing
    (``severity: "{{ 'warn' if target.name == 'dev' else 'error' }}"``); orch projects and
    plain values are returned as written."""
    if renderer is None:
        return config
    return {k: _rendered(v, spec, renderer, f"the test setting {k}") for k, v in config.items()}


def render_arguments(
    args: dict[str, Any], spec: CheckSpec, renderer: Renderer | None
) -> dict[str, Any]:
    """A dbt test's arguments with their Jinja rendered as dbt renders them before the test
    runs: ``values: "{{ var('model_types') }}"`` is the list the var holds; ``column_name`` stays
    text. Without ``renderer`` (an orch project), as written."""
    if renderer is None:
        return args
    return {k: v if k == "column_name" else
            _rendered(v, spec, renderer, f"the argument {k} of a test")
            for k, v in args.items()}  # fmt: skip


def _rendered(value: Any, spec: CheckSpec, renderer: Renderer, what: str) -> Any:
    """``value`` with the Jinja of its strings rendered (one ``{{ }}`` gives its value)."""
    if isinstance(value, list):
        return [_rendered(v, spec, renderer, what) for v in value]
    if isinstance(value, dict):
        return {k: _rendered(v, spec, renderer, what) for k, v in value.items()}
    if not (isinstance(value, str) and ("{{" in value or "{%" in value)):
        return value
    try:
        return renderer.render_config_value(value, spec.doc.path)
    except UserError as err:
        raise ConfigError(
            f"cannot render {what} on '{spec.asset}': {err.message}",
            location=spec.location,
            hint="A test's config and arguments may use var(), env_var() and target",
        ) from None


def collect_specs(project: Project) -> list[CheckSpec]:
    """Every check spec of the project's YAML: models, seeds and source tables."""
    specs: list[CheckSpec] = []
    for name in sorted(project.properties):
        props = project.properties[name]
        entry = props.entry
        specs.extend(_specs_of(props.doc, props.key_path, name, None, entry.checks))
        for j, col in enumerate(entry.columns):
            specs.extend(
                _specs_of(props.doc, (*props.key_path, "columns", j), name, col.name, col.checks)
            )
    docs: dict[str, YamlDoc] = {}
    for name in sorted(project.sources):
        src = project.sources[name]
        if not src.table.checks and not any(c.checks for c in src.table.columns):
            continue
        if src.path not in docs:
            docs[src.path] = load_yaml(project.root / src.path, src.path)
        doc = docs[src.path]
        base = _source_key_path(doc, src.source.name, src.table.name)
        specs.extend(_specs_of(doc, base, name, None, src.table.checks))
        for j, col in enumerate(src.table.columns):
            specs.extend(_specs_of(doc, (*base, "columns", j), name, col.name, col.checks))
    return specs


def _specs_of(
    doc: YamlDoc, base: KeyPath, asset: str, column: str | None, raws: list[Any]
) -> list[CheckSpec]:
    if not raws:
        return []
    key = next((k for k in SPEC_KEYS if (*base, k) in doc.positions), "checks")
    return [CheckSpec(raw, asset, column, doc, (*base, key, i)) for i, raw in enumerate(raws)]


def _source_key_path(doc: YamlDoc, source: str, table: str) -> KeyPath:
    for i, s in enumerate((doc.data or {}).get("sources") or []):
        if isinstance(s, dict) and s.get("name") == source:
            for j, t in enumerate(s.get("tables") or []):
                if isinstance(t, dict) and t.get("name") == table:
                    return ("sources", i, "tables", j)
    return ("sources",)


# --------------------------------------------------------------------------- singular checks


@dataclass(frozen=True)
class GenericTestUse:
    """A YAML use of a custom generic test (``{% test name(model, column_name, ...) %}``)."""

    spec: CheckSpec
    test: str  # the test's name without a namespace
    args: dict[str, Any]
    config: dict[str, Any]
    column: str | None
    defined_in: str = ""  # the file with its {% test %} block
    folder: dict[str, Any] = field(default_factory=dict)  # data_tests: settings of the project


@dataclass
class SingularCheck:
    """A ``checks/*.sql`` file, rendered and parsed like a model (or a custom generic test's
    rendered use, ``generic`` set)."""

    name: str
    parsed: ParsedModel
    refs: list[ResolvedRef] = field(default_factory=list)
    generic: GenericTestUse | None = None


@dataclass(frozen=True)
class _TemplateFile(ModelFile):
    """A model file whose text is generated (a generic test's call), not read from disk."""

    text: str = ""

    def read(self) -> str:
        """The generated text."""
        return self.text


# dbt renders a test argument that looks like one of these calls as Jinja (`to: ref('x')`)
_LOOKS_LIKE_CALL = re.compile(r"^\s*(env_var|ref|var|source|doc)\s*\(.+\)\s*$", re.S)
_GENERIC_PREFIX = "__generic__"
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{((?:(?!\}\}|\{\{|\{%).)*)\}\}\s*$", re.S)


def custom_test_of(spec: CheckSpec, project: Project, generic_tests: dict[str, str]) -> str | None:
    """The custom generic test ``spec`` uses, or None (a built-in check, or an error later).

    As in dbt, a test defined in the project wins over a built-in of the same name; a name with
    another namespace (``dbt_utils.x``) is a package's.
    """
    if not generic_tests:
        return None
    try:
        name, _ = split_entry(spec)
    except ConfigError:
        return None
    namespace, _, short = name.rpartition(".")
    if namespace and namespace != project.name:
        return name if namespace in project.packages and name in generic_tests else None
    return short if short in generic_tests else None


def generic_test_uses(
    project: Project,
    specs: list[CheckSpec],
    generic_tests: dict[str, str],
    renderer: Renderer | None = None,
) -> list[GenericTestUse]:
    """The specs that use a custom generic test, split into arguments and config (rendered
    with ``renderer`` in a dbt project, :func:`render_config`)."""
    uses = []
    for spec in specs:
        test = custom_test_of(spec, project, generic_tests)
        if test is None:
            continue
        _, body = split_entry(spec)
        args: dict[str, Any] = {}
        config: dict[str, Any] = {}
        if body is None:
            pass
        elif isinstance(body, dict):
            args, config = split_arguments(spec, body)
            config = render_config(config, spec, renderer)
        else:
            raise ConfigError(
                f"test '{test}' on '{spec.asset}' takes a mapping of arguments, not {body!r}",
                location=spec.location,
                hint=f"Write '- {test}: {{argument: value}}'",
            )
        column = args.pop("column_name", None) or spec.column
        name = config.get("name") or generic_test_name(
            spec.raw, spec.asset, column, args, spec.asset in project.sources
        )
        folder = folder_test_config(project, spec.doc.path, str(name))
        if merge_model_config([folder, config]).get("enabled") is False:
            continue  # disabled: never rendered, as in dbt
        for key in args:
            if not str(key).isidentifier() or key == "model":
                raise ConfigError(
                    f"test '{test}' on '{spec.asset}': invalid argument name '{key}'",
                    location=spec.location,
                    hint="Arguments are the parameters of the {% test %} block "
                    f"({generic_tests[test]}), other than model and column_name",
                )
        uses.append(GenericTestUse(spec, test, args, config, column, generic_tests[test], folder))
    return uses


def folder_test_config(project: Project, path: str, name: str) -> dict[str, Any]:
    """The project file's ``data_tests:``/``tests:`` folder settings of a test declared in
    ``path`` and named ``name`` (a package's own, then the root's), merged; ``true``/``false``
    text, as a rendered ``"{{ ... }}"`` gives it, read as a boolean."""
    trees = [t for t in (project.config.tests, project.config.data_tests) if t]
    if not trees and not any(p.tests for p in project.packages.values()):
        return {}
    layers = test_folder_layers(project.packages, project.name, trees, path, name)
    merged = merge_model_config(layers)
    out: dict[str, Any] = {}
    for key, value in merged.items():
        if key not in CONFIG_KEYS:
            continue
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        out[key] = value
    return out


def with_folder_config(
    project: Project, config: dict[str, Any], path: str, name: str
) -> dict[str, Any]:
    """``config`` over :func:`folder_test_config` (dbt's lowest layer; tags add up)."""
    folder = folder_test_config(project, path, name)
    return merge_model_config([folder, config]) if folder else config


def _jinja_value(value: Any, prelude: list[str]) -> str:
    """A test argument as a Jinja expression, rendered the way dbt renders test arguments."""
    if isinstance(value, str):
        if _LOOKS_LIKE_CALL.match(value):
            return value.strip()
        single = _SINGLE_EXPRESSION.match(value)
        if single is not None:  # dbt renders it natively: the value it prints (a list...)
            return f"({single.group(1).strip()})"
        if "{{" in value or "{%" in value:
            name = f"__orch_arg_{len(prelude)}"
            prelude.append(f"{{% set {name} %}}{value}{{% endset %}}")
            return name
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_jinja_value(v, prelude) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{k!r}: {_jinja_value(v, prelude)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return repr(value)


def generic_test_call(project: Project, use: GenericTestUse) -> str:
    """The Jinja that renders one use: ``{{ test_<name>(model=ref('m'), column_name=..., ...) }}``.

    ``model`` is the asset's relation, or ``(select * from <relation> where <where>)
    dbt_subquery`` with a ``where`` config (dbt's ``get_where_subquery``).
    """
    asset = use.spec.asset
    if asset in project.sources:
        src = project.sources[asset]
        model = f"source({src.source.name!r}, {src.table.name!r})"
    else:
        model = f"ref({asset!r})"
    where = use.config.get("where", use.folder.get("where"))
    if where is not None:
        model = f"('(select * from ' ~ {model} ~ ' where ' ~ {str(where)!r} ~ ') dbt_subquery')"
    prelude: list[str] = []
    kwargs = [f"model={model}"]
    if use.column is not None:
        kwargs.append(f"column_name={str(use.column)!r}")
    kwargs += [f"{k}={_jinja_value(v, prelude)}" for k, v in use.args.items()]
    store = use.config.get("store_failures") is True or use.config.get("store_failures_as") in (
        "table",
        "view",
    )
    prelude.insert(0, f"{{% do _orch_store_failures({store}) %}}")
    space, _, short = use.test.rpartition(".")
    macro = f"{space}.test_{short}" if space else f"test_{short}"
    return "".join(prelude) + "{{ " + macro + "(" + ", ".join(kwargs) + ") }}\n"


def parse_singular_checks(
    project: Project,
    renderer: Any,
    cache: Any,
    extra_assets: list[str] | None = None,
    generic: list[GenericTestUse] | None = None,
) -> list[SingularCheck]:
    """Render, parse and resolve every singular check file and custom generic test use
    (errors collected and raised)."""
    generic = generic or []
    if not project.check_files and not generic:
        return []
    files: dict[str, ModelFile] = {
        f"{SINGULAR_PREFIX}{name}": ModelFile(
            f"{SINGULAR_PREFIX}{name}", path, project.root / path, "sql"
        )
        for name, path in project.check_files.items()
    }
    uses: dict[str, GenericTestUse] = {}
    for i, use in enumerate(generic):
        key = f"{_GENERIC_PREFIX}{i:05d}"
        uses[key] = use
        path = use.spec.doc.path
        files[key] = _TemplateFile(  # the path names the use, so its errors point at it
            key, f"{key}:{path}", project.root / path, "sql", text=generic_test_call(project, use)
        )
    shadow = Project(**{**project.__dict__, "models": files})
    try:
        parsed = parse_models(shadow, renderer, cache)
    except UserError as err:
        raise _at_use(err, uses) from None
    graph = resolve_graph(project, parsed, {n: [] for n in extra_assets or []})
    out = []
    for key in sorted(parsed):
        refs = graph.refs[key].get("full", [])
        if key in uses:
            out.append(SingularCheck(key, parsed[key], refs, generic=uses[key]))
        else:
            out.append(SingularCheck(key[len(SINGULAR_PREFIX) :], parsed[key], refs))
    return out


def _at_use(err: UserError, uses: dict[str, GenericTestUse]) -> UserError:
    """Render errors of generic test uses, pointed at the YAML entry that uses the test."""
    errors = err.errors if isinstance(err, ErrorGroup) else [err]
    out: list[UserError] = []
    for one in errors:
        path = one.location.path if one.location is not None else ""
        use = uses.get(path.split(":", 1)[0]) if path.startswith(_GENERIC_PREFIX) else None
        if use is not None:
            one = type(one)(
                f"test '{use.test}' on '{use.spec.asset}': {one.message}",
                location=use.spec.location,
                hint=f"Its {{% test {use.test} %}} block is in {use.defined_in}",
            )
        out.append(one)
    return out[0] if len(out) == 1 else ErrorGroup(out)
