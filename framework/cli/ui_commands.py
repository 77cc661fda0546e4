"""``orch ui``: the live web UI."""

from __future__ import annotations

from typing import Any

import click
from orch.cli.base import cli, load_manifest, make_options, project_options, takes_workspace


@cli.command("ui")
@project_options
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=3000,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs the printed token.",
)
@click.option(
    "--token",
    default=None,
    envvar="ORCH_UI_TOKEN",
    help="The server's token (default: a new random one). [env: ORCH_UI_TOKEN]",
)
@takes_workspace
def ui_command(port: int, host: str, token: str | None, **kwargs: Any) -> None:  # fmt: skip
    """Serve the live UI: the asset graph and catalog with live state; launch, watch, cancel
    and re-execute runs; switch schedules and sensors on and off (Ctrl-C stops it).

    Binds 127.0.0.1 by default. Every request that changes something carries the server's
    token (the page has it); on any other address every request needs it.

    \b
    Examples:
      orch ui
      orch ui --port 8000
      orch ui --workspace .     (every member; a changed member is reloaded)
    """
    from orch.ui import build_app, build_workspace_app, is_loopback, serve

    options = make_options(kwargs)
    loopback = is_loopback(host)
    if kwargs.get("workspace") is not None:
        from orch.load.workspace import load_workspace

        workspace = load_workspace(kwargs["workspace"])
        _warn_host(host, loopback)
        ui = build_workspace_app(workspace, options, token=token, loopback=loopback)
        errors = ui.server.site.load_errors()  # type: ignore[attr-defined]
        for item in errors:
            click.echo(f"Error: {item['member']} did not load: {item['error']}", err=True)
        name = f"workspace {workspace.root.name} ({len(workspace.members)} members)"
        serve(ui, host=host, port=port, on_ready=lambda url: _ready(url, name, loopback, ui.token))
        return
    compiled = load_manifest(options, scoped=False)
    _warn_host(host, loopback)
    ui = build_app(options, token=token, loopback=loopback, compiled=compiled)
    name = compiled.project.name
    serve(ui, host=host, port=port, on_ready=lambda url: _ready(url, name, loopback, ui.token))


def _warn_host(host: str, loopback: bool) -> None:
    if not loopback:
        click.echo(
            f"Warning: --host {host} is reachable from other machines. Anyone who can reach it "
            "and has the token can launch runs; every request needs the token.",
            err=True,
        )


def _ready(url: str, name: str, loopback: bool, token: str) -> None:
    if loopback:
        click.echo(f"orch ui for {name} on {url} (Ctrl-C to stop)")
    else:
        click.echo(f"orch ui for {name}: open {url}?token={token}")
