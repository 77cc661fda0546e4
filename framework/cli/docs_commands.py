"""``orch docs generate`` and ``orch docs serve``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click
from orch.cli.base import (
    cli,
    load_manifest,
    make_options,
    project_options,
    takes_workspace,
)

# --------------------------------------------------------------------------- docs


@cli.group("docs")
def docs_group() -> None:
    """The static lineage site: generate it, or serve it on localhost."""


@docs_group.command("generate")
@project_options
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder to write the site to (default: <project>/target/docs; for a workspace: "
    "target/workspace-docs beside orch_workspace.yml).",
)
@takes_workspace
def docs_generate_command(output: Path | None, **kwargs: Any) -> None:
    """Write the lineage site (HTML, CSS, JS and data; opens from file://, no network).

    Reads the state store read-only, so it is safe while a build runs; column types come from
    the warehouse catalog (while another build holds the warehouse: the last one read, with a
    warning).

    \b
    Examples:
      orch docs generate
      orch docs generate -o /tmp/site && open /tmp/site/index.html
      orch docs generate --workspace .   (one site for every member)
    """
    if kwargs.get("workspace") is not None:
        from orch.cli.workspace_views import docs_across

        return docs_across(kwargs["workspace"], make_options(kwargs), output)
    from orch.docs import generate_site
    from orch.docs.automation import automation_data
    from orch.docs.catalog import read_catalog
    from orch.run.workflow import open_state

    options = make_options(kwargs)
    result = load_manifest(options, scoped=False)
    out = output or result.project.target_dir / "docs"
    project = result.project
    with open_state(project.root, readonly=True, target=project.target) as reader:
        built = {a for a, _ in reader.latest_materializations(target=project.target_name)}
    catalog = read_catalog(project, result.manifest, built)  # the state store closed first
    with open_state(project.root, readonly=True, target=project.target) as reader:
        automation = automation_data(project, reader)
        stats = generate_site(
            result.manifest, reader, out, automation=automation, catalog=catalog.columns
        )
    if catalog.warning:  # after the site is written: an error writing it is the one message
        click.echo(f"Warning: {catalog.warning}", err=True)
    index = (out / "index.html").resolve()
    click.echo(
        f"Wrote the docs site for {stats.assets} assets and {stats.checks} checks "
        f"({stats.files} files, {stats.bytes / 1e6:.1f} MB) in {stats.seconds:.2f}s → "
        f"{index.as_uri()}"
    )


@docs_group.command("serve")
@project_options
@click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--dir",
    "site_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of the site (default: <project>/target/docs).",
)
def docs_serve_command(port: int, site_dir: Path | None, **kwargs: Any) -> None:
    """Serve the generated site on http://127.0.0.1:PORT (Ctrl-C stops it).

    \b
    Examples:
      orch docs generate && orch docs serve --port 8000
    """
    import http.server

    from orch.errors import UserError

    root = site_dir or Path(kwargs["project_dir"]) / "target" / "docs"
    if not (root / "index.html").is_file():
        raise UserError(
            f"no docs site in {root}", hint="Run 'orch docs generate' first (or pass --dir)."
        )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"Serving {root} on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        server.serve_forever()
