"""Python assets in the front half: import the model files a load needs, and compile them to Nodes.

A full load imports every ``models/**/*.py``. A scoped load (``parse_models`` with names) imports
only the Python files in the ancestry: a file is found by its stem (the usual case: the asset is
named like its file); when a name is neither a model file, a seed nor a source, every Python file
is imported to find it. SQL models upstream of a Python asset are then parsed in turn, until the
ancestry is closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orch.assets import build_config, build_resource, config_fingerprint
from orch.compiler.graph import AssetGraph
from orch.compiler.settings import (
    PYTHON_FINGERPRINT_KEYS,
    ModelSettings,
    fingerprint_of,
    settings_fingerprint,
)
from orch.config import ModelConfig
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    ProjectError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load.cache import ResultCache
from orch.load.parsing import ParsedModel, ParseElsewhere, parse_models
from orch.load.project import Project
from orch.load.python_files import PythonAsset, collect_assets, find_project_class, is_module_path
from orch.load.rendering import Renderer
from orch.manifest import CheckNode, ColumnInfo, Node, PythonInfo, RelationInfo
from orch.storage import (
    BUILTIN_IO_MANAGERS,
    BUILTIN_OUTPUT_CONFIG,
    TABLE_IO_MANAGERS,
    IOManager,
    builtin_of,
    declared_type,
    stored_outside_warehouse,
)
from orch.yamldoc import load_yaml

# Settings that change what a build writes (as for SQL models; descriptive ones don't count).


def load_models(
    project: Project,
    renderer: Renderer,
    cache: ResultCache,
    names: set[str] | None,
    elsewhere: ParseElsewhere | None = None,
) -> tuple[dict[str, ParsedModel], dict[str, PythonAsset]]:
    """Parse SQL models and import Python ones: all, or ``names`` and their ancestry
    (``elsewhere``: see :func:`orch.load.parsing.parse_models`)."""
    py_files = {n: f for n, f in project.models.items()
                if f.language == "python" and f.kind == "model"}  # fmt: skip
    parsed = parse_models(project, renderer, cache, names, elsewhere)
    if not py_files:
        return parsed, {}
    if names is None:
        everything = _collect(project, sorted(py_files))
        _check_names(project, everything)
        return parsed, everything
    assets: dict[str, PythonAsset] = {}
    imported: set[str] = set()
    wanted = set(names)
    while True:
        for model in parsed.values():
            wanted |= model.upstream_names()
        for a in assets.values():
            wanted |= set(a.upstream)
        known = set(project.models) | set(project.seeds) | set(project.sources) | set(assets)
        stems = {n for n in wanted if n in py_files and n not in imported}
        if any(n not in known for n in wanted) and len(imported) < len(py_files):
            stems = set(py_files) - imported  # a name we cannot place: import everything
        if not stems:
            break
        imported |= stems
        assets.update(_collect(project, sorted(stems)))
        missing = {u for a in assets.values() for u in a.upstream} - set(parsed) - set(assets)
        sql_needed = {n for n in missing if n in project.models and n not in py_files}
        if sql_needed:
            parsed.update(parse_models(project, renderer, cache, sql_needed | set(parsed)))
    _check_names(project, assets)
    return parsed, assets


def _collect(project: Project, stems: list[str]) -> dict[str, PythonAsset]:
    files = [(project.models[s].path, project.models[s].abs_path) for s in stems]
    errors: list[UserError] = []
    out: dict[str, PythonAsset] = {}
    for rel, abs_path in files:
        try:
            found = collect_assets([(rel, abs_path)])
        except UserError as err:
            errors.append(err)
            continue
        for name, a in found.items():
            if name in out:
                errors.append(
                    DuplicateNameError(
                        f"two Python assets are named '{name}': in {out[name].file.path} and {rel}",
                        location=a.location,
                        hint="Rename one (name= in @asset, or the function)",
                    )
                )
            out[name] = a
    raise_collected(errors)
    return out


def _check_names(project: Project, assets: dict[str, PythonAsset]) -> None:
    """A Python asset may not take the name of another file's model or of a seed."""
    errors: list[UserError] = []
    for name, a in assets.items():
        other = project.models.get(name)
        if other is not None and other.path != a.file.path and other.language == "sql":
            errors.append(
                DuplicateNameError(
                    f"two files define the asset '{name}': {other.path} and {a.file.path}",
                    location=a.location,
                    hint="Rename one of them",
                )
            )
        elif name in project.seeds:
            errors.append(
                DuplicateNameError(
                    f"the Python asset '{name}' has the name of the seed "
                    f"{project.seeds[name].path}",
                    location=a.location,
                    hint="Rename one of them",
                )
            )
    raise_collected(errors)


