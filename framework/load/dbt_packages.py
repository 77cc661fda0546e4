"""dbt packages: what ``packages.yml`` / ``dependencies.yml`` declare and ``dbt deps`` installed.

A dbt project's packages live in ``dbt_packages/`` (or ``packages-install-path``), one folder per
package holding its own ``dbt_project.yml``. orch reads them as dbt does: every folder there is a
package; its models, seeds, macros and YAML join the project (paths stay relative to the root
project, e.g. ``dbt_packages/dbt_utils/macros/sql/star.sql``); its macros are reachable as
``<package>.<macro>`` and through ``adapter.dispatch``. Settings follow dbt's precedence: the
package's own ``dbt_project.yml``, then the root project's ``models: <package>:`` block. Vars for
a package's nodes: the package's vars, then the root's global vars, then the root's
``vars: <package>:``, then ``--vars``.

orch installs nothing from the network: :func:`install_local` copies ``local:`` packages (what
``orch deps`` does); hub and git packages need ``dbt deps`` (or a vendored copy).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.config import MODEL_CONFIG_KEYS
from orch.errors import ConfigError, Location, ProjectError
from orch.yamldoc import YamlDoc, load_yaml

if TYPE_CHECKING:
    from orch.load.rendering import PackageScope

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
_KIND_NAMES = {"package": "dbt Hub", "private": "private git"}
DEFAULT_INSTALL_PATH = "dbt_packages"


@dataclass(frozen=True)
class DeclaredPackage:
    """One entry of packages.yml / dependencies.yml."""

    kind: str  # 'package' (dbt hub), 'git', 'local', 'tarball', 'private'
    spec: str  # what the entry names: hub name, git URL, local path
    guess: str  # the project name it most likely installs as
    location: Location
    entry: dict[str, Any]


@dataclass(frozen=True)
class InstalledPackage:
    """A package folder under the install path, with its own dbt_project.yml read."""

    name: str
    folder: Path
    prefix: str  # its files' paths relative to the root project start with this
    model_paths: list[str]
    seed_paths: list[str]
    macro_paths: list[str]
    test_paths: list[str]
    variables: dict[str, Any]
    models: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)  # its data_tests:/tests: blocks


def install_path(root: Path, configured: str | None) -> Path:
    """Where ``dbt deps`` puts packages."""
    return root / (configured or DEFAULT_INSTALL_PATH)


def read_declared(root: Path) -> list[DeclaredPackage]:
    """The packages packages.yml and dependencies.yml declare, with their positions.

    Raises ConfigError for an entry that is not one of dbt's package kinds.
    """
    declared = []
    for filename in PACKAGE_FILES:
        path = root / filename
        if not path.is_file():
            continue
        doc = load_yaml(path, filename)
        data = doc.data if isinstance(doc.data, dict) else {}
        entries = data.get("packages") or []
        if not isinstance(entries, list):
            raise ConfigError(f"'packages:' in {filename} must be a list",
                              location=doc.location(("packages",)),
                              hint="Write packages:\n  - package: dbt-labs/dbt_utils")  # fmt: skip
        for i, entry in enumerate(entries):
            declared.append(_declared(root, doc, i, entry))
    return declared


def _declared(root: Path, doc: YamlDoc, i: int, entry: Any) -> DeclaredPackage:
    where = doc.location(("packages", i))
    kinds = [k for k in ("package", "git", "local", "tarball", "private") if k in (entry or {})]
    if not isinstance(entry, dict) or len(kinds) != 1:
        raise ConfigError(
            f"{doc.path}: each package needs exactly one of package:, git:, local:, tarball:, "
            "private:",
            location=where,
            hint='e.g. - package: dbt-labs/dbt_utils\n    version: [">=1.0.0", "<2.0.0"]',
        )
    kind = kinds[0]
    spec = str(entry[kind])
    guess = spec.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git").replace("-", "_")
    if kind == "local":
        local = (root / spec).resolve()
        name = _project_name(local / "dbt_project.yml")
        guess = name or guess
    return DeclaredPackage(kind, spec, guess, where, entry)


def _project_name(path: Path) -> str | None:
    if not path.is_file():
        return None
    data = load_yaml(path, str(path)).data
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if name else None


def load_installed(
    root: Path,
    configured_path: str | None,
    render: Callable[[Any, YamlDoc], Any],
) -> list[InstalledPackage]:
    """Every package under the install path, checked against what is declared.

    ``render`` renders the ``{{ env_var() }}`` / ``{{ var() }}`` / ``{{ target }}`` strings of a
    package's dbt_project.yml, as the root project's are. A declared package that is not
    installed is an error at its packages.yml line.
    """
    declared = read_declared(root)
    base = install_path(root, configured_path)
    installed: list[InstalledPackage] = []
    if base.is_dir():
        for folder in sorted(p for p in base.iterdir() if (p / "dbt_project.yml").is_file()):
            installed.append(_read_package(root, folder, render))
    names = {p.name for p in installed}
    unmatched = len(installed) - len([d for d in declared if d.guess in names])
    for entry in declared:
        if entry.guess in names:
            continue
        if unmatched > 0:  # installed under another name than orch guesses (dbt counts too)
            unmatched -= 1
            continue
        shown = base.relative_to(root).as_posix() if base.is_relative_to(root) else str(base)
        raise ProjectError(
            f"the package '{entry.spec}' ({_KIND_NAMES.get(entry.kind, entry.kind)}) is "
            f"declared but not installed in {shown}/",
            location=entry.location,
            hint="Run 'orch deps' (local packages) or 'dbt deps' (hub and git packages need "
            "the network) to install it",
        )
    return installed


def _read_package(
    root: Path, folder: Path, render: Callable[[Any, YamlDoc], Any]
) -> InstalledPackage:
    rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
    doc = load_yaml(folder / "dbt_project.yml", f"{rel}/dbt_project.yml")
    data = render(doc.data, doc)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigError(
            "a package's dbt_project.yml needs a name", location=doc.location(),
            hint="Reinstall the package with 'dbt deps'",
        )  # fmt: skip

    def paths(key: str, default: list[str]) -> list[str]:
        value = data.get(key, data.get(key.replace("-", "_"), default))
        return [str(v) for v in value] if isinstance(value, list) else default

    name = data["name"]
    own_vars = data.get("vars") or {}
    variables = {k: v for k, v in own_vars.items() if not (k == name and isinstance(v, dict))}
    if isinstance(own_vars.get(name), dict):
        variables.update(own_vars[name])
    return InstalledPackage(
        name=name,
        folder=folder,
        prefix=f"{rel}/",
        model_paths=paths("model-paths", ["models"]),
        seed_paths=paths("seed-paths", ["seeds"]),
        macro_paths=paths("macro-paths", ["macros"]),
        test_paths=paths("test-paths", ["tests"]),
        variables=variables,
        models=data.get("models") or {},
        seeds=data.get("seeds") or {},
        tests=[t for t in (data.get("tests"), data.get("data_tests")) if isinstance(t, dict)],
    )


def package_vars(
    package: InstalledPackage, root_vars: dict[str, Any], cli_vars: dict[str, Any]
) -> dict[str, Any]:
    """dbt's vars for a package's nodes: package < root global < root ``<package>:`` < CLI."""
    merged = dict(package.variables)
    merged.update({k: v for k, v in root_vars.items() if k != package.name})
    scoped = root_vars.get(package.name)
    if isinstance(scoped, dict):
        merged.update(scoped)
    merged.update(cli_vars)
    return merged


def package_of(packages: dict[str, InstalledPackage], path: str) -> InstalledPackage | None:
    """The package a file (relative to the root project) belongs to."""
    for package in packages.values():
        if path.startswith(package.prefix):
            return package
    return None


def within(package: InstalledPackage, path: str) -> str:
    """``path`` relative to the package folder (``models/staging/x.sql``)."""
    return path[len(package.prefix) :] if path.startswith(package.prefix) else path


def fqn_config(tree: dict[str, Any], fqn: list[str]) -> list[dict[str, Any]]:
    """The ``+key`` settings along ``fqn`` in a ``models:`` tree, outermost first (dbt's walk:
    the tree's top level applies to every node, then each fqn level that exists)."""
    layers = [_plus_settings(tree)]
    node: Any = tree
    for part in fqn:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        layers.append(_plus_settings(node))
    return layers


def _plus_settings(node: dict[str, Any]) -> dict[str, Any]:
    """``+key`` settings, and settings written without ``+`` (dbt's older form)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not isinstance(key, str):
            continue
        if key.startswith("+"):
            out[key[1:]] = value
        elif key in MODEL_CONFIG_KEYS or key.replace("-", "_") in MODEL_CONFIG_KEYS:
            if not isinstance(value, dict) or key in ("meta", "column_types"):
                out[key] = value
    return out


def package_folder_layers(
    package: InstalledPackage, root_tree: dict[str, Any], own_tree: dict[str, Any], path: str
) -> list[dict[str, Any]]:
    """Folder settings of a package's model or seed: its own project's, then the root's."""
    fqn = fqn_of(package, path)
    return [*fqn_config(own_tree, fqn), *fqn_config(root_tree, fqn)]


def test_folder_layers(
    packages: dict[str, InstalledPackage],
    project_name: str,
    root_trees: list[dict[str, Any]],
    path: str,
    name: str,
) -> list[dict[str, Any]]:
    """The ``data_tests:``/``tests:`` folder settings of a test, lowest first: a package's own
    project file's, then the root's, along dbt's fqn of a test — the project, the folders of
    the file that declares it (below the model or test path), the test's name."""
    package = package_of(packages, path)
    if package is not None:
        fqn = [*fqn_of(package, path)[:-1], name]
        trees = [*package.tests, *root_trees]
    else:
        fqn = [project_name, *path.split("/")[1:-1], name]
        trees = root_trees
    return [layer for tree in trees for layer in fqn_config(tree, fqn)]


def fqn_of(package: InstalledPackage, path: str) -> list[str]:
    """dbt's fqn of a package's node: package, folders below the model path, name."""
    parts = within(package, path).split("/")
    return [package.name, *parts[1:-1], parts[-1].rsplit(".", 1)[0]]


# --------------------------------------------------------------------------- orch deps


@dataclass(frozen=True)
class DepsResult:
    """What ``orch deps`` did."""

    installed: list[tuple[str, str]]  # (package name, from)
    install_path: Path
    kept: list[tuple[str, str]] = field(default_factory=list)  # hub/git, already installed


def install_local(root: Path, configured_path: str | None) -> DepsResult:
    """Copy each ``local:`` package into the install path (replacing an older copy).

    Raises ProjectError naming the first hub/git/tarball entry: downloading needs the network,
    which orch never uses; the packages already installed by ``dbt deps`` are left alone.
    """
    declared = read_declared(root)
    if not declared:
        raise ProjectError(
            "no packages to install: there is no packages.yml or dependencies.yml with 'packages:'",
            location=Location(str(root)),
            hint="Declare packages in packages.yml, e.g. - local: ../my_package",
        )
    base = install_path(root, configured_path)
    remote = [d for d in declared if d.kind != "local"]
    installed_names = {
        _project_name(p / "dbt_project.yml") for p in base.iterdir() if p.is_dir()
    } if base.is_dir() else set()  # fmt: skip
    kept = []
    for entry in remote:
        if entry.guess in installed_names:
            kept.append((entry.guess, entry.spec))
        else:
            raise ProjectError(
                f"'{entry.spec}' is a {_KIND_NAMES.get(entry.kind, entry.kind)} package: "
                "installing it needs a download, "
                "and orch does not download packages",
                location=entry.location,
                hint="Run 'dbt deps' where the network is reachable (orch then uses what it "
                f"installed in {base.name}/), or vendor the package and declare it with local:",
            )
    done = []
    for entry in declared:
        if entry.kind != "local":
            continue
        source = (root / entry.spec).resolve()
        if not (source / "dbt_project.yml").is_file():
            raise ProjectError(
                f"the local package '{entry.spec}' has no dbt_project.yml (looked in {source})",
                location=entry.location,
                hint="Point local: at the package's folder, relative to the project",
            )
        target = base / entry.guess
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        base.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(
            "target", "dbt_packages", "logs", ".git", "*.duckdb"))  # fmt: skip
        done.append((entry.guess, entry.spec))
    return DepsResult(done, base, kept)


