"""Discover a project's files and read its configuration into a :class:`Project`.

Nothing here renders or parses SQL: that is :mod:`orch.load.parsing`. ``orch_project.yml`` and
``dbt_project.yml`` are read by the same code (``flavor`` records which one it was).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orch import redaction
from orch.config import (
    FOLDER_CONFIG_KEYS,
    MODEL_CONFIG_KEYS,
    GenericTargetConfig,
    ModelProperties,
    ProfileConfig,
    ProjectConfig,
    PropertiesFile,
    RunOptions,
    SourceProperties,
    SourceTableProperties,
    TargetConfig,
    TargetConfigClasses,
    adapter_reference,
    adapter_types,
    config_errors_from,
    is_adapter_type,
    load_adapter_class,
    merge_model_config,
    normalize_config_keys,
    validate_doc,
    validate_target,
)
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    ErrorGroup,
    Location,
    ProjectError,
    UserError,
    raise_collected,
    read_user_text,
    suggestion,
)
from orch.load import dbt, dbt_packages, dbt_python, dbt_snapshots, dbt_versions
from orch.load.cache import YAML_CACHE_FILE, YamlDocCache, startup_yaml_cache
from orch.load.dbt_packages import InstalledPackage
from orch.load.dbt_versions import VersionedModel
from orch.load.unit_tests import FIXTURE_FOLDER, UnitTestSpec, read_unit_tests
from orch.load.workspace import ForeignModels
from orch.yamldoc import YamlDoc, parse_yaml, read_yaml_text
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    import jinja2
    from orch.load.definitions import LoadedDefinitions

log = logging.getLogger(__name__)

PROJECT_FILES = ("orch_project.yml", "dbt_project.yml")
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelFile:
    """A model file: its asset name is the file stem."""

    name: str
    path: str  # relative to the project folder, forward slashes
    abs_path: Path
    language: Literal["sql", "python"]
    package: str = ""  # the dbt package it comes from ("" for the project's own)
    # a dbt snapshot (orch.load.dbt_snapshots), a dbt Python model (orch.load.dbt_python)
    kind: Literal["model", "snapshot", "dbt_python"] = "model"
    text: str | None = None  # a snapshot's query, cut out of its file

    def read(self) -> str:
        """The file's text (a ProjectError naming the byte offset when it is not UTF-8)."""
        if self.text is not None:
            return self.text
        return read_user_text(self.abs_path, self.path)


@dataclass(frozen=True)
class SeedFile:
    """A CSV file loaded as a table."""

    name: str
    path: str
    abs_path: Path
    package: str = ""  # the dbt package it comes from ("" for the project's own)


@dataclass(frozen=True)
class SourceTable:
    """A declared source table: ``<source>.<table>``."""

    source: SourceProperties
    table: SourceTableProperties
    path: str

    @property
    def name(self) -> str:
        """The asset name, ``source.table``."""
        return f"{self.source.name}.{self.table.name}"


@dataclass(frozen=True)
class Properties:
    """A model's or seed's YAML entry and where it came from."""

    entry: ModelProperties
    doc: YamlDoc
    key_path: tuple[str | int, ...]


# What the property files (models/**/*.yml) fill in: read on first use when loading defers them.
DEFERRED_FIELDS = ("properties", "sources", "unit_tests")


@dataclass
class Project:
    """A project's configuration and files, before any SQL is rendered."""

    root: Path
    config: ProjectConfig
    flavor: Literal["orch", "dbt"]
    project_file: str
    target_name: str
    target: TargetConfig
    variables: dict[str, Any]
    models: dict[str, ModelFile] = field(default_factory=dict)
    seeds: dict[str, SeedFile] = field(default_factory=dict)
    sources: dict[str, SourceTable] = field(default_factory=dict)
    properties: dict[str, Properties] = field(default_factory=dict)
    macro_files: dict[str, str] = field(default_factory=dict)
    check_files: dict[str, str] = field(default_factory=dict)  # name -> relative path
    docs_files: list[Path] = field(default_factory=list)
    yaml_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unit_tests: list[UnitTestSpec] = field(default_factory=list)
    # dbt's exposures, metrics, semantic_models, saved_queries: {key: {name: entry}}
    descriptive: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # installed dbt packages (dbt_packages/), by project name; with the vars their nodes see
    packages: dict[str, InstalledPackage] = field(default_factory=dict)
    package_variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    dispatch: dict[str, list[str]] = field(default_factory=dict)  # dbt's dispatch: search orders
    # the other members of its workspace (orch.compiler.workspace), None outside one
    foreign: ForeignModels | None = None
    definitions: LoadedDefinitions | None = None  # what the `definitions:` module declares
    # dbt model versions (orch.load.dbt_versions), by the model's unversioned name
    model_versions: dict[str, VersionedModel] = field(default_factory=dict)
    # dbt's enabled: false, by name: the file that declared it (orch.compiler.disabled)
    disabled: dict[str, str] = field(default_factory=dict)
    # dbt: disabled files that share the name of an enabled node (a package's seed the root
    # project overrides), by name; only ref('<their package>', name) still names them
    disabled_duplicates: dict[str, list[str]] = field(default_factory=dict)
    # the warnings reading the property files gave (also in ``warnings``): kept beside the
    # manifest key, so a command that reuses the manifest without reading them still reports them
    property_warnings: list[str] = field(default_factory=list)

    if not TYPE_CHECKING:  # (so that mypy still flags a misspelt attribute)

        def __getattr__(self, name: str) -> Any:
            """``properties``, ``sources`` and ``unit_tests`` of a project loaded with
            ``defer_properties``: its property files are read when one is first asked for."""
            if name in DEFERRED_FIELDS and "_pending_properties" in self.__dict__:
                read_properties(self)
                return self.__dict__[name]
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def properties_pending(self) -> bool:
        """Whether the property files are still unread (``load_project(defer_properties=True)``)."""
        return "_pending_properties" in self.__dict__

    @property
    def name(self) -> str:
        """The project's name."""
        return self.config.name

    @property
    def target_dir(self) -> Path:
        """Where artifacts go (``target/`` by default)."""
        return self.root / self.config.target_path

    def asset_names(self) -> list[str]:
        """Every model, seed and source name."""
        return [*self.models, *self.seeds, *self.sources]

    def macros_hash(self) -> str:
        """A hash of every macro file, for cache keys."""
        h = hashlib.sha256()
        for path, text in sorted(self.macro_files.items()):
            h.update(path.encode())
            h.update(text.encode())
        for name, variables in sorted(self.package_variables.items()):
            h.update(name.encode())
            h.update(repr(sorted(variables.items(), key=str)).encode())
        h.update(repr(self.config.dispatch).encode())
        return h.hexdigest()


