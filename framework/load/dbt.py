"""dbt projects: what reading one needs beyond the shared loader (test names, unsupported features).

A folder with ``dbt_project.yml`` (and no ``orch_project.yml``) is loaded by
:mod:`orch.load.project` with ``flavor="dbt"``. This module holds the dbt-only rules:

- :func:`check_unsupported`: features orch does not implement (custom materializations...)
  stop the load with ONE :class:`UnsupportedFeatureError` naming the file, the line and the
  feature, instead of a confusing error later or a silently different warehouse.
- :func:`check_flags`: ``flags:`` of dbt_project.yml.

Packages: :mod:`orch.load.dbt_packages`; versions: :mod:`orch.load.dbt_versions`; seed types:
:mod:`orch.load.dbt_seeds`.
"""

from __future__ import annotations

import hashlib
import re
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
from orch.load import dbt_packages, dbt_versions
from orch.yamldoc import YamlDoc, load_yaml

if TYPE_CHECKING:
    from collections.abc import Callable

    from orch.load.project import Project
    from orch.load.rendering import Renderer

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
    identifier, unique = _generic_test_parts(raw, target, column, args, source)
    return f"{identifier}_{unique}"


def generic_test_alias(
    raw: Any, target: str, column: str | None, args: dict[str, Any], source: bool
) -> str | None:
    """The ``alias`` dbt configures for a generic test whose full name is 64 characters or
    more (the first 30 of ``<test>_<target>``, ``_``, the md5 of the full name); else None."""
    identifier, unique = _generic_test_parts(raw, target, column, args, source)
    full = f"{identifier}_{unique}"
    if len(full) < 64:
        return None
    return f"{identifier[:30]}_{hashlib.md5(full.encode()).hexdigest()}"


def _generic_test_parts(
    raw: Any, target: str, column: str | None, args: dict[str, Any], source: bool
) -> tuple[str, str]:
    """(``<test>_<target>``, the joined argument values) of :func:`generic_test_name`."""
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
    return f"{prefix}{test}_{target.replace('.', '_')}", unique


# a generic test's settings dbt reads from its YAML entry, in the order dbt's TestBuilder
# records them (its CONFIG_ARGS); any other ``config:`` key follows in its written order
DBT_TEST_CONFIG_ARGS = ("severity", "tags", "enabled", "where", "limit", "warn_if", "error_if",
                        "fail_calc", "store_failures", "store_failures_as", "meta", "database",
                        "schema", "alias")  # fmt: skip


def generic_test_config(written: dict[str, Any], alias: str | None) -> dict[str, Any]:
    """A YAML generic test's config as dbt records it (its ``unrendered_config``, and the
    ``{{ config(...) }}`` of its ``raw_code``): the settings written, in dbt's order, with the
    ``alias`` of a long name (:func:`generic_test_alias`) unless one is written."""
    out = {k: written[k] for k in DBT_TEST_CONFIG_ARGS if written.get(k) is not None}
    skipped = ("name", "description")  # dbt takes these as the test's own, not config
    out.update({k: v for k, v in written.items()
                if k not in out and k not in skipped and v is not None})  # fmt: skip
    if alias is not None and "alias" not in out:
        out["alias"] = alias
    return out


def generic_test_hash(
    name: str, test: str, kwargs: dict[str, Any], model: str, namespace: str | None = None
) -> str:
    """The suffix dbt gives every generic test's ``unique_id`` (``test.<proj>.<name>.<hash>``):
    the last 10 hex digits of md5(name + repr(test_metadata)), the metadata's mappings sorted
    and its scalars as text (dbt-core's ``create_test_node``). ``kwargs``: the arguments as
    written (with ``column_name``); ``model``: the ``get_where_subquery(...)`` text of the
    tested node (:func:`where_subquery`)."""

    def hashable(data: Any) -> Any:
        if isinstance(data, dict):
            return {str(k): hashable(data[k]) for k in sorted(data)}
        if isinstance(data, (list, tuple)):
            return [hashable(v) for v in data]
        return str(data)

    metadata = {"name": test, "kwargs": {**kwargs, "model": model}, "namespace": namespace}
    return hashlib.md5((name + repr(hashable(metadata))).encode()).hexdigest()[-10:]


