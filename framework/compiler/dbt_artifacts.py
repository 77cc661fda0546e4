"""dbt's own ``manifest.json`` (schema v12, as dbt-core 1.11 writes it) for a dbt project.

dbt tooling (dbt-docs, Elementary, Lightdash, ``--state`` comparisons) reads
``target/manifest.json`` in dbt's schema; orch's own manifest therefore moves beside it
(``target/orch_manifest.json``, see :mod:`orch.compiler.artifacts`) for a dbt project. The nodes
are written from orch's manifest: models, seeds, snapshots, tests (orch's checks), sources, with
their ``depends_on``, ``refs``, config, columns and compiled SQL; the macros as dbt lists them
(:mod:`orch.compiler.dbt_macros`). What ``dbt ls -s state:modified`` compares is written as dbt
writes it (``raw_code``, ``unrendered_config``, ``fqn``, a seed's checksum, each macro's
``macro_sql``), so an unchanged project lists nothing against orch's artifacts. Docs, metrics...
are written empty. Light on purpose (no sqlglot/Jinja).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.compiler.dbt_macros import MacroIndex, dbt_macros, package_of
from orch.config import MODEL_CONFIG_KEYS
from orch.load.dbt import where_subquery
from orch.load.dbt_versions import version_of
from orch.manifest import CheckNode, Manifest, Node

if TYPE_CHECKING:
    from orch.load.project import Project
    from orch.load.unit_tests import Rows, UnitTestSpec

DBT_MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
DBT_VERSION = "1.11.0"  # the dbt-core whose artifact schemas these follow
_TEST_SEVERITY = {"warn": "WARN", "error": "ERROR"}


def dbt_manifest(manifest: Manifest, project: Project) -> dict[str, Any]:
    """The manifest as dbt writes it."""
    database = _database(manifest, project)
    nodes: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, Any]] = {}
    ids = {name: node.unique_id for name, node in manifest.nodes.items()}
    macros, index = dbt_macros(project)
    for node in manifest.nodes.values():
        if node.resource_type == "source":
            sources[node.unique_id] = _source(node, project, database)
        elif node.resource_type in ("model", "seed"):
            nodes[node.unique_id] = _model(node, project, database, ids, index)
    unused = sorted(set(project.sources) - set(manifest.nodes))
    if unused:  # dbt lists every declared source, read or not
        from orch.compiler.settings import ModelSettings, target_dialect
        from orch.compiler.sources import source_node

        dialect = target_dialect(project)
        settings = ModelSettings(project, dialect)
        for name in unused:
            node = source_node(project, settings, name, dialect)
            sources[node.unique_id] = _source(node, project, database)
    for check in manifest.checks.values():
        if check.kind in ("builtin", "generic", "singular"):
            test = _test(check, project, database, ids, index)
            nodes[test["unique_id"]] = test
    compiled = {c.unique_id for c in manifest.checks.values() if c.kind == "unit"}
    unit_tests = {
        uid: _unit_test(spec, project, ids)
        for spec in project.unit_tests
        if (uid := f"unit_test.{project.name}.{spec.model}.{spec.name}") in compiled
    }
    source_ids = {f"{s['source_name']}.{s['name']}": uid for uid, s in sources.items()}
    exposures = {
        exposure["unique_id"]: exposure
        for item in manifest.exposures.values()
        if (exposure := _exposure(item, project, {**ids, **source_ids})) is not None
    }
    parent_map: dict[str, list[str]] = {uid: [] for uid in [*nodes, *sources, *exposures]}
    child_map: dict[str, list[str]] = {uid: [] for uid in [*nodes, *sources, *exposures]}
    for uid, entry in [*nodes.items(), *exposures.items()]:
        for parent in entry["depends_on"].get("nodes", []):
            parent_map[uid].append(parent)
            child_map.setdefault(parent, []).append(uid)
    return {
        "metadata": {
            "dbt_schema_version": DBT_MANIFEST_SCHEMA,
            "dbt_version": DBT_VERSION,
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "invocation_id": str(uuid.uuid4()),
            "env": {},
            "project_name": project.name,
            "project_id": hashlib.md5(project.name.encode()).hexdigest(),
            "user_id": None,
            "send_anonymous_usage_stats": False,
            "adapter_type": project.target.type,
        },
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "docs": {},
        "exposures": exposures,
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": {k: sorted(v) for k, v in parent_map.items()},
        "child_map": {k: sorted(v) for k, v in child_map.items()},
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": unit_tests,
    }


def write_dbt_manifest(manifest: Manifest, project: Project, path: Path) -> None:
    """Write :func:`dbt_manifest` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dbt_manifest(manifest, project), indent=1), encoding="utf-8")