def check_upstream(project: Project, assets: dict[str, PythonAsset]) -> None:
    """Every parameter and ``deps`` entry must name a known asset."""
    known = [*project.models, *project.seeds, *project.sources, *assets]
    errors: list[UserError] = []
    for a in assets.values():
        for up in a.upstream:
            if up == a.name:
                errors.append(ProjectError(f"asset '{a.name}' reads itself", location=a.location))
            elif up not in known:
                kind = "deps entry" if up in a.spec.deps else "parameter"
                errors.append(
                    ProjectError(
                        f"asset '{a.name}': {kind} '{up}' is not a known asset",
                        location=a.location,
                        hint=suggestion(up, known, closest=True)
                        or "Parameters name upstream assets (models, seeds, sources); annotate "
                        "the context as AssetContext, a config as an orch.Config subclass and a "
                        "resource as an orch.Resource subclass",
                    )
                )
    raise_collected(errors)


def extra_assets(assets: dict[str, PythonAsset]) -> dict[str, list[str]]:
    """Python assets and their upstream names, for ``resolve_graph``."""
    return {name: a.upstream for name, a in assets.items()}


def compile_python(
    settings: ModelSettings,
    graph: AssetGraph,
    a: PythonAsset,
    nodes: Mapping[str, Node] | None = None,
) -> Node:
    """The manifest Node of a Python asset (config merged like a SQL model's).

    ``nodes``: the assets compiled so far (its upstream), to check what its inputs can load.
    """
    project = settings.project
    options = dict(a.spec.config)
    config, description, patch_path = settings.config_for(
        a.name, a.file.path, project.config.models, options
    )
    if config.materialized == "external":
        raise ConfigError(
            f"Python asset '{a.name}' cannot be materialized as external (that is for SQL models)",
            location=a.location,
            hint="Store a Python asset's table as files with io_manager='parquet'",
        )
    if config.materialized in ("view", "ephemeral"):
        if "materialized" in options:
            raise ConfigError(
                f"Python asset '{a.name}' cannot be materialized as a {config.materialized}",
                location=a.location,
                hint="Use materialized='table', 'incremental' or 'none'",
            )
        config = config.model_copy(update={"materialized": "table"})
    if a.spec.checks:
        config = config.model_copy(
            update={"extra": {**config.extra, "checks": list(a.spec.checks)}}
        )
    sig = a.signature
    io_manager = resolve_io_manager(project, a, config)
    check_io_manager_config(project, a, config, io_manager)
    check_inputs(a, nodes or {})
    run_config = None
    if sig.config_class is not None:
        run_config = build_config(sig.config_class, a.name, project.variables, a.location)
    validate_resources(project, a)
    columns = dict(settings.columns_for(a.name))
    for col, dtype in a.spec.columns.items():
        known = columns.get(col)
        columns[col] = ColumnInfo(
            name=col,
            data_type=dtype or (known.data_type if known else None),
            description=known.description if known else "",
            tags=known.tags if known else [],
            meta=known.meta if known else {},
        )
    relation = settings.relation_for(a.name, config)
    info = PythonInfo(
        module_path=a.file.path,
        function=a.spec.function,
        inputs=dict(sig.inputs),
        input_types=dict(sig.input_types),
        context_param=sig.context_param,
        config_param=sig.config_param,
        resource_params=dict(sig.resource_params),
        io_manager=io_manager,
        output_kind=sig.output_kind,
    )
    stored_with = (
        json.dumps(config.io_manager_config, sort_keys=True, default=str)
        if config.io_manager_config
        else ""
    )
    fingerprint = fingerprint_of(
        a.code_fingerprint,
        a.spec.config.get("code_version") or "",
        config_fingerprint(run_config),
        json.dumps(sorted((c, i.data_type) for c, i in columns.items())),
        settings_fingerprint(config, PYTHON_FINGERPRINT_KEYS),
        *([f"io_manager:{config.io_manager}"] if config.io_manager else []),  # where it is stored
        *([f"io_manager_config:{stored_with}"] if stored_with else []),  # how it is stored
    )
    return Node(
        name=a.name,
        unique_id=f"model.{project.name}.{a.name}",
        resource_type="model",
        language="python",
        path=a.file.path,
        patch_path=patch_path,
        raw_code=a.file.abs_path.read_text(encoding="utf-8"),
        uses_partition=config.partitioned_by is not None,
        relation=RelationInfo.from_relation(relation),
        config=config,
        depends_on=sorted(graph.dag.parents(a.name)),
        columns=columns,
        description=description or a.spec.description or "",
        fingerprint=fingerprint,
        python=info,
    )


