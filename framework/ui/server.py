"""The ``orch ui`` web server: Starlette routes over :class:`LiveSite` and :class:`RunManager`.

Pages are the static site's front-end (``templates/docs``) with live data; the JSON API under
``/api/`` is what its live views call. Security:

- Binds 127.0.0.1 unless told otherwise. On loopback, a request whose ``Host`` is not a loopback
  name is refused (a DNS-rebinding page cannot reach the API).
- Every request that changes something (launch, cancel, re-execute, toggle) is a POST carrying the
  per-server token in the ``X-Orch-Token`` header. The token is in the page's ``<meta>`` (a
  cross-site page cannot read it) and a custom header forces a CORS preflight this server never
  answers, so no cross-site form or script can launch a run.
- On another host every request needs the token: ``/?token=…`` once sets an HttpOnly,
  SameSite=Strict cookie.
- Answers carry a strict Content-Security-Policy; every payload is JSON built from manifest and
  state values, which never hold a secret's value (``env_var()`` stays a placeholder), and the
  worker's output passes :func:`orch.redaction.scrub`.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from orch.automation.toggles import set_enabled
from orch.config import RunOptions
from orch.docs import render_page, static_dir
from orch.docs.catalog import catalog_schemas
from orch.errors import LockHeldError, UserError
from orch.selection import Selection
from orch.state import StateReader
from orch.ui.history import run_detail, run_list
from orch.ui.live import LiveSite
from orch.ui.runs import LiveRun, RunManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER = "x-orch-token"
COOKIE = "orch_ui_token"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_BODY = 64 * 1024
_CHUNK = re.compile(r"a(\d{1,7})\.js")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only."""
    return host in LOOPBACK_NAMES or host.startswith("127.")