def _database(manifest: Manifest, project: Project) -> str:
    """dbt-duckdb names the database after the file (``shop.duckdb`` -> ``shop``)."""
    if manifest.project.database:
        return manifest.project.database
    raw = getattr(project.target, "path", None)
    if isinstance(raw, str) and raw and not raw.startswith(":memory:"):
        return Path(raw).stem
    return "memory"


def _fqn(package: str, original: str, name: str) -> list[str]:
    parts = original.split("/")
    return [package, *parts[1:-1], name]


def _columns(node: Node, declared: list[str] | None = None) -> dict[str, Any]:
    """The node's columns; ``declared``: only these (dbt lists the columns its YAML names)."""
    names = list(node.columns) if declared is None else declared
    by_lower = {c.lower(): c for c in node.columns}
    out = {}
    for name in names:
        column = node.columns.get(name) or node.columns.get(by_lower.get(name.lower(), ""))
        out[name] = {
            "name": name,
            "description": column.description if column else "",
            "meta": dict(column.meta) if column else {},
            "data_type": column.data_type if column else None,
            "constraints": [],
            "quote": None,
            "config": {"meta": dict(column.meta) if column else {},
                       "tags": list(column.tags) if column else []},
            "tags": list(column.tags) if column else [],
            "granularity": None,
            "doc_blocks": [],
        }  # fmt: skip
    return out


def _declared_columns(node: Node, project: Project) -> list[str]:
    """The columns the node's YAML entry names (dbt's ``columns``)."""
    props = project.properties.get(node.name)
    if props is None:
        found = version_of(project.model_versions, node.name)
        props = project.properties.get(found[0]) if found else None
    return [c.name for c in props.entry.columns] if props is not None else []


def _time_spine(node: Node, project: Project) -> dict[str, Any] | None:
    """The model's MetricFlow ``time_spine:`` as dbt records it (``custom_granularities``
    always listed); None without one (dbt-project-evaluator rejects models by it)."""
    props = project.properties.get(node.name)
    spine = getattr(props.entry, "time_spine", None) if props is not None else None
    if not spine:
        return None
    return {**spine, "custom_granularities": list(spine.get("custom_granularities") or [])}


def _common(
    uid: str, name: str, resource_type: str, package: str, original: str, database: str
) -> dict[str, Any]:
    return {
        "database": database,
        "name": name,
        "resource_type": resource_type,
        "package_name": package,
        "path": original.split("/", 1)[-1] if "/" in original else original,
        "original_file_path": original,
        "unique_id": uid,
        "fqn": _fqn(package, original, name),
    }


