"""Compile a project for a target: relations, target-dialect SQL, column lineage, fingerprints.

``compile_project`` is the whole front half of orch: load → parse → resolve → compile → manifest.
When the target speaks the project's dialect, compiled SQL is the user's rendered SQL with only the
table names replaced (their formatting and comments survive, so warehouse error lines make sense);
otherwise sqlglot transpiles it.

The work is split by concern: the nodes and the manifest (orch.compiler.manifest_compiler), a
model's SQL work (orch.compiler.model_sql), seeds and sources (orch.compiler.seeds,
orch.compiler.sources), and the helper process of a big cold compile (orch.compiler.helper_feed).
"""

from __future__ import annotations

import logging
from pathlib import Path

from orch.compiler import python as python_models
from orch.compiler.artifacts import CompiledFilesWriter, CompileResult, project_key
from orch.compiler.check_specs import collect_specs, generic_test_uses, parse_singular_checks
from orch.compiler.dbt_python import load_dbt_python
from orch.compiler.disabled import drop_disabled, drop_unmatched_properties
from orch.compiler.graph import resolve_graph
from orch.compiler.helper import CompileHelper
from orch.compiler.helper_feed import HelperFeed, start_helper
from orch.compiler.manifest_compiler import ManifestCompiler
from orch.compiler.model_sql import prepend_ctes
from orch.compiler.settings import (
    ModelSettings,
    relations_may_collide,
    shadows_unloaded_asset,
    target_dialect,
)
from orch.compiler.unit_tests import UnitTestCompiler, overrides_renderer
from orch.config import RunOptions
from orch.errors import raise_collected
from orch.load import dbt
from orch.load.cache import ResultCache
from orch.load.dbt_packages import render_scopes
from orch.load.dbt_python import DbtPythonModel
from orch.load.project import Project, load_project
from orch.load.rendering import Renderer, TargetInfo, read_docs_blocks
from orch.manifest import CheckNode

__all__ = ["CACHE_FILE", "compile_project", "make_renderer", "prepend_ctes", "target_dialect"]

log = logging.getLogger(__name__)

CACHE_FILE = "orch_cache.json"


def make_renderer(project: Project) -> Renderer:
    """The Jinja renderer for a project and its target, with macros and docs blocks."""
    t = project.target
    database = t.database
    path = getattr(t, "path", None)
    if database is None and project.flavor == "dbt" and t.type == "duckdb" and path:
        # dbt-duckdb's target.database: the file's stem (what current_database() returns)
        database = "memory" if path == ":memory:" else Path(str(path)).stem
    info = TargetInfo(
        name=project.target_name,
        type=t.type,
        schema=t.schema_,
        database=database,
        dialect=target_dialect(project),
        threads=t.threads,
    )
    renderer = Renderer(
        project_name=project.name,
        target=info,
        variables=project.variables,
        macro_files=project.macro_files,
        docs=read_docs_blocks(project.docs_files),
        packages=render_scopes(project.packages, project.package_variables),
        dispatch=project.dispatch,
        lenient_undefined=project.flavor == "dbt",
        versions=project.model_versions,
    )
    raise_collected(list(renderer.macro_errors))
    return renderer


def compile_project(
    options: RunOptions,
    names: set[str] | None = None,
    *,
    project: Project | None = None,
    write_files: bool = False,
) -> CompileResult:
    """Load, parse, resolve and compile; ``names`` limits parsing to those models' ancestry.

    Raises UserError with every problem found; writes nothing — except, with ``write_files``,
    the compiled SQL files into a staging folder that only :func:`write_artifacts` swaps in.
    """
    project = project or load_project(options)
    key = project_key(project)
    if names is not None and not names <= set(project.models) | set(project.seeds):
        names = None  # a name that is no model file: load everything for the right error
    if names is not None and relations_may_collide(project, names):
        names = None  # another file may write the same relation: compile all to find out
    renderer = make_renderer(project)
    cache = ResultCache(project.target_dir / CACHE_FILE)
    dbt_python = load_dbt_python(project) if project.flavor == "dbt" else {}
    if dbt_python:
        names = None  # their refs are not in the SQL parse's reach: compile everything
    helper = start_helper(project, renderer, cache, names)
    try:
        return _compile_all(options, names, project, key, renderer, cache, dbt_python, helper,
                            write_files)  # fmt: skip
    finally:
        if helper is not None:
            helper.close()