class ApiError(Exception):
    """An answer with an HTTP status and a message (404 unknown, 400 bad input, 403, 409)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


class Guard:
    """ASGI middleware: the Host check, the token on state-changing requests, safe headers."""

    def __init__(self, app: ASGIApp, *, token: str, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    def _refuse(self, status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if self.loopback and not is_loopback(host):
            await self._refuse(400, f"unexpected Host header '{host}'")(scope, receive, send)
            return
        header = request.headers.get(TOKEN_HEADER, "")
        cookie = request.cookies.get(COOKIE, "")
        authorised = any(hmac.compare_digest(v, self.token) for v in (header, cookie) if v)
        if not self.loopback and not authorised:
            given = request.query_params.get("token", "")
            if request.url.path == "/" and given and hmac.compare_digest(given, self.token):
                response: Response = RedirectResponse("/", status_code=303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
                await response(scope, receive, send)
                return
            await self._refuse(401, "this server needs its token: open /?token=TOKEN")(
                scope, receive, send
            )
            return
        if request.method not in ("GET", "HEAD"):
            if not header or not hmac.compare_digest(header, self.token):
                await self._refuse(403, "missing or wrong X-Orch-Token header")(
                    scope, receive, send
                )
                return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


Handler = Callable[[Any, Request], Awaitable[Response]]


def api(handler: Handler) -> Handler:
    """JSON errors for API handlers: ApiError and UserError become {"error", "hint"}."""

    @functools.wraps(handler)
    async def wrapped(self: Any, request: Request) -> Response:
        try:
            return await handler(self, request)
        except ApiError as err:
            return JSONResponse({"error": err.message, "hint": err.hint}, status_code=err.status)
        except LockHeldError as err:
            return JSONResponse(
                {"error": err.format_message(), "hint": err.hint, "locked": True}, status_code=409
            )
        except UserError as err:
            return JSONResponse({"error": err.format_message(), "hint": err.hint}, status_code=400)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(400, "request body too large")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise ApiError(400, f"request body is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ApiError(400, f"'{key}' must be a list of non-empty strings")
    return [v.strip() for v in value]


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"'{key}' must be a string")
    return value.strip()


class UiServer:
    """The app's state: the live site, the launched runs, the token."""

    def __init__(
        self,
        site: LiveSite,
        runs: RunManager,
        open_reader: Callable[[], StateReader],
        open_writer: Callable[[], Any],
        token: str,
    ) -> None:
        self.site = site
        self.runs = runs
        self.open_reader = open_reader
        self.open_writer = open_writer
        self.token = token
        runs.on_finish.append(lambda _: self._after_run())
        self._catalog_schemas()

    def _catalog_schemas(self) -> None:
        """Each worker reads these schemas' column types at the end of its run (docs.catalog)."""
        schemas = catalog_schemas(self.site.manifest)
        self.runs.base_spec["catalog_schemas"] = [list(s) for s in schemas]

    def _after_run(self) -> None:
        self.site.recompile()
        self._catalog_schemas()

    def write_switch(self, name: str, enabled: bool) -> None:
        """Store a schedule's or sensor's On/Off switch."""
        with self.open_writer() as store:
            set_enabled(store, name, enabled)

    # ----------------------------------------------------------------- pages

    async def index(self, request: Request) -> Response:
        m = self.site.manifest
        page = render_page(
            m, datetime.now().astimezone().isoformat(timespec="seconds"),
            automation=True, live_token=self.token,
        )  # fmt: skip
        return HTMLResponse(page)

    async def data_js(self, request: Request) -> Response:
        text = await asyncio.to_thread(self.site.index_js)
        return Response(text, media_type="text/javascript; charset=utf-8")

    async def chunk_js(self, request: Request) -> Response:
        match = _CHUNK.fullmatch(request.path_params["name"])
        text = await asyncio.to_thread(self.site.chunk_js, int(match.group(1))) if match else None
        if text is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(text, media_type="text/javascript; charset=utf-8")

    # ----------------------------------------------------------------- assets

    @api
    async def assets(self, request: Request) -> Response:
        _, body = await asyncio.to_thread(self.site.assets_json)
        return Response(body, media_type="application/json")

    @api
    async def version(self, request: Request) -> Response:
        """The state's version alone: what the page polls (the asset list only when it moved)."""
        await asyncio.to_thread(self.site.builder)
        return JSONResponse({"version": self.site.version, **self.site.graph_info()})

    @api
    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        detail = await asyncio.to_thread(self.site.detail, name)
        if detail is None:
            raise ApiError(404, f"unknown asset '{name}'")
        return JSONResponse(detail)

    # ----------------------------------------------------------------- runs

    @api
    async def run_list(self, request: Request) -> Response:
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", "100")), 1), 1000)
        except ValueError:
            raise ApiError(400, "'limit' must be a number") from None
        filters = {k: q.get(k) or None for k in ("status", "asset", "job", "since", "command")}
        rows = await asyncio.to_thread(
            run_list, self.open_reader, self.site.target, self.runs, limit=limit, **filters
        )
        return JSONResponse({"runs": rows})

    @api
    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        detail = await asyncio.to_thread(run_detail, self.open_reader, self.runs, run_id)
        if detail is None:
            raise ApiError(404, f"unknown run '{run_id}'")
        return JSONResponse(detail)

    async def run_events(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        live = self.runs.get(run_id)
        if live is None:
            return JSONResponse({"error": f"run '{run_id}' is not running here"}, status_code=404)
        return StreamingResponse(_stream(live, request), media_type="text/event-stream")

    @api
    async def launch(self, request: Request) -> Response:
        data = await _body(request)
        kind = data.get("kind", "build")
        fields: dict[str, Any] = {}
        if kind in ("build", "backfill"):
            select = _strings(data, "select")
            if not select:
                raise ApiError(400, "nothing selected: 'select' names the assets to materialize")
            fields["select"] = select
            fields["exclude"] = _strings(data, "exclude")
            label = ("materialize " if kind == "build" else "backfill ") + " ".join(select)
        elif kind == "job":
            job = _optional_string(data, "job")
            if not job:
                raise ApiError(400, "'job' names the job to run")
            fields["job"] = job
            label = f"job {job}"
        else:
            raise ApiError(
                400, f"unknown launch kind '{kind}'", hint="One of: build, backfill, job"
            )
        for key in ("partition", "start", "end"):
            fields[key] = _optional_string(data, key)
        if fields["partition"] and (fields["start"] or fields["end"]):
            raise ApiError(400, "give a partition or a range (start/end), not both")
        if kind == "backfill":
            if fields["partition"] or not (fields["start"] and fields["end"]):
                raise ApiError(400, "a backfill needs a range: 'start' and 'end' partition keys")
            fields["confirm"] = bool(data.get("confirm", False))
            label += f" {fields['start']}..{fields['end']}"
        vars_ = data.get("vars") or {}
        if isinstance(vars_, str):
            try:
                vars_ = json.loads(vars_) if vars_.strip() else {}
            except ValueError as err:
                raise ApiError(400, f"'vars' is not JSON: {err}") from None
        if not isinstance(vars_, dict):
            raise ApiError(400, "'vars' must be a JSON object")
        fields["vars"] = vars_
        fields["full_refresh"] = bool(data.get("full_refresh", False))
        if kind in ("build", "backfill"):
            self._check_selection(fields["select"], fields["exclude"])
        run = await asyncio.to_thread(self.runs.launch, kind, label, fields)
        return JSONResponse({"run": run.run_id, "label": run.label}, status_code=202)

    def _check_selection(self, select: list[str], exclude: list[str]) -> None:
        """Refuse a selection that is malformed or matches no asset, before anything starts."""
        options = RunOptions(project_dir=self.site.compiled.project.root, select=tuple(select),
                             exclude=tuple(exclude))  # fmt: skip
        chosen = Selection.from_options(options).evaluate(self.site.manifest).assets
        if not any(self.site.manifest.nodes[n].resource_type in ("model", "seed") for n in chosen):
            raise ApiError(400, f"'{' '.join(select)}' selects no model or seed to materialize")

    @api
    async def retry(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        detail = await asyncio.to_thread(run_detail, self.open_reader, self.runs, run_id)
        if detail is None:
            raise ApiError(404, f"unknown run '{run_id}'")
        run = await asyncio.to_thread(
            self.runs.launch, "retry", f"re-execute {run_id[:8]} from failure",
            {"retry_of": run_id},
        )  # fmt: skip
        return JSONResponse({"run": run.run_id, "label": run.label}, status_code=202)

    @api
    async def cancel(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if self.runs.get(run_id) is None:
            raise ApiError(404, f"run '{run_id}' was not launched from this server")
        run = self.runs.cancel(run_id)
        return JSONResponse({"run": run.run_id, "cancelled": True}, status_code=202)

    @api
    async def lock(self, request: Request) -> Response:
        try:
            await asyncio.to_thread(self.runs.check_lock)
        except LockHeldError as err:
            return JSONResponse({"locked": True, "holder": err.format_message()})
        return JSONResponse({"locked": False, "holder": None})

    # ----------------------------------------------------------------- automation

    @api
    async def automation(self, request: Request) -> Response:
        data = await asyncio.to_thread(self.site.automation)
        return JSONResponse(data or {"jobs": [], "schedules": [], "sensors": [], "error": None})

    @api
    async def toggle(self, request: Request) -> Response:
        name = request.path_params["name"]
        data = await _body(request)
        enabled = data.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "'enabled' must be true or false")
        auto = await asyncio.to_thread(self.site.automation)
        known = {d["name"] for d in (auto or {}).get("schedules", []) + (auto or {}).get(
            "sensors", [])}  # fmt: skip
        if name not in known:
            raise ApiError(404, f"unknown schedule or sensor '{name}'")

        await asyncio.to_thread(self.write_switch, name, enabled)
        return JSONResponse({"name": name, "enabled": enabled})

    async def not_found(self, request: Request) -> Response:
        return JSONResponse({"error": f"no such endpoint: {request.url.path}"}, status_code=404)


async def _stream(run: LiveRun, request: Request) -> Any:
    """Server-sent events: each batch of new events as one ``data:`` line, then ``end``."""
    index = 0
    while True:
        batch = run.since(index)
        if batch:
            index += len(batch)
            yield f"data: {json.dumps(batch, default=str)}\n\n"
        elif run.finished:
            yield "event: end\ndata: {}\n\n"
            return
        else:
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.1)


def create_app(server: UiServer, *, loopback: bool = True) -> Starlette:
    """The Starlette application of ``server``."""
    s = server
    routes = [
        Route("/", s.index),
        Route("/index.html", s.index),
        Route("/data.js", s.data_js),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/data/{name}", s.chunk_js),
        Mount("/static", app=StaticFiles(directory=str(static_dir())), name="static"),
        Route("/api/assets", s.assets),
        Route("/api/version", s.version),
        Route("/api/assets/{name:path}", s.asset),
        Route("/api/runs", s.run_list),
        Route("/api/runs/{run_id}", s.run),
        Route("/api/runs/{run_id}/events", s.run_events),
        Route("/api/runs/{run_id}/cancel", s.cancel, methods=["POST"]),
        Route("/api/runs/{run_id}/retry", s.retry, methods=["POST"]),
        Route("/api/launch", s.launch, methods=["POST"]),
        Route("/api/lock", s.lock),
        Route("/api/automation", s.automation),
        Route("/api/automation/{name}/toggle", s.toggle, methods=["POST"]),
        Route("/api/{rest:path}", s.not_found, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(Guard, token=server.token, loopback=loopback)
    return app


__all__ = ["ApiError", "UiServer", "create_app", "is_loopback"]