def _model(
    node: Node, project: Project, database: str, ids: dict[str, str], index: MacroIndex
) -> dict[str, Any]:
    package, original = package_of(node.path or "", project)
    snapshot = node.unique_id.startswith("snapshot.")
    config = node.config
    relation = node.relation
    schema = relation.schema_name if relation else project.target.schema_
    alias = relation.identifier if relation else node.name
    db = (relation.database if relation else None) or database
    out = _common(node.unique_id, node.name, node.resource_type, package, original, database)
    materialized = "seed" if node.resource_type == "seed" else config.materialized
    # dbt reads a model's file stripped (same_body); a {% snapshot %} block's text as it is
    block = snapshot and original.endswith(".sql")
    raw_code = node.raw_code if block else node.raw_code.strip()
    out.update(
        database=db,
        schema=schema,
        alias=alias,
        # dbt hashes the file's text stripped (a seed: its bytes)
        checksum={"name": "sha256", "checksum": _checksum(node, project)},
        config={
            "enabled": True,
            "alias": config.alias,
            "schema": config.schema_,
            "database": config.database,
            "tags": list(config.tags),
            "meta": dict(config.meta),
            "materialized": materialized,
            "unique_key": config.unique_key,
            "on_schema_change": str(config.extra.get("on_schema_change") or "ignore"),
            "persist_docs": dict(config.extra.get("persist_docs") or {}),
            "post-hook": [],
            "pre-hook": [],
            "quoting": {},
            "column_types": dict(config.column_types),
            "docs": {"show": True, "node_color": None},
            "contract": {"enforced": config.contract, "alias_types": True},
            "access": str(config.extra.get("access") or "protected"),
            "group": config.group,
            "grants": {},
            "lookback": 1,
            "on_configuration_change": "apply",
            "packages": [],
        },
        tags=list(config.tags),
        description=node.description,
        columns=_columns(node, _declared_columns(node, project)),
        meta=dict(config.meta),
        docs={"show": True, "node_color": None},
        group=config.group,
        patch_path=_patch_path(node.patch_path, project),
        relation_name=None if relation is None else f'"{db}"."{schema}"."{alias}"',
        raw_code=raw_code,
        language=node.language or "sql",
        refs=[
            _ref_entry(p, project)
            for p in node.depends_on
            if p in ids and not ids[p].startswith("source.")
        ],  # fmt: skip
        sources=[
            [p.split(".", 1)[0], p.split(".", 1)[1]]
            for p in node.depends_on
            if p in ids and ids[p].startswith("source.")
        ],  # fmt: skip
        metrics=[],
        depends_on={
            "macros": [] if node.language == "python" else index.calls(raw_code, package),
            "nodes": [ids[p] for p in node.depends_on if p in ids],
        },
        compiled_path=None,
        compiled=bool(node.compiled_code),
        compiled_code=node.compiled_code or None,
        extra_ctes_injected=True,
        extra_ctes=[],
        contract={
            "enforced": config.contract,
            "alias_types": True,
            "checksum": _contract_checksum(node, project),
        },  # fmt: skip
        access=str(config.extra.get("access") or "protected"),
        constraints=[],
        primary_key=[],
        functions=[],
        version=None,
        latest_version=None,
        deprecation_date=node.deprecation_date,
    )
    out["unrendered_config"] = _unrendered_config(node, project)
    out["doc_blocks"] = []
    if node.resource_type == "model":
        out["time_spine"] = _time_spine(node, project)
    if block:  # dbt: [package, folders..., file, snapshot]
        out["fqn"] = [*_fqn(package, original, original.rsplit("/", 1)[-1][:-4]), node.name]
    found = version_of(project.model_versions, node.name)
    if found is not None:  # a model version: dbt names the node after the model
        out.update(name=found[0], version=_number(found[1]), latest_version=_number(found[2]),
                   fqn=[*out["fqn"][:-1], found[0], f"v{found[1]}"])  # fmt: skip
    if node.resource_type == "seed":
        for key in ("refs", "sources", "metrics", "compiled", "compiled_code", "extra_ctes",
                    "extra_ctes_injected", "contract", "access", "constraints", "version",
                    "latest_version", "deprecation_date", "compiled_path", "language",
                    "primary_key", "functions"):  # fmt: skip
            out.pop(key, None)
        out["depends_on"] = {"macros": []}
        out["root_path"] = str(project.root)
        out["config"]["delimiter"] = str(config.extra.get("delimiter") or ",")
    return out


def _patch_path(patch_path: str | None, project: Project) -> str | None:
    """dbt's ``<package>://<path in that package>`` of the YAML file that describes a node."""
    if not patch_path:
        return None
    package, rel = package_of(patch_path, project)
    return f"{package}://{rel}"


