"""``unit_tests:`` in YAML property files -> :class:`UnitTestSpec` values, with their locations.

dbt's spelling (``model``, ``given`` with ``input: ref('x')`` / ``source('s', 't')``, ``rows`` as
mappings, ``format: csv`` inline or a ``fixture:`` file, ``format: sql``, ``expect``,
``overrides`` of ``vars``, ``macros`` (``is_incremental``) and ``env_vars``) and orch's additions:
bare-name inputs (``input: stg_orders``), ``this:`` (the rows already in the model's table), and
``partition:`` (the key a partitioned model is built for). Only reading happens here: whether an
input is an upstream of the model, and what its columns are, is decided by the compiler
(:mod:`orch.compiler.unit_tests`).

Rows are normalized to lists of ``{column: value}``: YAML dates and times become ISO text (the
compiler infers DATE / TIMESTAMP from it), CSV cells are text (an empty cell is NULL).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from orch.config import PropertiesFile, UnitTestProperties, UnitTestRowsProperties
from orch.errors import ConfigError, Location, UserError, read_user_text, suggestion
from orch.yamldoc import KeyPath, YamlDoc

InputKind = Literal["ref", "source", "name", "this"]

_REF = re.compile(r"""^ref\(\s*(?:['"]([^'"]+)['"]\s*,\s*)?['"]([^'"]+)['"]\s*\)$""")
_SOURCE = re.compile(r"""^source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)$""")
_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
FIXTURE_FOLDER = "fixtures"


@dataclass(frozen=True)
class Rows:
    """Rows of a ``given`` input, of ``expect`` or of ``this``.

    ``rows`` for the dict and csv formats (``typed``: values typed by YAML; else CSV text);
    ``sql`` for the sql format. ``row_locations[i]`` is where row ``i`` is written.
    """

    format: Literal["dict", "csv", "sql"]
    rows: list[dict[str, Any]]
    columns: list[str]
    location: Location
    row_locations: list[Location] = field(default_factory=list)
    sql: str | None = None
    typed: bool = True
    ordered: bool = False
    fixture: str | None = None  # the fixture file's name, as written (fixture: NAME)

    def to_json(self) -> dict[str, Any]:
        """The rows as the manifest stores them."""
        return {
            "format": self.format,
            "rows": self.rows,
            "columns": self.columns,
            "sql": self.sql,
            "typed": self.typed,
            "ordered": self.ordered,
            "location": str(self.location),
            "row_locations": [str(loc) for loc in self.row_locations],
        }


@dataclass(frozen=True)
class GivenInput:
    """One ``given`` entry: what it stands for (``ref``/``source``/bare name/``this``) and rows."""

    written: str  # as the YAML spells it
    kind: InputKind
    name: str  # the model or seed name; ``source.table``; a bare table name; "this"
    project: str | None
    data: Rows
    location: Location


@dataclass(frozen=True)
class UnitTestSpec:
    """One unit test as written in YAML."""

    name: str
    model: str
    path: str  # the YAML file, relative to the project
    location: Location
    model_location: Location
    description: str = ""
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    given: list[GivenInput] = field(default_factory=list)
    expect: Rows | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    macros: dict[str, Any] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    this: Rows | None = None
    partition: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    fixture_files: list[Path] = field(default_factory=list)

    @property
    def is_incremental(self) -> bool | None:
        """``overrides.macros.is_incremental`` when given (None: not given)."""
        value = self.macros.get("is_incremental")
        return None if value is None else bool(value)


def read_unit_tests(
    doc: YamlDoc, props: PropertiesFile, root: Path, test_paths: list[str]
) -> tuple[list[UnitTestSpec], list[UserError]]:
    """The unit tests of one property file, and the errors found reading them."""
    specs: list[UnitTestSpec] = []
    errors: list[UserError] = []
    for i, entry in enumerate(props.unit_tests):
        try:
            spec = _read_one(doc, entry, ("unit_tests", i), root, test_paths)
        except UserError as err:
            errors.append(err)
            continue
        if spec is not None:
            specs.append(spec)
    return specs, errors


def _read_one(
    doc: YamlDoc, entry: UnitTestProperties, kp: KeyPath, root: Path, test_paths: list[str]
) -> UnitTestSpec | None:
    if not entry.config.enabled:
        return None
    if entry.versions is not None:
        raise ConfigError(
            f"unit test '{entry.name}': 'versions' (versioned models) is not supported by orch",
            location=doc.location((*kp, "versions")),
            hint="Remove 'versions:'; orch has one version of each model",
        )
    fixtures: list[Path] = []
    given: list[GivenInput] = []
    seen: dict[str, int] = {}
    for j, item in enumerate(entry.given):
        where = (*kp, "given", j)
        if item.input is None:
            raise ConfigError(
                f"unit test '{entry.name}': given input {j + 1} has no 'input'",
                location=doc.location(where),
                hint="Name what the rows stand for: input: ref('model'), source('src', 'table'), "
                "or the model's name",
            )
        kind, name, project = _parse_input(item.input, doc.location((*where, "input")))
        if name in seen:
            raise ConfigError(
                f"unit test '{entry.name}': '{item.input}' is given twice",
                location=doc.location((*where, "input")),
                hint="Give each input once, with all its rows",
            )
        seen[name] = j
        rows = _read_rows(doc, item, where, root, test_paths, fixtures, f"given '{item.input}'")
        given.append(GivenInput(item.input, kind, name, project, rows, doc.location(where)))
    expect = _read_rows(doc, entry.expect, (*kp, "expect"), root, test_paths, fixtures, "expect")
    if entry.expect.input is not None:
        raise ConfigError(
            f"unit test '{entry.name}': 'expect' takes no 'input'",
            location=doc.location((*kp, "expect", "input")),
            hint="expect holds the rows the model returns; inputs go under 'given'",
        )
    this = None
    if entry.this is not None:
        if "this" in seen:
            raise ConfigError(
                f"unit test '{entry.name}': both 'this:' and a given 'input: this'",
                location=doc.location((*kp, "this")),
                hint="Use 'this:' (expect the table after the run) or 'input: this' (dbt: expect "
                "the rows the model returns), not both",
            )
        this = _read_rows(doc, entry.this, (*kp, "this"), root, test_paths, fixtures, "this")
    overrides = entry.overrides
    tags = [entry.config.tags] if isinstance(entry.config.tags, str) else entry.config.tags
    return UnitTestSpec(
        name=entry.name,
        model=entry.model,
        path=doc.path,
        location=doc.location((*kp, "name")),
        model_location=doc.location((*kp, "model")),
        description=entry.description,
        tags=list(tags),
        meta=dict(entry.config.meta),
        given=given,
        expect=expect,
        vars=dict(overrides.vars),
        macros=dict(overrides.macros),
        env_vars={k: str(v) for k, v in overrides.env_vars.items()},
        this=this,
        partition=str(entry.partition) if entry.partition is not None else None,
        resources=dict(entry.resources),
        fixture_files=fixtures,
    )


def _parse_input(text: str, location: Location) -> tuple[InputKind, str, str | None]:
    """``ref('x')`` / ``ref('p', 'x')`` / ``source('s', 't')`` / ``this`` / a bare name."""
    value = text.strip()
    if value == "this":
        return "this", "this", None
    match = _REF.match(value)
    if match:
        return "ref", match.group(2), match.group(1)
    match = _SOURCE.match(value)
    if match:
        return "source", f"{match.group(1)}.{match.group(2)}", None
    if _BARE.match(value):
        return "name", value, None
    raise ConfigError(
        f"given input '{text}' is not ref('name'), source('source', 'table'), this, "
        "or a model's name",
        location=location,
        hint="Write input: ref('stg_orders'), input: source('raw', 'orders') or input: stg_orders",
    )


def _read_rows(
    doc: YamlDoc,
    item: UnitTestRowsProperties,
    kp: KeyPath,
    root: Path,
    test_paths: list[str],
    fixtures: list[Path],
    what: str,
) -> Rows:
    location = doc.location(kp)
    if item.fixture is not None and item.rows is not None:
        raise ConfigError(
            f"{what}: both 'rows' and 'fixture'",
            location=doc.location((*kp, "fixture")),
            hint="Give the rows inline or in a fixture file, not both",
        )
    if item.fixture is not None:
        if item.format == "dict":
            raise ConfigError(
                f"{what}: a fixture file needs format: csv or format: sql",
                location=doc.location((*kp, "fixture")),
                hint="Add format: csv (a .csv file) or format: sql (a .sql file)",
            )
        path, shown = _find_fixture(item.fixture, item.format, root, test_paths, doc, kp)
        fixtures.append(path)
        text = read_user_text(path, shown)
        if item.format == "sql":
            return Rows("sql", [], [], Location(shown, 1), sql=text, ordered=item.ordered,
                        fixture=item.fixture)  # fmt: skip
        return replace(_csv_rows(text, shown, 1, item.ordered), fixture=item.fixture)
    if item.format == "sql":
        if not isinstance(item.rows, str):
            raise ConfigError(
                f"{what}: format: sql needs 'rows' to be a SQL query (text)",
                location=doc.location((*kp, "rows")),
                hint="Write rows: |  followed by a select statement, or use fixture: NAME",
            )
        return Rows("sql", [], [], doc.location((*kp, "rows")), sql=item.rows, ordered=item.ordered)
    if item.format == "csv":
        if not isinstance(item.rows, str):
            raise ConfigError(
                f"{what}: format: csv needs 'rows' to be CSV text (a header line, then rows)",
                location=doc.location((*kp, "rows")),
                hint="Write rows: |  followed by lines like id,name",
            )
        line, _ = doc.positions.get((*kp, "rows"), (location.line or 1, 1))
        offset = line + 1 if item.rows.endswith("\n") else line  # a block scalar: next line
        return _csv_rows(item.rows, doc.path, offset, item.ordered, kp=(*kp, "rows"), doc=doc)
    return _dict_rows(doc, item.rows, (*kp, "rows"), what, item.ordered, location)


def _find_fixture(
    name: str, fmt: str, root: Path, test_paths: list[str], doc: YamlDoc, kp: KeyPath
) -> tuple[Path, str]:
    suffix = ".csv" if fmt == "csv" else ".sql"
    stem = name[: -len(suffix)] if name.endswith(suffix) else name
    tried: list[str] = []
    known: list[str] = []
    for folder in test_paths:
        base = root / folder / FIXTURE_FOLDER
        for candidate in (base / f"{stem}{suffix}", *base.rglob(f"{stem}{suffix}")):
            if candidate.is_file():
                return candidate, candidate.relative_to(root).as_posix()
        tried.append(f"{folder}/{FIXTURE_FOLDER}/{stem}{suffix}")
        if base.is_dir():
            known += [p.stem for p in base.rglob(f"*{suffix}")]
    raise ConfigError(
        f"fixture '{name}' not found (looked for {', '.join(tried)})",
        location=doc.location((*kp, "fixture")),
        hint=suggestion(stem, known)
        or f"Create the file {tried[0] if tried else 'tests/fixtures/' + stem + suffix}",
    )


def _csv_rows(
    text: str,
    shown: str,
    first_line: int,
    ordered: bool,
    *,
    kp: KeyPath = (),
    doc: YamlDoc | None = None,
) -> Rows:
    reader = csv.reader(io.StringIO(text.strip("\n"), newline=""))
    lines = [(reader.line_num, row) for row in reader if row]
    if not lines:
        where = doc.location(kp) if doc is not None else Location(shown, first_line)
        raise ConfigError(
            "the CSV rows are empty: a header line with the column names is needed",
            location=where,
            hint="Write the header (id,name) then one line per row",
        )
    header_line, header = lines[0]
    columns = [c.strip() for c in header]
    for i, col in enumerate(columns, 1):
        if not col:
            raise ConfigError(
                f"column {i} of the CSV header has no name",
                location=Location(shown, first_line + header_line - 1),
                hint="Name every column in the header line",
            )
    rows: list[dict[str, Any]] = []
    locations: list[Location] = []
    for line, values in lines[1:]:
        loc = Location(shown, first_line + line - 1)
        if len(values) != len(columns):
            raise ConfigError(
                f"this CSV row has {len(values)} values, the header has {len(columns)} columns",
                location=loc,
                hint="Give every row one value per column (quote values holding a comma)",
            )
        rows.append({c: (v.strip() or None) for c, v in zip(columns, values, strict=True)})
        locations.append(loc)
    return Rows(
        "csv", rows, columns, Location(shown, first_line), locations, typed=False, ordered=ordered
    )


def _dict_rows(
    doc: YamlDoc, raw: Any, kp: KeyPath, what: str, ordered: bool, location: Location
) -> Rows:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(
            f"{what}: 'rows' must be a list of rows, each a mapping of column: value",
            location=doc.location(kp),
            hint="Write rows:\n  - {id: 1, name: a}\n(or format: csv / format: sql)",
        )
    rows: list[dict[str, Any]] = []
    locations: list[Location] = []
    columns: dict[str, None] = {}
    for i, row in enumerate(raw):
        loc = doc.location((*kp, i))
        if not isinstance(row, dict):
            raise ConfigError(
                f"{what}: row {i + 1} is not a mapping of column: value "
                f"(got {type(row).__name__} {row!r})",
                location=loc,
                hint="Write each row as {column: value, ...}",
            )
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{what}: row {i + 1} has a column name that is not text: {key!r}",
                    location=loc,
                    hint="Quote the column name",
                )
            clean[key] = _plain_value(value, doc.location((*kp, i, key)), what, i, key)
            columns.setdefault(key, None)
        rows.append(clean)
        locations.append(loc)
    return Rows("dict", rows, list(columns), location, locations, ordered=ordered)


def _plain_value(value: Any, location: Location, what: str, row: int, column: str) -> Any:
    """A YAML value as JSON can store it (dates and times as ISO text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise ConfigError(
        f"{what}: row {row + 1}, column '{column}': a {type(value).__name__} is not a cell value",
        location=location,
        hint="Give a number, text, true/false, a date or null (lists and mappings are not "
        "supported in dict rows; use format: sql)",
    )