# --------------------------------------------------------------------------- entry point


def load_project(
    options: RunOptions,
    *,
    target_configs: TargetConfigClasses | None = None,
    defer_properties: bool = False,
) -> Project:
    """Read configuration and discover files. Raises UserError (with every problem found).

    Args:
        options: what the command line asked for.
        target_configs: ``type`` -> the target config class of that adapter; by default the
            adapter registry (the ``orch.adapters`` entry points), asked only for the
            profile's own type.
        defer_properties: leave the property files (``models/**/*.yml``) unread until
            ``properties``, ``sources`` or ``unit_tests`` is first used, or
            :func:`read_properties` is called (their errors are raised then). A command whose
            manifest is up to date never needs them: the manifest key needs only their digests.
            Only for an orch project without a ``definitions:`` module, and only when nothing
            else failed (otherwise they are read now, and every error is raised together).
    """
    root = options.project_dir.resolve()
    if not root.is_dir():
        raise ProjectError(
            f"project folder '{options.project_dir}' does not exist",
            hint="Pass --project-dir pointing at a folder with orch_project.yml, "
            "or run 'orch init'",
        )
    project_path, flavor = _find_project_file(root)
    startup = startup_yaml_cache(root)
    doc = _read_yaml(project_path, project_path.name, startup)
    # var() in the project file sees the command line's --vars only (as in dbt: the file's own
    # vars: block is not known yet); var('x', default) falls back to its default
    data = _render_yaml_strings(doc.data, doc, variables=dict(options.vars))
    if flavor == "dbt":
        data = _keep_known_keys(data, ProjectConfig)
    if not isinstance(data, dict):
        raise ConfigError(
            "the project file must be a mapping of keys", location=doc.location(), hint="See README"
        )
    config = validate_doc(ProjectConfig, doc, data)
    if flavor == "orch":
        raise_collected(folder_key_errors(doc, data))
    variables = _merge_vars(config, options.vars)
    classes = target_configs if target_configs is not None else AdapterTargetConfigs()
    target_name, target = load_target(root, config, options, classes, flavor=flavor, docs=startup)
    if startup is not None:
        startup.save()
    if _uses_target(doc.data):  # {{ target.name }} in the project file: render it again
        info = yaml_target(target_name, target, config.profile or config.name)
        data = _render_yaml_strings(doc.data, doc, variables=dict(options.vars), target=info)
        if flavor == "dbt":
            data = _keep_known_keys(data, ProjectConfig)
        config = validate_doc(ProjectConfig, doc, data)
        variables = _merge_vars(config, options.vars)
    notes: list[str] = []
    if flavor == "dbt":
        target, notes = _dbt_duckdb_path(root, target)
    project = Project(
        root=root,
        config=config,
        flavor=flavor,
        project_file=project_path.name,
        target_name=target_name,
        target=target,
        variables=variables,
    )
    if flavor == "dbt":
        info = yaml_target(target_name, target, config.profile or config.name)
        packages = dbt_packages.load_installed(
            root, config.packages_install_path,
            lambda data, pdoc: _render_yaml_strings(data, pdoc, dict(options.vars), target=info),
        )  # fmt: skip
        project.packages = {p.name: p for p in packages}
        project.package_variables = {
            p.name: dbt_packages.package_vars(p, config.vars, options.vars) for p in packages
        }
        project.dispatch = dbt_packages.dispatch_orders(config.dispatch, doc)
        notes.extend(dbt.check_flags(config.flags, doc))
    _discover(
        project,
        defer_properties=defer_properties and flavor == "orch" and not config.definitions,
    )
    if config.definitions:
        _add_definitions(project, config.definitions, doc.location(("definitions",)))
    project.warnings.extend(notes)
    if flavor == "dbt":
        _add_dbt_resources(project)
        project.model_versions = dbt_versions.expand_versions(project)
        dbt.check_unsupported(project)
        project.descriptive = dbt.read_descriptive(project)
    return project