def _compile_all(
    options: RunOptions,
    names: set[str] | None,
    project: Project,
    key: str,
    renderer: Renderer,
    cache: ResultCache,
    dbt_python: dict[str, DbtPythonModel],
    helper: CompileHelper | None,
    write_files: bool,
) -> CompileResult:
    """The rest of :func:`compile_project`, with the helper process when there is one."""
    parsed, python_assets = python_models.load_models(project, renderer, cache, names, helper)
    schema_namer = dbt.schema_namer(project, renderer) if project.flavor == "dbt" else None
    settings = ModelSettings(project, target_dialect(project), schema_namer)
    project = drop_disabled(project, settings, parsed, python_assets, dbt_python)
    project, unmatched = drop_unmatched_properties(project)
    settings.project = project
    python_models.check_upstream(project, python_assets)
    extra = {**python_models.extra_assets(python_assets),
             **{n: m.upstream for n, m in dbt_python.items()}}  # fmt: skip
    graph = resolve_graph(project, parsed, extra)
    test_renderer = renderer if project.flavor == "dbt" else None  # dbt renders test configs
    generic = generic_test_uses(
        project, collect_specs(project), renderer.generic_tests, test_renderer
    )
    singular = parse_singular_checks(project, renderer, cache, generic=generic)
    compiler = ManifestCompiler(
        project, parsed, graph, cache, singular=singular, settings=settings,
        generic_tests=renderer.generic_tests, renderer=renderer,
    )  # fmt: skip
    compiler.python_assets = python_assets
    compiler.dbt_python = dbt_python
    compiler.feed = HelperFeed(compiler, helper) if helper is not None else None
    files = CompiledFilesWriter(project.target_dir) if write_files and names is None else None
    if files is not None:
        files.elsewhere = helper  # it writes them while it waits for models to compile
    compiler.compiled_files = files
    try:
        manifest = compiler.compile()
        if files is not None:
            files.detach()
        if helper is not None:
            helper.close()  # its work is done: free its memory now
        more: dict[str, CheckNode] = {}  # checks added to the compiler's (which wrote theirs)
        if python_assets:
            more = python_models.python_check_nodes(project, python_assets, manifest.nodes)
            manifest = manifest.model_copy(update={"checks": {**manifest.checks, **more}})
        if project.unit_tests:
            unit = UnitTestCompiler(
                project, parsed, graph, compiler.nodes, compiler.output_columns,
                overrides_renderer(project, renderer),
            ).compile(set(manifest.checks))  # fmt: skip
            manifest = manifest.model_copy(update={"checks": {**manifest.checks, **unit}})
            more = {**more, **unit}
    except BaseException:
        if files is not None:
            files.abort()
        raise
    if files is not None:
        for check_key in more:
            check = manifest.checks[check_key]
            if check.sql:
                files.add(f"checks/{check.name}.sql", check.sql)
            elif check_key in compiler.checks and compiler.checks[check_key].sql:
                files.remove(f"checks/{compiler.checks[check_key].name}.sql")
    cache.save()
    if names is not None and shadows_unloaded_asset(project, manifest):
        # a selected model's alias is the name of a model left out of the scope: compile all,
        # where check_relation_owners decides whether both really write one relation
        return compile_project(options, None, project=project, write_files=write_files)
    env_vars = sorted({v for p in parsed.values() for v in p.recording.env_vars_used})
    return CompileResult(
        project=project,
        manifest=manifest,
        warnings=[*project.warnings, *unmatched, *compiler.warnings],
        cache_hits=cache.hits,
        cache_misses=cache.misses,
        scoped=names is not None,
        project_key=key,
        env_vars=env_vars,
        compiled_files=files,
    )
