"""dbt projects: what reading one needs beyond the shared loader (seed types, unsupported features).

A folder with ``dbt_project.yml`` (and no ``orch_project.yml``) is loaded by
:mod:`orch.load.project` with ``flavor="dbt"``. This module holds the dbt-only rules:

- :func:`infer_seed_types`: the column types ``dbt seed`` would create. dbt reads a CSV with agate
  (types tried in order number, date, datetime, boolean, text; ``''`` and ``'null'`` are NULL) and
  the adapter maps them: an integer column is ``INTEGER``, a number with decimals ``DOUBLE``
  (Snowflake ``NUMBER(38,d)``), a column with no values at all (header-only file) ``INTEGER``.
- :func:`check_unsupported`: features orch does not implement (packages installed by ``dbt deps``,
  model versions, custom materializations, adapter-specific macros...) stop the load with ONE
  :class:`UnsupportedFeatureError` naming the file, the line and the feature, instead of a
  confusing error later or a silently different warehouse.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    UnknownReferenceError,
    UnsupportedFeatureError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.yamldoc import YamlDoc, load_yaml

if TYPE_CHECKING:
    from collections.abc import Callable

    from orch.load.project import Project
    from orch.load.rendering import Renderer

# Values dbt's agate type tester reads as NULL (compared after strip + lower).
NULL_VALUES = ("", "null")
# The same for pyarrow's CSV reader, which compares exactly.
CSV_NULL_VALUES = ["", "null", "NULL", "Null"]
# dbt-duckdb loads a seed's rows with DuckDB's own ``COPY ... FROM 'file.csv'`` (its default
# ``fast`` seed path) into the table typed by agate: only an empty field is NULL there, the text
# 'null' stays text (verified against dbt-core 1.11 / dbt-duckdb 1.11).
DUCKDB_CSV_NULL_VALUES = [""]


def csv_null_values(target_type: str) -> list[str]:
    """The CSV texts ``dbt seed`` stores as NULL on ``target_type``."""
    return DUCKDB_CSV_NULL_VALUES if target_type == "duckdb" else CSV_NULL_VALUES


_TYPE_NAMES = {
    # agate type -> (duckdb and most others, snowflake)
    "integer": ("INTEGER", "NUMBER(38,0)"),
    "date": ("DATE", "DATE"),
    "datetime": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "boolean": ("BOOLEAN", "BOOLEAN"),
    "text": ("VARCHAR", "VARCHAR"),
}
_INT32 = 2**31 - 1


# --------------------------------------------------------------------------- seeds


def infer_seed_types(path: Path, target_type: str) -> dict[str, str]:
    """The type dbt would give each column of the CSV file ``path`` on ``target_type``.

    Integers beyond 32 bits get ``BIGINT`` (dbt would fail to insert them into ``INTEGER``).
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    snowflake = target_type == "snowflake"
    types: dict[str, str] = {}
    for i, name in enumerate(header):
        values = [r[i].strip() for r in body if i < len(r)]
        values = [v for v in values if v.lower() not in NULL_VALUES]
        types[name] = _column_type(values, snowflake)
    return types


def _column_type(values: list[str], snowflake: bool) -> str:
    kind = "integer" if not values else _agate_kind(values)
    if kind == "number":
        decimals = max(_decimals(v) for v in values)
        if decimals:
            return f"NUMBER(38,{decimals})" if snowflake else "DOUBLE"
        big = any(abs(int(Decimal(v))) > _INT32 for v in values)
        return "NUMBER(38,0)" if snowflake else ("BIGINT" if big else "INTEGER")
    return _TYPE_NAMES[kind][1 if snowflake else 0]


def _agate_kind(values: list[str]) -> str:
    for kind, test in (
        ("number", _is_number),
        ("date", _is_date),
        ("datetime", _is_datetime),
        ("boolean", lambda v: v.lower() in ("true", "false")),
    ):
        if all(test(v) for v in values):
            return kind
    return "text"


def _is_number(value: str) -> bool:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return False
    return number.is_finite()


def _decimals(value: str) -> int:
    exponent = Decimal(value).normalize().as_tuple().exponent
    digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    # agate counts the written decimals ("1.50" has 2), not the normalized ones
    if "." in value and "e" not in value.lower():
        digits = max(digits, len(value.split(".", 1)[1]))
    return digits


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- test names