def read_install_path(root: Path) -> str | None:
    """``packages-install-path`` of the project file, without loading the project (whose load
    fails while packages are missing)."""
    path = root / "dbt_project.yml"
    if not path.is_file():
        raise ProjectError(
            f"no dbt_project.yml in '{root}': 'orch deps' installs a dbt project's packages",
            location=Location(str(root)),
            hint="Pass --project-dir pointing at the dbt project",
        )
    data = load_yaml(path, "dbt_project.yml").data
    value = data.get("packages-install-path") if isinstance(data, dict) else None
    return str(value) if value else None


# --------------------------------------------------------------------------- rendering


def dispatch_orders(raw: Any, doc: YamlDoc) -> dict[str, list[str]]:
    """``dispatch:`` of dbt_project.yml: macro_namespace -> search_order, checked."""
    if raw is None:
        return {}
    hint = (
        "Write dispatch:\n  - macro_namespace: dbt_utils\n    search_order: [my_project, dbt_utils]"
    )
    if not isinstance(raw, list):
        raise ConfigError("'dispatch:' must be a list", location=doc.location(("dispatch",)),
                          hint=hint)  # fmt: skip
    orders: dict[str, list[str]] = {}
    for i, entry in enumerate(raw):
        space = entry.get("macro_namespace") if isinstance(entry, dict) else None
        order = entry.get("search_order") if isinstance(entry, dict) else None
        if (
            not isinstance(space, str)
            or not isinstance(order, list)
            or not all(isinstance(o, str) for o in order)
        ):
            raise ConfigError(
                "each 'dispatch:' entry needs macro_namespace (a name) and search_order (a list "
                "of package names)",
                location=doc.location(("dispatch", i)),
                hint=hint,
            )
        orders[space] = list(order)
    return orders


def render_scopes(
    packages: dict[str, InstalledPackage], variables: dict[str, dict[str, Any]]
) -> list[PackageScope]:
    """The renderer's view of each package: its files' prefix and the vars its nodes see."""
    from orch.load.rendering import PackageScope  # Jinja: only when rendering, not at load

    return [PackageScope(p.name, p.prefix, variables.get(p.name, {})) for p in packages.values()]