def resolve_io_manager(project: Project, a: PythonAsset, config: ModelConfig) -> str | None:
    """The IO manager storing the asset's output: its setting (``io_manager=``, YAML, folder
    ``+io_manager``), else by its return annotation (a table: ``warehouse``; another object:
    ``objects``); None when only the returned value can tell (decided at run time).

    Raises ConfigError for an unknown name, or an annotation the IO manager cannot store.
    """
    name = config.io_manager
    kind = a.signature.output_kind
    declared = project.config.resources
    if config.materialized == "none":
        if name is not None and "io_manager" in a.spec.config:
            raise ConfigError(
                f"asset '{a.name}' is materialized='none' (it stores nothing) but names "
                f"io_manager='{name}'",
                location=a.location,
                hint="Remove materialized='none' to store its output, or remove io_manager",
            )
        return None
    if name is None:
        return {"object": "objects", "table": "warehouse"}.get(kind or "")
    if name not in BUILTIN_IO_MANAGERS and name not in declared:
        raise ConfigError(
            f"asset '{a.name}': unknown IO manager '{name}'",
            location=a.location,
            hint=suggestion(name, [*BUILTIN_IO_MANAGERS, *declared])
            or "Use a built-in ("
            + ", ".join(BUILTIN_IO_MANAGERS)
            + ") or declare it under 'resources:' with the type of an orch.IOManager subclass",
        )
    builtin = builtin_of(name, declared, project.target_name)
    if builtin is None:
        check_io_manager_type(project, name)
    if builtin in TABLE_IO_MANAGERS and kind == "object":
        raise ConfigError(
            f"asset '{a.name}' returns {a.signature.output_annotation} (its annotation), which "
            f"the IO manager '{name}' cannot store: it stores tables",
            location=a.location,
            hint="Return a polars/pandas DataFrame or a pyarrow Table, or use "
            "io_manager='objects' for other Python objects",
        )
    if config.materialized == "incremental" and builtin != "warehouse":
        raise ConfigError(
            f"asset '{a.name}' is incremental, which only the warehouse IO manager supports "
            f"(io_manager is '{name}')",
            location=a.location,
            hint="Use materialized='table' (partitioned_by= writes one file per partition), or "
            "io_manager='warehouse'",
        )
    return name


def check_inputs(a: PythonAsset, nodes: Mapping[str, Node]) -> None:
    """Each input must be loadable: not an asset that stores nothing, and an object input only
    from an upstream that stores objects. Raises ProjectError naming the parameter."""
    sig = a.signature
    for param, upstream in sig.inputs.items():
        up = nodes.get(upstream)
        if up is None:
            continue
        if up.language == "python" and up.materialized == "none":
            raise ProjectError(
                f"asset '{a.name}': parameter '{param}' reads '{upstream}', which is "
                "materialized='none' and stores nothing",
                location=a.location,
                hint=f"Use deps=['{upstream}'] to run after it without reading it, or store its "
                "output (remove materialized='none'; io_manager='objects' for a Python object)",
            )
        if sig.input_types.get(param) == "object" and up.python is None:
            raise ProjectError(
                f"asset '{a.name}': parameter '{param}' is annotated as a Python object, but "
                f"'{upstream}' is a table",
                location=a.location,
                hint="Annotate it as pl.DataFrame, pl.LazyFrame, pyarrow.Table or pandas.DataFrame",
            )