def generic_test_name(
    raw: Any, target: str, column: str | None, args: dict[str, Any], source: bool
) -> str:
    """dbt's name for a generic test from YAML: the full name of dbt's
    ``synthesize_generic_test_names`` (the one in ``unique_id``, without the hash suffix).

    ``<test>_<target>_<arg values>``: the values of the arguments sorted by argument name
    (``column_name`` included, lists flattened, each cleaned to ``[0-9a-zA-Z_]``), joined by
    ``__``; case kept. A source table's test is ``source_<test>_<source>_<table>_...``.
    E.g. ``accepted_values_dim_customers_order_count__False__0__1__2__3`` (``quote: false``),
    ``relationships_stg_orders_customer_id__customer_id__ref_stg_customers_``.
    """
    if isinstance(raw, dict):
        body = {k: v for k, v in raw.items() if k != "config"}
        test = str(body.get("test_name") or next(iter(body)))
    else:
        test = str(raw)
    test = test.replace(".", "_")  # a namespaced test: dbt_utils_expression_is_true
    values = {**args, "column_name": column} if column is not None else dict(args)
    flat: list[str] = []
    for key in sorted(values):
        value = values[key]
        if isinstance(value, dict):
            flat.extend(str(v) for v in value.values())
        elif isinstance(value, (list, tuple)):
            flat.extend(str(v) for v in value)
        else:
            flat.append(str(value))
    unique = "__".join(re.sub("[^0-9a-zA-Z_]+", "_", part) for part in flat)
    prefix = "source_" if source else ""
    return f"{prefix}{test}_{target.replace('.', '_')}_{unique}"


# --------------------------------------------------------------------------- schema names


class _NodeInfo(dict[str, Any]):
    """``node`` as a generate_schema_name macro sees it: ``node.name``, ``node.resource_type``..."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def schema_namer(project: Project, renderer: Renderer) -> Callable[[str | None, str], str] | None:
    """The project's own ``generate_schema_name`` macro as a function, or None without one.

    dbt calls it with the ``+schema`` setting (None when unset) and the node; whatever it renders,
    stripped, is the schema.
    """
    macro = renderer.env.globals.get("generate_schema_name")
    if not callable(macro):
        return None

    def name_schema(custom: str | None, name: str) -> str:
        is_seed = name in project.seeds
        path = (project.seeds[name].path if is_seed else project.models[name].path
                if name in project.models else "")  # fmt: skip
        node = _NodeInfo(
            name=name,
            resource_type="seed" if is_seed else "model",
            unique_id=f"{'seed' if is_seed else 'model'}.{project.name}.{name}",
            package_name=project.name,
            path=path,
            original_file_path=path,
            fqn=[project.name, *path.split("/")[1:-1], name],
        )
        try:
            return str(macro(custom, node)).strip()
        except Exception as err:  # the user's macro failed: say which and where
            raise UnsupportedFeatureError(
                f"generate_schema_name() failed for '{name}': {err}",
                location=Location(_macro_file(project, "generate_schema_name")),
                hint="orch calls it with (custom_schema_name, node); node offers name, "
                "resource_type, unique_id, fqn, path",
            ) from None

    return name_schema


def _macro_file(project: Project, macro: str) -> str:
    for path, text in sorted(project.macro_files.items()):
        if re.search(rf"macro\s+{macro}\s*\(", text):
            return path
    return "macros/"


# --------------------------------------------------------------------------- unsupported features

_PROPERTY_KEYS: dict[str, str] = {}  # YAML keys refused outright (none today)
# dbt resources that build nothing (they describe uses of the models, or the semantic layer that
# MetricFlow queries): read, checked, kept in the manifest; never a reason to refuse a project.
DESCRIPTIVE_KEYS = ("exposures", "metrics", "semantic_models", "saved_queries")
EXPOSURE_TYPES = ("dashboard", "notebook", "analysis", "ml", "application")
_REF_CALL = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)\s*$""")
_SOURCE_CALL = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SNAPSHOT_BLOCK = re.compile(r"{%-?\s*snapshot\s+\w+")
_DISPATCH = re.compile(r"adapter\s*\.\s*dispatch\s*\(")
_MATERIALIZATION = re.compile(r"{%-?\s*materialization\s+\w+")
_ADAPTER_MACRO = re.compile(r"{%-?\s*macro\s+((?:default|duckdb|snowflake|postgres|bigquery|"
                            r"redshift|databricks|spark)__\w+)\s*\(")  # fmt: skip