def _uses_target(data: Any) -> bool:
    if isinstance(data, dict):
        return any(k not in HOOK_KEYS and _uses_target(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_uses_target(v) for v in data)
    return isinstance(data, str) and "{{" in data and "target" in data


def _add_definitions(project: Project, rel_path: str, where: Location) -> None:
    """Join what the ``definitions:`` module lists to the discovered files and settings."""
    # imported here: it imports the Python API (orch.assets), which a project without a
    # `definitions:` module never loads
    from orch.load.definitions import merge_resources, read_definitions

    loaded = read_definitions(project.root, rel_path, where)
    known = {m.path for m in project.models.values()}
    for rel, file in loaded.model_files.items():
        if rel in known:
            continue  # a file in models/ listed as well
        other = project.models.get(file.stem) or project.seeds.get(file.stem)
        if other is not None:
            raise DuplicateNameError(
                f"two files define the asset '{file.stem}': {other.path} and {rel}",
                location=Location(rel),
                hint="Rename one of them (model files are named after their stem)",
            )
        project.models[file.stem] = ModelFile(file.stem, rel, file, "python")
    if loaded.resources:
        resources = merge_resources(project.config.resources, loaded, where)
        project.config = project.config.model_copy(update={"resources": resources})
    project.definitions = loaded


def _add_dbt_resources(project: Project) -> None:
    """A dbt project's snapshots, and its Python models told apart from orch's ``@asset`` files."""
    for name, file in list(project.models.items()):
        if file.language == "python" and dbt_python.is_dbt_python(file.read()):
            project.models[name] = dataclasses.replace(file, kind="dbt_python")
    found, entries = dbt_snapshots.discover_snapshots(project)
    project.yaml_files += [p for p in dbt_snapshots.snapshot_yaml_files(project)
                           if p not in project.yaml_files]  # fmt: skip
    for snap in found:
        project.models[snap.name] = ModelFile(
            snap.name, snap.path, snap.abs_path, "sql", kind="snapshot", text=snap.text
        )
    for entry in entries:
        project.properties[entry.name] = Properties(entry.entry, entry.doc, entry.key_path)


def _dbt_duckdb_path(root: Path, target: TargetConfig) -> tuple[TargetConfig, list[str]]:
    """dbt-duckdb opens a relative ``path`` from the current directory: so does orch for dbt."""
    raw = getattr(target, "path", None)
    if target.type != "duckdb" or not isinstance(raw, str) or raw.startswith((":memory:", "md:")):
        return target, []
    path = Path(raw).expanduser()
    if path.is_absolute():
        return target, []
    resolved = Path.cwd() / path
    notes = []
    if Path.cwd().resolve() != root:
        notes.append(
            f"profiles.yml: the DuckDB path '{raw}' is relative, so (as in dbt) it is opened from "
            f"the current directory: {resolved}. Run orch from the project folder, or make the "
            "path absolute, to use the database next to the project"
        )
    return target.model_copy(update={"path": str(resolved)}), notes


def _find_project_file(root: Path) -> tuple[Path, Literal["orch", "dbt"]]:
    for name in PROJECT_FILES:
        path = root / name
        if path.is_file():
            return path, "orch" if name == "orch_project.yml" else "dbt"
    raise ConfigError(
        f"no orch_project.yml (or dbt_project.yml) in '{root}'",
        location=Location(str(root)),
        hint="Pass --project-dir pointing at your project, or create one with 'orch init NAME'",
    )


def _keep_known_keys(data: Any, model: type[BaseModel]) -> Any:
    """dbt projects may carry keys orch does not use: drop them rather than fail."""
    if not isinstance(data, dict):
        return data
    known = set()
    for name, fld in model.model_fields.items():
        known.add(name)
        known.add(name.replace("_", "-"))
        if fld.alias:
            known.add(fld.alias)
    return {k: v for k, v in data.items() if k in known}


def _merge_vars(config: ProjectConfig, cli_vars: dict[str, Any]) -> dict[str, Any]:
    """Project vars (flat, or scoped under the project name as dbt allows), then CLI vars."""
    merged: dict[str, Any] = {}
    for key, value in config.vars.items():
        if key == config.name and isinstance(value, dict):
            continue
        merged[key] = value
    scoped = config.vars.get(config.name)
    if isinstance(scoped, dict):
        merged.update(scoped)
    merged.update(cli_vars)
    return merged


# --------------------------------------------------------------------------- YAML env_var()


# Hooks are SQL templates rendered when they run (with ``this``, ``target``...), as in dbt: the
# project file keeps them as written.
HOOK_KEYS = frozenset(
    {"on-run-start", "on-run-end", "on_run_start", "on_run_end", "pre-hook", "post-hook",
     "+pre-hook", "+post-hook", "pre_hook", "post_hook", "+pre_hook", "+post_hook"}
)  # fmt: skip


class _YamlSecret(str):
    """A string that came from env_var(): registered for scrubbing."""


def _render_yaml_strings(
    data: Any, doc: YamlDoc, variables: dict[str, Any], path=(), target: Any = None
) -> Any:
    """Render ``{{ env_var(...) }}`` / ``{{ var(...) }}`` (and ``{{ target.name }}``, once the
    target is known) inside YAML string values; without ``target``, a string that uses it is
    kept as written (the project file is rendered again when the target is loaded)."""
    if isinstance(data, dict):
        return {
            k: v if k in HOOK_KEYS else _render_yaml_strings(v, doc, variables, (*path, k), target)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [
            _render_yaml_strings(v, doc, variables, (*path, i), target) for i, v in enumerate(data)
        ]
    if isinstance(data, str) and "{{" in data:
        if target is None and "target" in data:
            return data
        return _render_yaml_value(data, doc, variables, path, target)
    return data


class YamlTarget(dict[str, Any]):
    """``target`` in dbt_project.yml: the target's name, type, schema, database, threads."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def yaml_target(name: str, target: TargetConfig, profile: str) -> YamlTarget:
    """What ``{{ target }}`` offers in a project file (never a credential)."""
    return YamlTarget(name=name, target_name=name, type=target.type, schema=target.schema_,
                      database=target.database, threads=target.threads,
                      profile_name=profile)  # fmt: skip


_yaml_envs: list[jinja2.Environment] = []  # made on first use: most YAML holds no template


def _render_yaml_value(
    text: str, doc: YamlDoc, variables: dict[str, Any], path: tuple, target: Any = None
) -> Any:
    missing: list[str] = []
    used: dict[str, str] = {}

    def env_var(name: str, default: Any = None) -> str:
        value = os.environ.get(name)
        if value is None:
            if default is None:
                missing.append(name)
                return ""
            return str(default)
        redaction.register(name, value)
        used[name] = value
        return value

    def var(name: str, default: Any = None) -> Any:
        return variables.get(name, default)

    import jinja2  # here, not at the top: a command whose YAML holds no {{ }} never loads it
    from orch.load.rendering import SecretString

    if not _yaml_envs:
        _yaml_envs.append(jinja2.Environment(undefined=jinja2.StrictUndefined))
    try:
        extra = {"target": target} if target is not None else {}
        rendered = _yaml_envs[0].from_string(text).render(env_var=env_var, var=var, **extra)
    except jinja2.TemplateError as err:
        raise ConfigError(
            f"cannot render '{'.'.join(map(str, path))}': {err}",
            location=doc.location(path),
            hint="Use {{ env_var('NAME') }} or {{ var('name') }}",
        ) from None
    if missing:
        raise ConfigError(
            f"environment variable '{missing[0]}' is not set "
            f"(used by '{'.'.join(map(str, path))}')",
            location=doc.location(path),
            hint=f"Set {missing[0]}, or give a default: env_var('{missing[0]}', 'value')",
        )
    if path[:1] == ("vars",) and len(used) == 1:
        ((name, value),) = used.items()
        if rendered == value:  # a var holding a secret renders as its placeholder in SQL
            return SecretString(value, name)
    return rendered


# --------------------------------------------------------------------------- profiles


def profiles_candidates(root: Path, options: RunOptions, flavor: str = "orch") -> list[Path]:
    """Where ``profiles.yml`` is looked for, in order (dbt's order for a dbt project)."""
    if options.profiles_dir is not None:
        return [options.profiles_dir / "profiles.yml"]
    if flavor == "dbt":  # dbt's order: DBT_PROFILES_DIR, the current directory, then ~/.dbt
        env_dirs = [os.environ.get(k) for k in ("ORCH_PROFILES_DIR", "DBT_PROFILES_DIR")]
        found = [Path(d) for d in env_dirs if d]
        found += [Path.cwd(), root, Path.home() / ".dbt"]
        return [d / "profiles.yml" for d in found]
    dirs = [root]
    if os.environ.get("ORCH_PROFILES_DIR"):
        dirs.append(Path(os.environ["ORCH_PROFILES_DIR"]))
    if os.environ.get("DBT_PROFILES_DIR"):
        dirs.append(Path(os.environ["DBT_PROFILES_DIR"]))
    dirs.append(Path.home() / ".dbt")
    return [d / "profiles.yml" for d in dirs]


def _read_yaml(path: Path, shown: str, docs: YamlDocCache | None) -> YamlDoc:
    """``load_yaml``, through ``docs`` (parsed documents by content) when given."""
    text = read_yaml_text(path, shown)
    return docs.parse(text, shown) if docs is not None else parse_yaml(text, shown)


def load_target(
    root: Path,
    config: ProjectConfig,
    options: RunOptions,
    target_configs: TargetConfigClasses,
    *,
    flavor: str = "orch",
    docs: YamlDocCache | None = None,
) -> tuple[str, TargetConfig]:
    """The target to run against: from profiles.yml, or an embedded DuckDB file by default.

    ``target_configs`` gives the config class of each adapter type (see :func:`load_project`);
    ``docs`` keeps parsed documents by content (:func:`orch.load.cache.startup_yaml_cache`).
    """
    candidates = profiles_candidates(root, options, flavor)
    path = next((p for p in candidates if p.is_file()), None)
    profile_name = config.profile or config.name
    if path is None:
        if options.profiles_dir is not None:
            raise ConfigError(
                f"no profiles.yml in --profiles-dir '{options.profiles_dir}'",
                hint="Point --profiles-dir at the folder holding profiles.yml",
            )
        name = options.target or "dev"
        if name != "dev":
            raise ConfigError(
                f"target '{name}' is not defined: there is no profiles.yml",
                hint="Create profiles.yml next to orch_project.yml with that target",
            )
        return "dev", target_configs["duckdb"].model_validate({"type": "duckdb"})
    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    doc = _read_yaml(path, shown, docs)
    if not isinstance(doc.data, dict) or profile_name not in doc.data:
        known = list(doc.data) if isinstance(doc.data, dict) else []
        raise ConfigError(
            f"profile '{profile_name}' is not in {shown}",
            location=doc.location(),
            hint=suggestion(profile_name, known)
            or "Add it, or set 'profile:' in the project file to an existing one",
        )
    raw_profile = doc.data[profile_name]
    try:
        profile = ProfileConfig.model_validate(
            {k: v for k, v in (raw_profile or {}).items() if k in ("target", "outputs")}
        )
    except ValidationError as err:
        raise config_errors_from(err, doc, (profile_name,), ProfileConfig) from None
    name = options.target or profile.target
    if name not in profile.outputs:
        raise ConfigError(
            f"target '{name}' is not defined in profile '{profile_name}'",
            location=doc.location((profile_name, "outputs")),
            hint=suggestion(name, profile.outputs)
            or f"Defined targets: {', '.join(sorted(profile.outputs))}",
        )
    key_path = (profile_name, "outputs", name)
    raw = _render_yaml_strings(profile.outputs[name], doc, config.vars, key_path)
    return name, validate_target(raw, doc, key_path, target_configs)


class AdapterTargetConfigs(Mapping[str, type[TargetConfig]]):
    """The adapter registry as the loader sees it: ``type`` -> that adapter's target config class.

    The types are the names of the ``orch.adapters`` entry points (package metadata, no import);
    looking one up loads that one adapter class and reads its ``target_config_class`` (the
    adapter modules import their driver only when an adapter is made, so this stays cheap). The
    loader sits beside the adapters, not above them: it knows the entry-point group, never an
    adapter module.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, type[TargetConfig]] = {}

    def __getitem__(self, adapter_type: str) -> type[TargetConfig]:
        if adapter_type not in self._loaded:
            reference = adapter_reference(adapter_type)  # KeyError: not a known type
            try:
                adapter = load_adapter_class(adapter_type)
            except (ImportError, AttributeError) as err:  # a missing module or class
                raise ConfigError(
                    f"the adapter for target type '{adapter_type}' ({reference}) cannot be "
                    f"imported: {err}",
                    hint="Install the adapter's package (and its driver) in this environment",
                ) from None
            cls = getattr(adapter, "target_config_class", GenericTargetConfig)
            if not (isinstance(cls, type) and issubclass(cls, TargetConfig)):
                cls = GenericTargetConfig
            self._loaded[adapter_type] = cls
        return self._loaded[adapter_type]

    def __iter__(self) -> Iterator[str]:
        return iter(adapter_types())

    def __len__(self) -> int:
        return len(adapter_types())

    def __contains__(self, adapter_type: object) -> bool:
        return isinstance(adapter_type, str) and is_adapter_type(adapter_type)


# --------------------------------------------------------------------------- discovery


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _walk(root: Path, folder: str, suffixes: tuple[str, ...]) -> list[Path]:
    return [path for path, _ in _walk_rel(root, folder, suffixes)]


def _walk_rel(root: Path, folder: str, suffixes: tuple[str, ...]) -> list[tuple[Path, str]]:
    """The files under ``root/folder`` ending in ``suffixes`` (sorted, no hidden ones), each with
    its path relative to ``root`` (``_rel``), joined per folder rather than computed per file."""
    base = root / folder
    if not base.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        directory = Path(dirpath)
        prefix: str | None = None
        for filename in sorted(filenames):
            if filename.endswith(suffixes) and not filename.startswith("."):
                if prefix is None:
                    rel_dir = _rel(root, directory)
                    prefix = "" if rel_dir == "." else rel_dir + "/"
                found.append((directory / filename, prefix + filename))
    return found


def _discover(project: Project, *, defer_properties: bool = False) -> None:
    root, cfg = project.root, project.config
    errors: list[UserError] = []
    owners: dict[str, str] = {}

    def claim(name: str, path: str) -> bool:
        if not NAME_PATTERN.match(name):
            errors.append(
                ProjectError(
                    f"'{name}' is not a valid asset name",
                    location=Location(path),
                    hint="Rename the file: letters, digits and underscores, "
                    "not starting with a digit",
                )
            )
            return False
        if name in owners and project.flavor == "dbt" and _folder_disabled(project, path):
            project.disabled_duplicates.setdefault(name, []).append(path)
            return False  # dbt: a disabled node does not exist, so its name is free
        if name in owners and project.flavor == "dbt" and _folder_disabled(project, owners[name]):
            project.disabled_duplicates.setdefault(name, []).append(owners[name])
            project.models.pop(name, None)  # the enabled file of the name replaces it
            project.seeds.pop(name, None)
            owners[name] = path
            return True
        if name in owners:
            errors.append(
                DuplicateNameError(
                    f"two files define the asset '{name}': {owners[name]} and {path}",
                    location=Location(path),
                    hint="Rename one of them (asset names are file stems and must be unique)",
                )
            )
            return False
        owners[name] = path
        return True

    yaml_files: list[Path] = []
    units = [("", cfg.model_paths, cfg.seed_paths, cfg.macro_paths, cfg.test_paths, "")]
    units += [(p.prefix, p.model_paths, p.seed_paths, p.macro_paths, p.test_paths, p.name)
              for p in project.packages.values()]  # fmt: skip
    for prefix, model_paths, seed_paths, macro_paths, test_paths, package in units:
        _discover_unit(
            project, claim, yaml_files, package,
            [prefix + f for f in model_paths], [prefix + f for f in seed_paths],
            [prefix + f for f in macro_paths], [prefix + f for f in test_paths],
        )  # fmt: skip
    if project.flavor == "dbt" and cfg.docs_paths:
        # dbt: with `docs-paths` set, docs blocks are read from those folders only (without it,
        # from the model, seed, macro... paths), so a block elsewhere is "not found", as in dbt
        project.docs_files.clear()
    for folder in cfg.docs_paths:
        project.docs_files.extend(_walk(root, folder, (".md",)))

    project.yaml_files = list(yaml_files)
    if defer_properties and not errors and (project.models or project.seeds):
        # nothing else can fail here: the property files' own errors are raised when they are
        # read, which a command whose manifest is up to date never needs (read_properties)
        project.__dict__["_pending_properties"] = yaml_files
        for name in DEFERRED_FIELDS:
            del project.__dict__[name]
        return
    errors.extend(_read_property_files(project, yaml_files))
    if not project.models and not project.seeds and not errors and not _has_jobs(project):
        folders = ", ".join(f"{p}/" for p in cfg.model_paths)
        errors.append(
            ProjectError(
                f"no models found in {folders}",
                location=Location(project.project_file),
                hint="Add a .sql model file there (e.g. models/my_model.sql), or fix 'model-paths'",
            )
        )
    raise_collected(errors)
    _warn_unmatched_properties(project)


def _has_jobs(project: Project) -> bool:
    """Whether the project defines jobs (Python files under job-paths, or a definitions module)."""
    cfg = project.config
    found = any(any((project.root / folder).rglob("*.py")) for folder in cfg.job_paths)
    return found or cfg.definitions is not None


def _read_property_files(project: Project, yaml_files: list[Path]) -> list[UserError]:
    """Read every property file into ``project``; the errors found, not raised."""
    errors: list[UserError] = []
    docs = YamlDocCache(project.target_dir / YAML_CACHE_FILE)
    for path in yaml_files:
        try:
            _read_properties(project, path, docs)
        except ErrorGroup as group:
            errors.extend(group.errors)
        except UserError as err:
            errors.append(err)
    docs.save()
    return errors


def read_properties(project: Project) -> None:
    """Read the property files of a project loaded with ``defer_properties`` (no-op otherwise).

    Raises what loading them eagerly would have raised (every error, with file, line and
    column); their warnings join ``project.warnings`` and ``project.property_warnings``.
    """
    pending: list[Path] | None = project.__dict__.pop("_pending_properties", None)
    if pending is None:
        return
    project.properties, project.sources, project.unit_tests = {}, {}, []
    raise_collected(_read_property_files(project, pending))
    _warn_unmatched_properties(project)


def _warn_unmatched_properties(project: Project) -> None:
    before = len(project.warnings)
    for name in project.properties:
        if name not in project.models and name not in project.seeds:
            if project.properties[name].entry.versions:
                continue  # dbt model versions: their files are matched by dbt_versions
            props = project.properties[name]
            project.warnings.append(
                f"{props.doc.location(props.key_path)}: properties given for '{name}', "
                "but no model or seed has that name"
            )
    project.property_warnings.extend(project.warnings[before:])


def _folder_disabled(project: Project, path: str) -> bool:
    """``+enabled: false`` for a model or seed file in the project file's folder settings (its
    package's own, then the root's): what is known of ``enabled`` before models are rendered."""
    seed = path.endswith(".csv")
    root_tree = project.config.seeds if seed else project.config.models
    package = dbt_packages.package_of(project.packages, path)
    if package is None:
        settings = folder_config(root_tree, project.name, path)
    else:
        own = package.seeds if seed else package.models
        layers = dbt_packages.package_folder_layers(package, root_tree, own, path)
        settings = merge_model_config(layers)
    value = settings.get("enabled", True)
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _discover_unit(
    project: Project,
    claim: Callable[[str, str], bool],
    yaml_files: list[Path],
    package: str,
    model_paths: list[str],
    seed_paths: list[str],
    macro_paths: list[str],
    test_paths: list[str],
) -> None:
    """The files of the project itself (``package`` "") or of one installed dbt package."""
    root = project.root
    for folder in model_paths:
        for path, rel in _walk_rel(root, folder, (".sql", ".py", ".yml", ".yaml", ".md")):
            # the name's parts as Path.stem and .suffix give them, without a property per call
            # (a thousand model files): every name here ends in one of the suffixes
            stem, _, ext = rel.rpartition("/")[2].rpartition(".")
            if ext in ("yml", "yaml"):
                yaml_files.append(path)
            elif ext == "md":
                project.docs_files.append(path)
            elif ext == "py" and stem.startswith("_"):
                continue
            elif claim(stem, rel):
                language: Literal["sql", "python"] = "python" if ext == "py" else "sql"
                project.models[stem] = ModelFile(stem, rel, path, language, package)
    for folder in seed_paths:
        for path in _walk(root, folder, (".csv", ".yml", ".yaml")):
            if path.suffix == ".csv":
                rel = _rel(root, path)
                if claim(path.stem, rel):
                    project.seeds[path.stem] = SeedFile(path.stem, rel, path, package)
            else:
                yaml_files.append(path)
    for folder in macro_paths:
        for path in _walk(root, folder, (".sql", ".md")):
            if path.suffix == ".md":
                project.docs_files.append(path)
            else:
                project.macro_files[_rel(root, path)] = read_user_text(path, _rel(root, path))
    for folder in test_paths:
        fixtures = root / folder / FIXTURE_FOLDER  # unit test fixtures (dbt): not checks
        for path in _walk(root, folder, (".sql", ".yml", ".yaml")):
            if path.is_relative_to(fixtures):
                continue
            if path.suffix == ".sql" and (root / folder / "generic") in path.parents:
                # dbt: <test-path>/generic/ holds generic test definitions ({% test %}): macros
                project.macro_files[_rel(root, path)] = read_user_text(path, _rel(root, path))
            elif path.suffix == ".sql":
                project.check_files[path.stem] = _rel(root, path)
            else:
                yaml_files.append(path)


def _read_properties(project: Project, path: Path, docs: YamlDocCache) -> None:
    rel = _rel(project.root, path)
    doc = docs.load(path, rel)
    if not isinstance(doc.data, dict):
        return
    data = doc.data
    if project.flavor == "dbt" and _has_template(data):
        data = _render_properties(project, doc)
    props = validate_doc(PropertiesFile, doc, data)
    for kind in ("models", "seeds"):
        for i, entry in enumerate(getattr(props, kind)):
            if entry.name in project.properties:
                other = project.properties[entry.name]
                raise DuplicateNameError(
                    f"'{entry.name}' is described twice: in {other.doc.path} and {rel}",
                    location=doc.location((kind, i, "name")),
                    hint="Keep one entry",
                )
            _check_config_keys(entry.config, doc, (kind, i, "config"), project.flavor)
            project.properties[entry.name] = Properties(entry, doc, (kind, i))
    for i, source in enumerate(props.sources):
        for j, table in enumerate(source.tables):
            entry = SourceTable(source, table, rel)
            if entry.name in project.sources:
                raise DuplicateNameError(
                    f"source table '{entry.name}' is declared twice: in "
                    f"{project.sources[entry.name].path} and {rel}",
                    location=doc.location(("sources", i, "tables", j, "name")),
                    hint="Keep one declaration",
                )
            project.sources[entry.name] = entry
    specs, errors = read_unit_tests(doc, props, project.root, project.config.test_paths)
    project.unit_tests.extend(specs)
    raise_collected(errors)


def _has_template(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_has_template(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_template(v) for v in data)
    return isinstance(data, str) and "{{" in data


_NOT_RENDERED = ("tests", "data_tests", "description", "loaded_at_query")


def _rendered_in_properties(kind: str, key_path: tuple) -> bool:
    """Whether dbt renders a string at ``key_path`` (below one entry of ``kind``) while parsing
    (dbt-core's SchemaYamlRenderer): not descriptions, tests (rendered as tests), hooks or
    ``loaded_at_query`` (rendered when they run)."""
    if kind == "sources" and key_path[:1] == ("tables",):
        key_path = key_path[2:]
    if not key_path:
        return True
    if key_path[0] in _NOT_RENDERED or (len(key_path) == 2 and key_path[1] in _NOT_RENDERED):
        return False
    if (
        key_path[0] == "config"
        and len(key_path) >= 2
        and str(key_path[1]).replace("-", "_") in ("pre_hook", "post_hook", "loaded_at_query")
    ):
        return False
    if len(key_path) == 5 and key_path[4] == "description":  # versions: columns' descriptions
        return False
    return not (
        len(key_path) >= 3
        and key_path[0] in ("columns", "dimensions", "measures", "entities")
        and key_path[2] in ("tests", "data_tests", "description")
    )


def _render_properties(project: Project, doc: YamlDoc) -> dict[str, Any]:
    """A dbt properties file with its Jinja rendered as dbt renders it while parsing: with
    ``target``, ``var()`` and ``env_var()``, a value that is one ``{{ ... }}`` taking the value it
    prints (``data_type: "{{ 'integer' if target.type == 'duckdb' else 'int' }}"``)."""
    package = dbt_packages.package_of(project.packages, doc.path)
    variables = project.variables if package is None else project.package_variables[package.name]
    target = yaml_target(
        project.target_name, project.target, project.config.profile or project.config.name
    )

    def render(value: Any, kind: str, path: tuple, below: tuple) -> Any:
        if isinstance(value, dict):
            return {k: render(v, kind, (*path, k), (*below, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v, kind, (*path, i), (*below, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "{{" in value and _rendered_in_properties(kind, below):
            rendered = _render_yaml_value(value, doc, variables, path, target)
            if _single_expression(value) and "env_var" not in value:
                try:
                    return ast.literal_eval(rendered.strip())
                except (ValueError, SyntaxError, MemoryError):
                    pass
            return rendered
        return value

    out = dict(doc.data)
    for kind, entries in doc.data.items():
        # what orch reads of a properties file (metrics' filters, saved queries' where... are
        # MetricFlow's, left as written)
        if kind in ("models", "seeds", "snapshots", "sources", "exposures") and isinstance(
            entries, list
        ):
            out[kind] = [render(e, kind, (kind, i), ()) for i, e in enumerate(entries)]
    return out


def _single_expression(text: str) -> bool:
    stripped = text.strip()
    return (stripped.startswith("{{") and stripped.endswith("}}")
            and stripped.count("{{") == 1 and "{%" not in stripped)  # fmt: skip


def _check_config_keys(raw: dict[str, Any], doc: YamlDoc, key_path: tuple, flavor: str) -> None:
    _, unknown = normalize_config_keys(raw, strict=flavor == "orch")
    if unknown and flavor == "orch":
        key = unknown[0]
        raise ConfigError(
            f"unknown config key '{key}'",
            location=doc.location((*key_path, key)),
            hint=suggestion(key, MODEL_CONFIG_KEYS)
            or f"Known keys: {', '.join(sorted(MODEL_CONFIG_KEYS))}",
        )


# --------------------------------------------------------------------------- folder configs


FOLDER_CONFIG_SECTIONS = ("models", "seeds", "data_tests", "tests", "snapshots", "sources")


def folder_key_errors(doc: YamlDoc, data: dict[str, Any]) -> list[UserError]:
    """An error for each ``+key`` of a folder config in the project file that is no setting.

    dbt's own settings (:data:`orch.config.FOLDER_CONFIG_KEYS`) are accepted, acted on or not, so
    a dbt project keeps building; a typo such as ``+materialised`` would otherwise be ignored
    without a word (and the models built as views). Keys without ``+`` are sub-folders, or
    settings written the older dbt way, and are not checked.
    """
    errors: list[UserError] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            if key.startswith("+"):
                name = key[1:]
                if name.replace("-", "_") not in FOLDER_CONFIG_KEYS and name != "schema_":
                    known = [f"+{k}" for k in FOLDER_CONFIG_KEYS]
                    where = ".".join(path)
                    errors.append(
                        ConfigError(
                            f"unknown config key '{key}' in '{where}'",
                            location=doc.location((*path, key)),
                            hint=suggestion(key, known, closest=True)
                            or "Folder settings are model config keys with a '+' "
                            "(e.g. +materialized, +schema, +tags)",
                        )
                    )
            elif isinstance(value, dict):
                walk(value, (*path, key))

    for section in FOLDER_CONFIG_SECTIONS:
        walk(data.get(section), (section,))
    return errors


def folder_config(tree: dict[str, Any], project_name: str, rel_path: str) -> dict[str, Any]:
    """The folder-level settings that apply to a file, parents first, nested folders winning.

    ``tree`` is the ``models:`` (or ``seeds:``) block of the project file, in dbt's format:
    ``{<project>: {+materialized: table, staging: {+materialized: view}}}``; the project-name
    level may be omitted. Keys with ``+`` are settings; a key without ``+`` whose value is a
    mapping is a sub-folder, unless it is a known setting.
    """
    scoped = isinstance(tree.get(project_name), dict)
    node = tree[project_name] if scoped else tree
    parts = rel_path.split("/")[1:-1]  # drop the top folder (models/) and the file name
    stem = rel_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    # dbt: `+key`s above the project's name apply to every node, under the project's own
    layers = [_settings_of(tree, MODEL_CONFIG_KEYS)] if scoped else []
    layers.append(_settings_of(node, MODEL_CONFIG_KEYS))
    for part in [*parts, stem]:
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            break
        node = child
        layers.append(_settings_of(node, MODEL_CONFIG_KEYS))
    return merge_model_config(layers)


def _settings_of(node: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in node.items():
        if not isinstance(key, str):
            continue
        if key.startswith("+"):
            settings[key[1:]] = value  # unprefixed, so merge_model_config sees 'tags' etc.
        elif not isinstance(value, dict) or key in known:
            if key in known or key.replace("-", "_") in known:
                settings[key] = value
    return settings