def check_io_manager_type(project: Project, name: str) -> None:
    """A declared IO manager whose type is a module path (``my_pkg.io:JsonLines``) must name an
    importable orch.IOManager subclass. Raises ConfigError at its ``type:`` in the project file
    (a bare class name is looked up among the model files' classes when the run needs it)."""
    decl = project.config.resources.get(name)
    text = declared_type(decl, project.target_name)
    if text is None or not isinstance(decl, Mapping):
        return
    if not is_module_path(text, project.root):
        return
    per_target = decl.get("targets")
    path: tuple[str | int, ...] = ("resources", name, "type")
    if isinstance(per_target, Mapping) and isinstance(per_target.get(project.target_name), Mapping):
        if "type" in per_target[project.target_name]:
            path = ("resources", name, "targets", project.target_name, "type")
    try:
        find_project_class(text, project.root, IOManager)
    except ConfigError as err:
        raise ConfigError(
            f"resource '{name}' (type: {text}): {err.message}",
            location=resource_location(project)(path),
            hint="Write the type as my_pkg.module:ClassName, a module of the project folder (or "
            "an installed package) defining an orch.IOManager subclass",
        ) from None


def check_io_manager_config(
    project: Project, a: PythonAsset, config: ModelConfig, io_manager: str | None
) -> None:
    """A built-in takes only its own ``io_manager_config`` keys (a project's IO manager reads
    whatever it is given). Raises ConfigError naming the asset and the keys it takes."""
    given = config.io_manager_config
    if not given:
        return
    if config.materialized == "none":
        raise ConfigError(
            f"asset '{a.name}' is materialized='none' (it stores nothing) but sets "
            "io_manager_config",
            location=a.location,
            hint="Remove io_manager_config",
        )
    name = io_manager or "warehouse"
    builtin = builtin_of(name, project.config.resources, project.target_name)
    if builtin is None or builtin not in BUILTIN_OUTPUT_CONFIG:
        return
    allowed = BUILTIN_OUTPUT_CONFIG[builtin]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ConfigError(
            f"asset '{a.name}': io_manager_config key(s) {', '.join(unknown)} are not settings of "
            f"the {builtin} IO manager"
            + (f" (it takes: {', '.join(allowed)})" if allowed else " (it takes none)"),
            location=a.location,
            hint=suggestion(unknown[0], list(allowed))
            or "Remove them, or use an IO manager of your own that reads OutputContext.config",
        )


def validate_resources(project: Project, a: PythonAsset) -> list[Any]:
    """Instantiate the asset's resources once at compile time: bad settings fail early (exit 2)."""
    out = []
    for name, cls in a.signature.resource_classes.items():
        out.append(
            build_resource(
                cls,
                name,
                project.config.resources,
                project.target_name,
                resource_location(project),
            )
        )
    return out


def resource_location(project: Project) -> Any:
    """A function giving the project file's location of a key path (for resource errors)."""

    def locate(path: tuple[str | int, ...]) -> Location | None:
        try:
            doc = load_yaml(project.root / project.project_file, project.project_file)
        except UserError:
            return Location(project.project_file)
        return doc.location(path)

    return locate


def python_check_nodes(
    project: Project, assets: dict[str, PythonAsset], nodes: Mapping[str, Node] | None = None
) -> dict[str, CheckNode]:
    """CheckNodes for ``@check`` functions in the imported files (run by the check runner)."""
    out: dict[str, CheckNode] = {}
    files = {id(a.file): a.file for a in assets.values()}
    errors: list[UserError] = []
    for loaded in files.values():
        for name, spec in loaded.checks.items():
            if spec.asset not in assets and spec.asset not in project.models:
                errors.append(
                    ProjectError(
                        f"check '{name}' is attached to unknown asset '{spec.asset}'",
                        location=Location(loaded.path),
                        hint=suggestion(spec.asset, [*assets, *project.models]) or "Fix asset=",
                    )
                )
                continue
            target = (nodes or {}).get(spec.asset)
            target_io = target.python.io_manager if target and target.python else None
            if target is not None and stored_outside_warehouse(
                target.materialized, target_io, project.config.resources, project.target_name
            ):
                errors.append(
                    ProjectError(
                        f"check '{name}' is attached to '{spec.asset}', which is stored outside "
                        "the warehouse (its IO manager), where checks cannot run",
                        location=Location(loaded.path),
                        hint="Attach it to a downstream asset that reads it",
                    )
                )
                continue
            out[name] = CheckNode(
                name=name,
                unique_id=f"check.{project.name}.{name}",
                kind="python",
                check_type="python",
                asset=spec.asset,
                severity=spec.severity,
                blocking=spec.blocking,
                path=loaded.path,
                description=spec.description,
                depends_on=[spec.asset],
                python=PythonInfo(
                    module_path=loaded.path,
                    function=spec.function,
                    inputs={"data": spec.asset},
                ),
            )
    raise_collected(errors)
    return out