def _contract_checksum(node: Node, project: Project) -> str | None:
    """dbt's ``contract.checksum`` of an enforced contract (``ModelNode.build_contract_checksum``):
    the sha256 of each YAML column's name and data_type, sorted by name, then the
    materialization for a table. None when not enforced, or when constraints are declared (dbt
    writes their Python reprs, which orch does not reproduce)."""
    if not node.config.contract:
        return None
    props = project.properties.get(node.name)
    if props is None:
        return None
    columns = sorted(props.entry.columns, key=lambda c: c.name)
    if any(c.constraints for c in columns) or getattr(props.entry, "constraints", None):
        return None
    state = "".join(f"|{c.name}{c.data_type}[]" for c in columns)
    if node.config.materialized in ("table", "incremental"):
        state += f"{node.config.materialized}[]"
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _number(text: str) -> Any:
    """A version as dbt writes it in the manifest: a number when it reads as one."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _ref_entry(asset: str, project: Project) -> dict[str, Any]:
    found = version_of(project.model_versions, asset)
    if found is None:
        return {"name": asset, "package": None, "version": None}
    # the latest version is what an unpinned ref() gives: dbt records no version for it
    version = None if found[1] == found[2] else _number(found[1])
    return {"name": found[0], "package": None, "version": version}


_CONFIG_CALL = re.compile(r"{{-?\s*config\((.*?)\)\s*-?}}", re.S)


def _unrendered_config(node: Node, project: Project) -> dict[str, Any]:
    """dbt's ``unrendered_config``: the settings written for the node, as written — the
    project file's folder settings (a package's own dbt_project.yml, then the root project's
    block for the package), the YAML ``config:``, the file's ``config()`` call — which
    ``dbt ls -s state:modified`` compares (a key set to its default still counts as set)."""
    out: dict[str, Any] = {}
    path = node.path or ""
    if node.resource_type not in ("model", "seed"):
        return out
    package, rel = package_of(path, project)
    kind = ("snapshots" if node.unique_id.startswith("snapshot.") else
            "seeds" if node.resource_type == "seed" else "models")  # fmt: skip
    installed = project.packages.get(package)
    if installed is not None and kind != "snapshots":
        out.update(_folder_settings(getattr(installed, kind) or {}, package, rel))
    out.update(_folder_settings(getattr(project.config, kind) or {}, package, rel))
    props = project.properties.get(node.name)
    if props is not None:
        out.update(props.entry.config)
    if node.resource_type == "model" and node.language != "python":
        for match in _CONFIG_CALL.finditer(node.raw_code):
            out.update(_literal_kwargs(match.group(1)))
    # dbt spells the hook keys with a hyphen, however they were written
    return {_HOOK_KEYS.get(k, k): v for k, v in out.items()}


_HOOK_KEYS = {"post_hook": "post-hook", "pre_hook": "pre-hook"}


def _folder_settings(tree: dict[str, Any], package: str, path: str) -> dict[str, Any]:
    """The ``+key`` settings of the project file's folders above ``path`` (relative to its
    package), as written (dbt's unrendered values: ``+tags: marts`` stays a string): the
    top level's, then the package's block and its folders, nested folders winning."""
    out: dict[str, Any] = {}
    parts = path.split("/")[1:-1]
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    _settings_of(tree, out)
    node: Any = tree
    for part in [package, *parts, stem]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        _settings_of(node, out)
    return out


def _settings_of(level: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in level.items():
        if not isinstance(key, str):
            continue
        if key.startswith("+"):
            out[key[1:]] = value
        elif key.replace("-", "_") in MODEL_CONFIG_KEYS and (
            not isinstance(value, dict) or key in MODEL_CONFIG_KEYS
        ):  # a setting without the '+' (dbt reads it as one, as orch.load.project does)
            out[key] = value


def _literal_kwargs(text: str) -> dict[str, Any]:
    """The literal keyword arguments of a ``config(...)`` call's text ({} when not literal)."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        return {}
    out: dict[str, Any] = {}
    if isinstance(call, ast.Call):
        for kw in call.keywords:
            try:
                out[str(kw.arg)] = _literal(kw.value)
            except ValueError:
                continue
    return out


def _literal(value: ast.expr) -> Any:
    """A Python literal; ``after_commit('sql')`` / ``before_begin('sql')`` as the text dbt's
    macros render for them (the hook config's JSON, with the macros' whitespace)."""
    if isinstance(value, (ast.List, ast.Tuple)):
        return [_literal(v) for v in value.elts]
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("after_commit", "before_begin")
        and len(value.args) == 1
        and not value.keywords
    ):
        sql = ast.literal_eval(value.args[0])
        if isinstance(sql, str):
            return "\n    \n    " + json.dumps({"sql": sql, "transaction": False}) + "\n\n"
    return ast.literal_eval(value)


def _checksum(node: Node, project: Project) -> str:
    if node.resource_type == "seed" and node.path:
        try:  # dbt: the file's contents, stripped
            data = (project.root / node.path).read_bytes()
            return hashlib.sha256(data.strip()).hexdigest()
        except (OSError, UnicodeDecodeError):
            pass
    return hashlib.sha256(node.raw_code.strip().encode()).hexdigest()


# the generic tests dbt-core ships (macro.dbt.test_<name>)
_DBT_GENERIC_TESTS = ("unique", "not_null", "accepted_values", "relationships")


