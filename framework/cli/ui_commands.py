"""``orch ui``: the live web UI."""

from __future__ import annotations

from typing import Any

import click
from orch.cli.base import cli, load_manifest, make_options, project_options


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
def ui_command(port: int, host: str, token: str | None, **kwargs: Any) -> None:  # fmt: skip
    """Serve the live UI: the asset graph and catalog with live state; launch, watch, cancel
    and re-execute runs; switch schedules and sensors on and off (Ctrl-C stops it).

    Binds 127.0.0.1 by default. Every request that changes something carries the server's
    token (the page has it); on any other address every request needs it.

    \b
    Examples:
      orch ui
      orch ui --port 8000
    """
    from orch.ui import build_app, is_loopback, serve

    options = make_options(kwargs)
    compiled = load_manifest(options, scoped=False)
    loopback = is_loopback(host)
    if not loopback:
        click.echo(
            f"Warning: --host {host} is reachable from other machines. Anyone who can reach it "
            "and has the token can launch runs; every request needs the token.",
            err=True,
        )
    ui = build_app(options, token=token, loopback=loopback, compiled=compiled)

    def ready(url: str) -> None:
        if loopback:
            click.echo(f"orch ui for {compiled.project.name} on {url} (Ctrl-C to stop)")
        else:
            click.echo(f"orch ui for {compiled.project.name}: open {url}?token={ui.token}")

    serve(ui, host=host, port=port, on_ready=ready)