_NAME_OVERRIDES = ("generate_alias_name", "generate_database_name")
_MACRO_DEF = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")


def check_unsupported(project: Project) -> None:
    """Raise one UnsupportedFeatureError for the first dbt feature orch cannot honour."""
    root = project.root
    packages = _declared_packages(root)
    for path in _feature_files(project):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        _check_file(rel, path.suffix, text, packages, project)


def read_descriptive(project: Project) -> dict[str, dict[str, dict[str, Any]]]:
    """Exposures, metrics, semantic models and saved queries of the YAML files, checked.

    Each entry needs a ``name``; an exposure needs a known ``type`` and an ``owner``, and its
    ``depends_on`` (like a semantic model's ``model``) must name assets of the project. Returns
    ``{key: {name: {..., "path": file, "depends_on": [asset names]}}}``.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in DESCRIPTIVE_KEYS}
    errors: list[UserError] = []
    for path in sorted(project.yaml_files):
        rel = path.relative_to(project.root).as_posix()
        doc = load_yaml(path, rel)
        if not isinstance(doc.data, dict):
            continue
        for key in DESCRIPTIVE_KEYS:
            entries = doc.data.get(key) or []
            if not isinstance(entries, list):
                errors.append(ConfigError(f"'{key}:' must be a list", location=doc.location((key,)),
                                          hint=f"Write {key}:\n  - name: ..."))  # fmt: skip
                continue
            for i, entry in enumerate(entries):
                try:
                    item = _descriptive_entry(project, doc, key, i, entry)
                except UserError as err:
                    errors.append(err)
                    continue
                if item["name"] in out[key]:
                    errors.append(DuplicateNameError(
                        f"{key[:-1].replace('_', ' ')} '{item['name']}' is defined twice: in "
                        f"{out[key][item['name']]['path']} and {rel}",
                        location=doc.location((key, i, "name")), hint="Keep one"))  # fmt: skip
                    continue
                out[key][item["name"]] = item
    raise_collected(errors)
    return out


def _descriptive_entry(
    project: Project, doc: YamlDoc, key: str, i: int, entry: Any
) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"each entry of '{key}:' needs a name", location=doc.location((key, i)),
                          hint="Add name: <identifier>")  # fmt: skip
    item: dict[str, Any] = {"name": entry["name"], "path": doc.path, "depends_on": []}
    refs: list[tuple[str, tuple[Any, ...]]] = []
    if key == "exposures":
        kind = entry.get("type")
        if kind not in EXPOSURE_TYPES:
            raise ConfigError(
                f"exposure '{entry['name']}' has type {kind!r}",
                location=doc.location((key, i, "type") if "type" in entry else (key, i)),
                hint=f"Use one of {', '.join(EXPOSURE_TYPES)}")  # fmt: skip
        owner = entry.get("owner")
        if not isinstance(owner, dict) or not (owner.get("name") or owner.get("email")):
            raise ConfigError(
                f"exposure '{entry['name']}' needs an owner with a name or an email",
                location=doc.location((key, i)),
                hint="Add owner: {name: ..., email: ...}",
            )
        item.update(type=kind, owner=owner, label=entry.get("label") or "",
                    url=entry.get("url") or "", maturity=entry.get("maturity") or "",
                    description=entry.get("description") or "")  # fmt: skip
        refs = [(str(r), (key, i, "depends_on", j))
                for j, r in enumerate(entry.get("depends_on") or [])]  # fmt: skip
    elif key == "semantic_models" and entry.get("model") is not None:
        refs = [(str(entry["model"]), (key, i, "model"))]
    for text, key_path in refs:
        item["depends_on"].append(_asset_of(project, doc, text, key_path))
    return item


def _asset_of(project: Project, doc: YamlDoc, text: str, key_path: tuple[Any, ...]) -> str:
    ref, src = _REF_CALL.match(text), _SOURCE_CALL.match(text)
    name = (ref.group(2) or ref.group(1)) if ref else (f"{src.group(1)}.{src.group(2)}"
                                                       if src else None)  # fmt: skip
    known = [*project.models, *project.seeds, *project.sources]
    if name is None or name not in known:
        raise UnknownReferenceError(
            f"{text!r} is not a model, seed or source of the project",
            location=doc.location(key_path),
            hint=(suggestion(name, known, closest=True) if name else None)
            or "Write ref('model') or source('source', 'table')",
        )
    return name


def _feature_files(project: Project) -> list[Path]:
    files = [m.abs_path for m in project.models.values() if m.kind == "model"]
    files += [project.root / p for p in project.macro_files]
    files += [project.root / p for p in project.check_files.values()]
    for folder in (*project.config.model_paths, *project.config.seed_paths,
                   *project.config.test_paths, *project.config.macro_paths):  # fmt: skip
        base = project.root / folder
        if base.is_dir():
            files += [p for p in base.rglob("*") if p.suffix in (".yml", ".yaml")]
    return sorted(set(files))


def _check_file(
    rel: str, suffix: str, text: str, packages: dict[str, str], project: Project
) -> None:
    if suffix in (".yml", ".yaml"):
        doc = load_yaml(Path(project.root / rel), rel)
        if isinstance(doc.data, dict):
            for i, entry in enumerate(doc.data.get("models") or []):
                if isinstance(entry, dict) and entry.get("versions"):
                    raise _unsupported(
                        doc.location(("models", i, "versions")),
                        f"model versions ('versions:' of '{entry.get('name')}')",
                        "orch would not resolve the _v<N> relations as dbt does; remove "
                        "'versions:' (one model per file) to build with orch",
                    )
            for key, feature in _PROPERTY_KEYS.items():
                if doc.data.get(key):
                    raise _unsupported(
                        doc.location((key,)), f"dbt {feature} ('{key}:')",
                        "Remove the block from this file (keep it in a file orch does not read) "
                        "to build with orch",
                    )  # fmt: skip
        _check_packages(rel, text, packages)
        return
    if suffix == ".py":  # dbt Python models: orch.load.dbt_python
        return
    for pattern, feature, hint in (
        (_SNAPSHOT_BLOCK, "a {% snapshot %} block in a model file",
         "Move it to a file under snapshot-paths (snapshots/ by default)"),
        (_MATERIALIZATION, "custom materializations ({% materialization %})",
         "Use view, table, incremental or ephemeral"),
        (_DISPATCH, "adapter.dispatch()",
         "Call the implementation macro directly; orch has one implementation per macro name"),
        (_ADAPTER_MACRO, "adapter-specific macros (<adapter>__name), used through dispatch",
         "Rename the macro without the adapter prefix and call it directly"),
    ):  # fmt: skip
        match = pattern.search(text)
        if match:
            raise _unsupported(_at(rel, text, match.start()), feature, hint)
    for match in _MACRO_DEF.finditer(text):
        if match.group(1) in _NAME_OVERRIDES:
            raise _unsupported(
                _at(rel, text, match.start()),
                f"overriding {match.group(1)}()",
                "Set alias/database in config() or the project file instead "
                "(generate_schema_name overrides are supported)",
            )
    _check_packages(rel, text, packages)


def _check_packages(rel: str, text: str, packages: dict[str, str]) -> None:
    for name, declared_in in packages.items():
        match = re.search(rf"(?<![\w.]){re.escape(name)}\s*\.\s*\w+", text)
        if match:
            raise _unsupported(
                _at(rel, text, match.start()),
                f"macros or tests of the package '{name}' (installed by 'dbt deps' from "
                f"{declared_in})",
                "orch does not install dbt packages: copy the macros you use into macros/, or "
                "replace the tests with orch's built-in checks (expression, row_count, "
                "unique_combination)",
            )


def _declared_packages(root: Path) -> dict[str, str]:
    """Short names of the packages packages.yml / dependencies.yml declare."""
    names: dict[str, str] = {}
    for filename in ("packages.yml", "dependencies.yml"):
        path = root / filename
        if not path.is_file():
            continue
        data: Any = load_yaml(path, filename).data
        for entry in (data or {}).get("packages") or [] if isinstance(data, dict) else []:
            if not isinstance(entry, dict):
                continue
            spec = entry.get("package") or entry.get("git") or entry.get("local") or ""
            short = str(spec).rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            short = short.replace("-", "_")
            if short:
                names[short] = filename
    return names


def _at(rel: str, text: str, offset: int) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(rel, line, col)


def _unsupported(location: Location, feature: str, hint: str) -> UnsupportedFeatureError:
    message = f"{feature}: not supported by orch"
    return UnsupportedFeatureError(message, location=location, hint=hint)
