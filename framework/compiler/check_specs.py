"""Check specs read from YAML (dbt and orch spellings), their argument models, singular checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from orch.compiler.graph import ResolvedRef, resolve_graph
from orch.config import OrchModel
from orch.errors import Location
from orch.load.parsing import ParsedModel, parse_models
from orch.load.project import ModelFile, Project
from orch.yamldoc import KeyPath, YamlDoc, load_yaml
from pydantic import Field, field_validator, model_validator

SPEC_KEYS = ("checks", "tests", "data_tests")
CONFIG_KEYS = frozenset(
    {"severity", "where", "warn_if", "error_if", "blocking", "tags", "name", "enabled",
     "description", "meta", "limit", "store_failures", "store_failures_as", "fail_calc"}
)  # fmt: skip
SINGULAR_PREFIX = "__check__"
MAX_NAME = 100
_THRESHOLD = re.compile(r"^\s*(==|=|!=|<>|>=|<=|>|<)\s*(\d+)\s*$")
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


@dataclass
class SingularCheck:
    """A ``checks/*.sql`` file, rendered and parsed like a model."""

    name: str
    parsed: ParsedModel
    refs: list[ResolvedRef] = field(default_factory=list)


def parse_singular_checks(
    project: Project, renderer: Any, cache: Any, extra_assets: list[str] | None = None
) -> list[SingularCheck]:
    """Render, parse and resolve every singular check file (errors collected and raised)."""
    if not project.check_files:
        return []
    files = {
        f"{SINGULAR_PREFIX}{name}": ModelFile(
            f"{SINGULAR_PREFIX}{name}", path, project.root / path, "sql"
        )
        for name, path in project.check_files.items()
    }
    shadow = Project(**{**project.__dict__, "models": files})
    parsed = parse_models(shadow, renderer, cache)
    graph = resolve_graph(project, parsed, {n: [] for n in extra_assets or []})
    out = []
    for key in sorted(parsed):
        out.append(
            SingularCheck(key[len(SINGULAR_PREFIX) :], parsed[key], graph.refs[key].get("full", []))
        )
    return out