def _test(
    check: CheckNode, project: Project, database: str, ids: dict[str, str], index: MacroIndex
) -> dict[str, Any]:
    uid = "test." + check.unique_id.split(".", 1)[-1]
    package, original = package_of(check.path or "", project)
    original = original or "models"
    dbt_name = uid.split(".")[2]  # dbt's name, which two tests may share (see checks.py)
    out = _common(uid, dbt_name, "test", package, original, database)
    config = dict(check.dbt_config)
    raw_code = _test_raw_code(check, project, config)
    if check.kind == "singular":
        macros = index.calls(raw_code, package)
    else:  # the test's macro, and get_where_subquery, called while dbt renders it
        namespace, _, test = check.check_type.rpartition(".")
        macro = index.resolve(f"test_{test}", namespace or package)
        if macro is None and not namespace and test in _DBT_GENERIC_TESTS:
            macro = f"macro.dbt.test_{test}"  # dbt's own, also where dbt-core is not installed
        # dbt renders no use of its own not_null and unique while parsing (a shortcut)
        shortcut = macro in ("macro.dbt.test_not_null", "macro.dbt.test_unique")
        macros = [m for m in (macro, None if shortcut else "macro.dbt.get_where_subquery") if m]
    out.update(
        schema=f"{project.target.schema_}_dbt_test__audit",
        alias=str(config.get("alias") or check.name),
        checksum={"name": "none", "checksum": ""},
        config={
            "enabled": True,
            "alias": config.get("alias"),
            "schema": "dbt_test__audit",
            "tags": list(check.tags),
            "meta": {},
            "materialized": "test",
            "severity": _TEST_SEVERITY[check.severity],
            "store_failures": check.store_failures or None,
            "where": check.where,
            "fail_calc": check.fail_calc or "count(*)",
            "warn_if": check.dbt_threshold("warn_if"),
            "error_if": check.dbt_threshold("error_if"),
            "database": None,
            "group": config.get("group"),
            "limit": config.get("limit"),
            "store_failures_as": config.get("store_failures_as"),
        },
        unrendered_config=config
        if check.dbt_unrendered_config is None
        else dict(check.dbt_unrendered_config),
        tags=list(check.tags),
        description=check.description,
        columns={},
        meta={},
        raw_code=raw_code,
        language="sql",
        refs=[
            {"name": p, "package": None, "version": None}
            for p in check.depends_on
            if p in ids and not ids[p].startswith("source.")
        ],  # fmt: skip
        sources=[],
        metrics=[],
        depends_on={"macros": macros, "nodes": [ids[p] for p in check.depends_on if p in ids]},
        compiled=bool(check.sql),
        compiled_code=check.sql or None,
        extra_ctes_injected=True,
        extra_ctes=[],
        contract={"enforced": False, "alias_types": True, "checksum": None},
        column_name=check.column,
        attached_node=ids.get(check.asset) if check.asset else None,
        docs={"show": True, "node_color": None},
        functions=[],
        group=config.get("group"),  # dbt lists it on every test (None: no group)
        patch_path=None,
        relation_name=None,
        doc_blocks=[],
    )
    if check.kind != "singular":
        out["test_metadata"] = {
            "name": check.check_type.rsplit(".", 1)[-1],
            "kwargs": {
                k: v
                for k, v in {**check.args, "column_name": check.column}.items()
                if v is not None
            }  # fmt: skip
            | ({"model": where_subquery(project, check.asset)} if check.asset else {}),
            "namespace": check.check_type.rsplit(".", 1)[0] if "." in check.check_type else None,
        }
        out["path"] = f"{out['name']}.sql"  # dbt's: the test's name, as if it were a file
        if check.asset in project.sources:
            out["file_key_name"] = f"sources.{project.sources[check.asset].source.name}"
        elif check.asset:
            found = version_of(project.model_versions, check.asset)
            out["file_key_name"] = f"models.{found[0] if found else check.asset}"
    return out


