"""``orch deps``: install a dbt project's local packages into dbt_packages/."""

from __future__ import annotations

from pathlib import Path

import click
from orch.cli.base import cli


@cli.command("deps")
@click.option(
    "--project-dir",
    type=click.Path(path_type=Path),
    default=".",
    show_default=True,
    help="Folder holding dbt_project.yml and packages.yml.",
)
@click.option("--debug", is_flag=True, hidden=True)
def deps_command(project_dir: Path, debug: bool) -> None:
    """Install the packages of packages.yml / dependencies.yml that need no download.

    Each `local:` package is copied into dbt_packages/ (or packages-install-path), replacing
    an older copy. Hub and git packages need a download, which orch never does: run `dbt deps`
    (orch uses what it installs), or vendor the package and declare it with `local:`.

    \b
    Examples:
      orch deps
      orch deps --project-dir path/to/dbt_project
    """
    from orch.load.dbt_packages import install_local, read_install_path

    root = project_dir.resolve()
    result = install_local(root, read_install_path(root))
    shown = result.install_path.relative_to(root) if result.install_path.is_relative_to(root) \
        else result.install_path  # fmt: skip
    for name, source in result.installed:
        click.echo(f"Installed {name} from {source} into {shown}/{name}")
    for name, spec in result.kept:
        click.echo(f"Kept {name} ({spec}): already installed in {shown}/{name}")