def where_subquery(project: Project, asset: str) -> str:
    """dbt's ``model`` argument of a generic test on ``asset``, as its parser writes it."""
    if asset in project.sources:
        table = project.sources[asset]
        return f"{{{{ get_where_subquery(source('{table.source.name}', '{table.table.name}')) }}}}"
    found = dbt_versions.version_of(project.model_versions, asset)
    if found is not None:
        return f"{{{{ get_where_subquery(ref('{found[0]}', version='{found[1]}')) }}}}"
    return f"{{{{ get_where_subquery(ref('{asset}')) }}}}"


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
        owner = project.seeds[name] if is_seed else project.models.get(name)
        package = project.packages.get(owner.package) if owner and owner.package else None
        fqn = (dbt_packages.fqn_of(package, path) if package is not None
               else [project.name, *path.split("/")[1:-1], name])  # fmt: skip
        package_name = package.name if package is not None else project.name
        node = _NodeInfo(
            name=name,
            resource_type="seed" if is_seed else "model",
            unique_id=f"{'seed' if is_seed else 'model'}.{package_name}.{name}",
            package_name=package_name,
            path=path,
            original_file_path=path,
            fqn=fqn,
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


# --------------------------------------------------------------------------- flags

# dbt's ``flags:`` (dbt-core 1.11's ProjectFlags) that change nothing orch does: logging,
# printing, parsing and usage-stats settings, and behaviour flags whose subject orch does one
# fixed way (docs/dbt.md lists how). They are accepted and have no effect.
NO_EFFECT_FLAGS = frozenset({
    "cache_selected_only", "debug", "indirect_selection", "log_format", "log_format_file",
    "log_level", "log_level_file", "partial_parse", "populate_cache", "printer_width",
    "send_anonymous_usage_stats", "static_parser", "use_colors", "use_colors_file",
    "use_experimental_parser", "version_check", "write_json",
    "require_batched_execution_for_custom_microbatch_strategy",
    "require_event_names_in_deprecations",
    "require_explicit_package_overrides_for_builtin_materializations",
    "require_resource_names_without_spaces", "source_freshness_run_project_hooks",
    "skip_nodes_if_on_run_start_fails", "state_modified_compare_more_unrendered_values",
    "state_modified_compare_vars", "require_yaml_configuration_for_mf_time_spines",
    "require_nested_cumulative_type_params", "validate_macro_args",
    "require_all_warnings_handled_by_warn_error", "require_generic_test_arguments_property",
    "require_unique_project_resource_names", "require_ref_searches_node_package_before_root",
})  # fmt: skip
# flags that change what a dbt run does, and how to get the same from orch
_COMMAND_LINE_FLAGS = {
    "fail_fast": "pass --fail-fast to orch build / orch test",
    "warn_error": "orch has no warn-as-error mode: make the tests severity: error",
    "warn_error_options": "orch has no warn-as-error mode: make the tests severity: error",
}
_STRING_FLAGS = frozenset({"indirect_selection", "log_format", "log_format_file", "log_level",
                           "log_level_file"})  # fmt: skip


def check_flags(flags: Any, doc: YamlDoc) -> list[str]:
    """Check ``flags:`` of dbt_project.yml; returns a warning for each flag dbt does not know.

    A flag orch cannot honour (``fail_fast: true``...) is an error naming what to do instead;
    an unknown one is accepted as dbt accepts it, with a warning (it is most likely a typo).
    """
    if not flags:
        return []
    if not isinstance(flags, dict):
        raise ConfigError("'flags:' must be a mapping of flag names to values",
                          location=doc.location(("flags",)),
                          hint="e.g. flags:\n  send_anonymous_usage_stats: false")  # fmt: skip
    warnings = []
    for name, value in flags.items():
        where = doc.location(("flags", name))
        if name in _COMMAND_LINE_FLAGS:
            if value in (None, False, {}, []):
                continue
            if name == "warn_error_options" and _only_quiets(value):
                continue  # silence/warn/exclude lists only mute or keep warnings
            raise _unsupported(where, f"the dbt flag '{name}: {value}'", _COMMAND_LINE_FLAGS[name])
        if name not in NO_EFFECT_FLAGS:
            close = suggestion(str(name), [*NO_EFFECT_FLAGS, *_COMMAND_LINE_FLAGS], closest=True)
            warnings.append(f"{where}: '{name}' is not a flag dbt knows; it has no effect"
                            + (f" ({close})" if close else ""))  # fmt: skip
            continue
        wanted: type = str if name in _STRING_FLAGS else int if name == "printer_width" else bool
        if value is not None and not isinstance(value, wanted):
            raise ConfigError(f"the flag '{name}' must be a {wanted.__name__}, not {value!r}",
                              location=where, hint=f"Write {name}: "
                              + ("true" if wanted is bool else "<value>"))  # fmt: skip
    return warnings


def _only_quiets(options: Any) -> bool:
    """dbt's ``warn_error_options`` that turn no warning into an error: no ``include``/``error``
    entries (``silence``, ``warn`` and ``exclude`` only mute a warning or keep it one)."""
    if not isinstance(options, dict):
        return False
    return all(not options.get(key) for key in ("include", "error"))


# --------------------------------------------------------------------------- unsupported features

_PROPERTY_KEYS: dict[str, str] = {}  # YAML keys refused outright (none today)
# dbt resources that build nothing (they describe uses of the models, or the semantic layer that
# MetricFlow queries): read, checked, kept in the manifest; never a reason to refuse a project.
DESCRIPTIVE_KEYS = ("exposures", "metrics", "semantic_models", "saved_queries")
EXPOSURE_TYPES = ("dashboard", "notebook", "analysis", "ml", "application")
# what a metric, a semantic model or a saved query is built on, kept for the docs site
_SEMANTIC_KEPT = {
    "metrics": ("type", "type_params"),
    "semantic_models": ("measures",),
    "saved_queries": ("query_params",),
}
_REF_CALL = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)\s*$""")
_SOURCE_CALL = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")
_SNAPSHOT_BLOCK = re.compile(r"{%-?\s*snapshot\s+\w+")
_MATERIALIZATION = re.compile(r"{%-?\s*materialization\s+\w+")
_NAME_OVERRIDES = ("generate_alias_name", "generate_database_name")
_MACRO_DEF = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")


def check_unsupported(project: Project) -> None:
    """Raise one UnsupportedFeatureError for the first dbt feature orch cannot honour."""
    root = project.root
    for path in _feature_files(project):
        rel = path.relative_to(root).as_posix()
        if dbt_packages.package_of(project.packages, rel) is not None and path.suffix == ".sql":
            continue  # a package's macros: what orch cannot run fails where a model uses it
        text = path.read_text(encoding="utf-8", errors="replace")
        _check_file(rel, path.suffix, text, project)


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
        config = _mapping(entry.get("config"))
        tags = [*_listed(entry.get("tags")), *_listed(config.get("tags"))]
        meta = {**_mapping(config.get("meta")), **_mapping(entry.get("meta"))}
        item.update(type=kind, owner=owner, label=entry.get("label") or "",
                    url=entry.get("url") or "", maturity=entry.get("maturity") or "",
                    description=entry.get("description") or "",
                    tags=sorted({str(t) for t in tags}), meta=meta,
                    config=config)  # fmt: skip
        refs = [(str(r), (key, i, "depends_on", j))
                for j, r in enumerate(entry.get("depends_on") or [])]  # fmt: skip
    else:  # what the docs site lists: its words, and what it is built on
        item.update({k: entry[k] for k in _SEMANTIC_KEPT.get(key, ()) if entry.get(k)})
        if isinstance(item.get("measures"), list):  # their names: what a metric names
            measures = [m for m in item["measures"] if isinstance(m, dict)]
            item["measures"] = [m["name"] for m in measures if isinstance(m.get("name"), str)]
        item.update(label=entry.get("label") or "", description=entry.get("description") or "")
        if key == "semantic_models" and entry.get("model") is not None:
            refs = [(str(entry["model"]), (key, i, "model"))]
    for text, key_path in refs:
        item["depends_on"].append(_asset_of(project, doc, text, key_path))
    return item


def _listed(value: Any) -> list[Any]:
    """A YAML value that may be one item or a list, as a list."""
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def _mapping(value: Any) -> dict[str, Any]:
    """A YAML mapping as a dict; anything else as an empty one."""
    return dict(value) if isinstance(value, dict) else {}


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


def _check_file(rel: str, suffix: str, text: str, project: Project) -> None:
    if suffix in (".yml", ".yaml"):
        doc = load_yaml(Path(project.root / rel), rel)
        if isinstance(doc.data, dict):
            for key, feature in _PROPERTY_KEYS.items():
                if doc.data.get(key):
                    raise _unsupported(
                        doc.location((key,)), f"dbt {feature} ('{key}:')",
                        "Remove the block from this file (keep it in a file orch does not read) "
                        "to build with orch",
                    )  # fmt: skip
        return
    if suffix == ".py":  # dbt Python models: orch.load.dbt_python
        return
    for pattern, feature, hint in (
        (_SNAPSHOT_BLOCK, "a {% snapshot %} block in a model file",
         "Move it to a file under snapshot-paths (snapshots/ by default)"),
        (_MATERIALIZATION, "custom materializations ({% materialization %})",
         "Use view, table, incremental or ephemeral"),
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


def _at(rel: str, text: str, offset: int) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(rel, line, col)


def _unsupported(location: Location, feature: str, hint: str) -> UnsupportedFeatureError:
    message = f"{feature}: not supported by orch"
    return UnsupportedFeatureError(message, location=location, hint=hint)