def _unit_test(spec: UnitTestSpec, project: Project, ids: dict[str, str]) -> dict[str, Any]:
    """A unit test as dbt lists it (``unit_tests``: its model, given rows and expected rows)."""
    uid = f"unit_test.{project.name}.{spec.model}.{spec.name}"
    package, original = package_of(spec.path or "", project)

    def fixture(rows: Rows | None) -> dict[str, Any]:
        if rows is None:
            return {"rows": None, "format": "dict", "fixture": None}
        body = rows.sql if rows.format == "sql" else rows.rows
        return {"rows": body, "format": rows.format, "fixture": None}

    out = _common(uid, spec.name, "unit_test", package, original, "")
    del out["database"]
    out.update(
        fqn=[*_fqn(package, original, spec.model), spec.name],
        model=spec.model,
        given=[{"input": g.written, **fixture(g.data)} for g in spec.given],
        expect=fixture(spec.expect),
        description=spec.description,
        depends_on={"macros": [], "nodes": [ids[spec.model]] if spec.model in ids else []},
        config={"tags": list(spec.tags), "meta": dict(spec.meta), "enabled": True},
        schema=project.target.schema_,
        checksum=_unit_test_checksum(spec),
    )
    return out


_FORMATS = {"dict": "Dict", "csv": "CSV", "sql": "SQL"}


def _unit_test_checksum(spec: UnitTestSpec) -> str:
    """dbt's ``UnitTestDefinition.checksum`` (what ``state:modified`` compares for a unit
    test): the sha256 of the text dbt's ``build_unit_test_checksum`` writes, the ``repr()`` of
    its model, versions, given and expect fixtures and overrides, then the rows of each given
    read from a fixture file."""

    def rows_of(rows: Rows) -> Any:
        return (rows.sql or "").strip() if rows.format == "sql" else [dict(r) for r in rows.rows]

    def fixture(kind: str, rows: Rows | None, written: str | None = None) -> str:
        if rows is None:
            body, form, name = None, "dict", None
        else:
            body, form, name = rows_of(rows), rows.format, rows.fixture
        shown = f"<UnitTestFormat.{_FORMATS[form]}: '{form}'>"
        head = f"input={written!r}, " if written is not None else ""
        return f"{kind}({head}rows={body!r}, format={shown}, fixture={name!r})"

    given = "[" + ", ".join(fixture("UnitTestInputFixture", g.data, g.written)
                            for g in spec.given) + "]"  # fmt: skip
    expect = fixture("UnitTestOutputFixture", spec.expect)
    overrides = (f"UnitTestOverrides(macros={spec.macros!r}, vars={spec.vars!r}, "
                 f"env_vars={spec.env_vars!r})"
                 if spec.macros or spec.vars or spec.env_vars else "None")  # fmt: skip
    data = f"{spec.model}-None-{given}-{expect}-{overrides}"
    for g in spec.given:
        if g.data.fixture:
            data += f"-{rows_of(g.data)!r}"
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _test_raw_code(check: CheckNode, project: Project, config: dict[str, Any]) -> str:
    """The ``raw_code`` dbt gives a test (``same_body`` compares it): a singular test's file,
    stripped; a generic test's call of its macro, then its YAML config as a ``config()`` call
    (dbt's ``TestBuilder.build_raw_code``)."""
    if check.kind == "singular":
        try:
            return (project.root / (check.path or "")).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return ""
    namespace, _, test = check.check_type.rpartition(".")
    macro = f"{namespace}.test_{test}" if namespace else f"test_{test}"
    settings = ",".join(f"{key}={_config_value(value)}" for key, value in config.items())
    suffix = f"{{{{ config({settings}) }}}}" if settings else ""
    return f"{{{{ {macro}(**_dbt_generic_test_kwargs) }}}}{suffix}"


def _config_value(value: Any) -> str:
    """A value in dbt's generated ``config()`` call: a string double-quoted, else ``str()``."""
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return str(value)


_NO_FRESHNESS: dict[str, Any] = {"warn_after": {"count": None, "period": None},
                 "error_after": {"count": None, "period": None}, "filter": None}  # fmt: skip


