"""``orch ui``: a live web UI over the same front-end as the static docs site.

- :mod:`orch.ui.live` — the site's payloads from the state store as it is now
- :mod:`orch.ui.runs` — launches in worker processes (:mod:`orch.ui.worker`), their events
- :mod:`orch.ui.history` — the run list and one run's events
- :mod:`orch.ui.server` — the Starlette app: pages, the JSON API, server-sent events, security
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import uvicorn
from orch.compiler import compile_or_reuse
from orch.compiler.artifacts import CompileResult
from orch.config import RunOptions
from orch.run.workflow import open_state
from orch.state import StateReader, StateStore
from orch.ui.live import LiveSite
from orch.ui.runs import RunManager
from orch.ui.server import UiServer, create_app, is_loopback

__all__ = ["UiApp", "build_app", "build_workspace_app", "is_loopback", "new_token", "serve"]


def new_token() -> str:
    """A fresh per-server token."""
    return secrets.token_urlsafe(24)


@dataclass
class UiApp:
    """The ASGI app and what it holds (the tests start it with uvicorn in a thread)."""

    app: Any
    server: UiServer
    token: str

    def close(self) -> None:
        """Stop launched runs still going."""
        self.server.runs.close()


def build_app(
    options: RunOptions,
    *,
    token: str | None = None,
    loopback: bool = True,
    compiled: CompileResult | None = None,
) -> UiApp:
    """The ``orch ui`` application for the project of ``options``."""
    compiled = compiled or compile_or_reuse(options)
    project = compiled.project

    def open_reader() -> StateReader:
        return open_state(project.root, readonly=True, target=project.target)

    def open_writer() -> StateStore:
        return open_state(project.root, target=project.target)

    site = LiveSite(compiled, lambda: compile_or_reuse(options), open_reader)
    base_spec = {
        "project_dir": str(project.root),
        "profiles_dir": str(options.profiles_dir) if options.profiles_dir else None,
        "target": options.target,
    }
    runs = RunManager(base_spec, project.target_name, open_reader)
    token = token or new_token()
    server = UiServer(site, runs, open_reader, open_writer, token)
    return UiApp(create_app(server, loopback=loopback), server, token)


def build_workspace_app(
    workspace: Any, options: RunOptions, *, token: str | None = None, loopback: bool = True
) -> UiApp:
    """The ``orch ui --workspace`` application: every member's assets in one graph."""
    from orch.ui.workspace import (
        WorkspaceLiveSite,
        WorkspaceReader,
        WorkspaceRunManager,
        WorkspaceUiServer,
        workspace_spec,
    )

    site = WorkspaceLiveSite(workspace, options)

    def open_reader() -> StateReader:
        return cast(StateReader, WorkspaceReader(site.graph))

    def open_writer() -> Any:
        raise NotImplementedError("a workspace writes each switch to its member's store")

    runs = WorkspaceRunManager(workspace_spec(workspace, options), site)
    token = token or new_token()
    server = WorkspaceUiServer(site, runs, open_reader, open_writer, token)
    return UiApp(create_app(server, loopback=loopback), server, token)


def serve(
    ui: UiApp,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``ui`` until Ctrl-C; launched runs still going are interrupted on the way out."""
    config = uvicorn.Config(ui.app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{port}/")
    try:
        server.run()
    finally:
        ui.close()
