"""``orch debug`` and ``orch --version``: what orch found, which versions run, whether it connects.

:func:`diagnose` never raises for a user's mistake: each check records OK or FAILED with what to
do, and :attr:`Diagnosis.exit_code` says how it went (0 all passed, 1 the connection failed,
2 the project or profile cannot be read). Secrets are masked: a ``SecretStr`` setting, a setting
whose name says it is one, and any value that came from ``env_var()``.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

import orch
from orch import redaction
from orch.config import ADAPTER_ENTRY_POINT_GROUP, RunOptions
from orch.errors import OrchError, UserError
from orch.load.project import PROJECT_FILES, Project, load_project, profiles_candidates
from pydantic import SecretStr

MASK = "********"
# Settings masked whatever their type (a third-party target may keep them as plain strings).
SECRET_KEYS = frozenset(
    {"password", "token", "private_key", "private_key_passphrase", "private_key_password"}
)


@dataclass(frozen=True)
class CheckResult:
    """One line of ``orch debug``: what was checked, whether it passed, what to do if not."""

    name: str
    ok: bool
    detail: str


@dataclass
class Diagnosis:
    """Everything ``orch debug`` reports."""

    project_file: Path | None = None
    profile_file: Path | None = None
    profile_candidates: list[Path] = field(default_factory=list)
    target_name: str | None = None
    target_type: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    versions: list[tuple[str, str]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    config_failed: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every check passed; 2 when the configuration cannot be read; else 1."""
        if self.config_failed:
            return 2
        return 0 if all(c.ok for c in self.checks) else 1


def installed_versions() -> list[tuple[str, str]]:
    """(what, version) for orch, Python, sqlglot, duckdb and each installed adapter."""
    out = [
        ("orch", orch.__version__),
        ("python", platform.python_version()),
        ("sqlglot", _package_version("sqlglot")),
        ("duckdb", _package_version("duckdb")),
    ]
    for ep in sorted(entry_points(group=ADAPTER_ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist
        package = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "?"
        out.append((f"adapter {ep.name}", f"{package} ({ep.value})"))
    return out


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def diagnose(options: RunOptions) -> Diagnosis:
    """Find the project and profile, describe the target, and test the connection."""
    found = Diagnosis(versions=installed_versions())
    root = options.project_dir.resolve()
    found.project_file = next((root / n for n in PROJECT_FILES if (root / n).is_file()), None)
    try:
        project = load_project(options)
    except OrchError as err:
        found.checks.append(CheckResult("project and profile", False, _message(err)))
        found.config_failed = isinstance(err, UserError)
        dbt = found.project_file is not None and found.project_file.name == "dbt_project.yml"
        found.profile_candidates = profiles_candidates(root, options, "dbt" if dbt else "orch")
        found.profile_file = next((p for p in found.profile_candidates if p.is_file()), None)
        return found
    found.profile_candidates = profiles_candidates(root, options, project.flavor)
    found.profile_file = next((p for p in found.profile_candidates if p.is_file()), None)
    found.checks.append(CheckResult("project and profile", True, "read and valid"))
    found.target_name = project.target_name
    found.target_type = project.target.type
    found.settings = masked_settings(project)
    found.checks.append(_connection_check(project))
    return found


def masked_settings(project: Project) -> dict[str, str]:
    """The target's settings as text, secrets replaced by ``********``."""
    out: dict[str, str] = {}
    target = project.target
    for key, value in target.model_dump(by_alias=True, exclude_none=True).items():
        if isinstance(value, SecretStr) or key.lower() in SECRET_KEYS:
            out[key] = MASK
            continue
        text = str(value)
        out[key] = MASK if redaction.scrub(text) != text else text
    return out


def _connection_check(project: Project) -> CheckResult:
    from orch.adapters import get_adapter

    try:
        adapter = get_adapter(project.target, project.root)
        with adapter:
            adapter.fetch_rows("SELECT 1")
    except OrchError as err:
        return CheckResult("connection", False, _message(err))
    except ImportError as err:  # the adapter's driver is not installed
        return CheckResult(
            "connection",
            False,
            redaction.scrub(
                f"the {project.target.type} adapter cannot load its driver: {err}. Install it "
                f"in this environment (e.g. pip install 'orch[{project.target.type}]')"
            ),
        )
    return CheckResult("connection", True, f"opened the {project.target.type} target, ran SELECT 1")


def _message(err: OrchError) -> str:
    return redaction.scrub(err.format_message())