def _source(node: Node, project: Project, database: str) -> dict[str, Any]:
    relation = node.relation
    source_name, table = node.source_name or "", node.source_table or node.name
    package, original = package_of(node.patch_path or "", project)
    declared = project.sources.get(node.name)
    out = _common(node.unique_id, table, "source", package, original or "models", database)
    folders = original.split("/")[1:-1]  # the YAML file's folders below its model path
    freshness = _freshness(node)
    out.update(
        database=(relation.database if relation else None) or database,
        schema=relation.schema_name if relation else project.target.schema_,
        path=original or "models",
        fqn=[package, *folders, source_name, table],
        source_name=source_name,
        source_description=declared.source.description if declared else "",
        loader=(declared.source.loader or "") if declared else "",
        identifier=relation.identifier if relation else table,
        quoting={"database": None, "schema": None, "identifier": None, "column": None},
        loaded_at_field=node.source_freshness.loaded_at_field if node.source_freshness else None,
        freshness=freshness or dict(_NO_FRESHNESS),
        columns=_columns(node, [c.name for c in declared.table.columns] if declared else None),
        meta={},
        source_meta={},
        tags=list(node.config.tags),
        config={"enabled": True, "freshness": freshness or dict(_NO_FRESHNESS)},
        patch_path=None,
        unrendered_config=_source_unrendered_config(node, project, freshness),
        unrendered_database=declared.source.database if declared else None,
        unrendered_schema=declared.source.schema_ if declared else None,
        relation_name=None if relation is None else
        f'"{relation.database or database}"."{relation.schema_name}"."{relation.identifier}"',
        # the table's own (the source's is source_description)
        description=(declared.table.description or "") if declared else node.description,
    )  # fmt: skip
    return out


def _exposure(item: dict[str, Any], project: Project, ids: dict[str, str]) -> dict[str, Any] | None:
    """An exposure as dbt's manifest writes it (``graph.exposures`` reads the same), from
    orch's record of it (orch.load.dbt.read_descriptive); None for another kind of entry."""
    if "type" not in item:
        return None
    package, original = package_of(str(item.get("path") or ""), project)
    written = [str(a) for a in item.get("depends_on", [])]
    sources = list(dict.fromkeys(a for a in written if a in project.sources))
    refs = [a for a in written if a not in project.sources]
    parents = [ids[a] for a in dict.fromkeys([*sources, *refs]) if a in ids]
    tags = list(item.get("tags") or [])
    return {
        "name": item["name"],
        "resource_type": "exposure",
        "package_name": package,
        "path": original.split("/", 1)[-1],
        "original_file_path": original,
        "unique_id": f"exposure.{package}.{item['name']}",
        "fqn": _fqn(package, original, item["name"]),
        "type": item.get("type"),
        "owner": {"email": None, "name": None, **dict(item.get("owner") or {})},
        "description": item.get("description") or "",
        "label": item.get("label") or None,
        "maturity": item.get("maturity") or None,
        "meta": dict(item.get("meta") or {}),
        "tags": tags,
        "config": {"enabled": True, "tags": tags, "meta": dict(item.get("meta") or {})},
        "unrendered_config": dict(item.get("config") or {}),  # the config: written
        "url": item.get("url") or None,
        "depends_on": {"macros": [], "nodes": parents},
        "refs": [{"name": r, "package": None, "version": None} for r in refs],
        "sources": [
            [project.sources[s].source.name, project.sources[s].table.name] for s in sources
        ],  # fmt: skip
        "metrics": [],
    }


def _freshness(node: Node) -> dict[str, Any] | None:
    """The source table's freshness rule as dbt writes it; None when none is set."""
    rule = node.source_freshness
    if rule is None or (rule.warn_after is None and rule.error_after is None):
        return None
    out: dict[str, Any] = dict(_NO_FRESHNESS)
    for key in ("warn_after", "error_after"):
        after = getattr(rule, key)
        if after is not None:
            out[key] = {"count": after.count, "period": after.period}
    out["filter"] = rule.filter
    return out


def _source_unrendered_config(
    node: Node, project: Project, freshness: dict[str, Any] | None
) -> dict[str, Any]:
    """dbt's ``unrendered_config`` of a source table: the source's and the table's
    ``config:``, the freshness when one is set, ``loaded_at_field``/``loaded_at_query`` and the
    merged ``meta`` and ``tags`` (dbt-core's ``SourcePatcher._generate_source_config``)."""
    declared = project.sources.get(node.name)
    if declared is None:
        return {}
    source, table = declared.source, declared.table
    table_config = dict((table.model_extra or {}).get("config") or {})
    out: dict[str, Any] = {**source.config, **table_config}
    if freshness is not None:
        out["freshness"] = freshness
    out["loaded_at_field"] = table.loaded_at_field or source.loaded_at_field
    out["loaded_at_query"] = None
    out["meta"] = {**source.meta, **(source.config.get("meta") or {}), **table.meta,
                   **(table_config.get("meta") or {})}  # fmt: skip
    tags = [*source.tags, *(source.config.get("tags") or []), *table.tags,
            *(table_config.get("tags") or [])]  # fmt: skip
    out["tags"] = sorted(set(tags))
    return out
