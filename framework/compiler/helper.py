"""A forked helper process that parses and compiles most of a cold project's SQL models.

A cold compile spends most of its time in per-model work: rendering and parsing each file, then
its compiled SQL, column lineage and column versions. The models of one layer of the DAG do not
depend on each other, so a second process does two models in three while this one does the rest
(and the serial work: plans, nodes, checks, the manifest):

- **parse**: the helper renders and parses its share; this process reads its results back as
  cache entries (:func:`orch.load.parsing.parse_models`), as a warm load reads them;
- **compile**: the compiler sends a model's relation, its resolved references and its upstream
  nodes (slimmed: relation, columns, an ephemeral's SQL) once they are compiled; the helper, which
  kept that model's parsed tree, returns what ``SqlCompiler._compile_sql`` returns — the same dict
  the compile cache stores. Requests stream: a thread of the helper reads them as they come, the
  helper compiles what it has first in compile order first and sends each result when done.
  Which models go there, and what this process does while it waits, is
  :class:`orch.compiler.helper_feed.HelperFeed`'s job.

Everything else — the nodes, errors, warnings, the cache — stays in this process, in the order
of a serial compile, so the manifest is byte-identical (``bench/compare_manifests.py``). A model
the helper cannot do (a user error, a bug) comes back as None and this process does it itself,
raising the same error. Used only when it pays and is safe: a full compile of at least
:data:`MIN_MODELS` SQL models with nothing in the compile cache, on Linux with two CPUs or
more, from a process running no other thread (``orch ui`` and the daemon compile beside their
server threads). ``ORCH_COMPILE_HELPER=0`` turns it off, ``=1`` forces it (tests).
"""

from __future__ import annotations

import gc
import heapq
import logging
import mmap
import multiprocessing
import os
import pickle
import queue
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import connection
from typing import TYPE_CHECKING, Any, NamedTuple

from orch.compiler.artifacts import write_compiled
from orch.load.parsing import parse_for_cache
from orch.manifest import Node, RelationInfo

if TYPE_CHECKING:
    from orch.load.cache import ResultCache
    from orch.load.parsing import ParsedModel
    from orch.load.project import Project
    from orch.load.rendering import Renderer

log = logging.getLogger(__name__)

HERE_PER_CLAIM, THERE_PER_CLAIM = 1, 2  # models claimed at a time to parse, here and there
MIN_MODELS = 400  # below this, forking and sending the results cost more than they save
ENV_VAR = "ORCH_COMPILE_HELPER"

# what the helper compiles with: (models it parsed) -> an object with _compile_sql and nodes
CompilerFactory = Callable[[dict[str, "ParsedModel"]], Any]
# the model's place in the compile order, its name, relation, refs, the upstream nodes not sent
# before, and the model when the helper did not parse it (without its tree: parsed there again)
Item = tuple[int, str, Any, Any, dict[str, "Upstream"], "ParsedModel | None"]


def wanted(project: Project, cache: ResultCache) -> bool:
    """Whether a full compile of ``project`` should use a helper process."""
    setting = os.environ.get(ENV_VAR, "")
    if setting == "0" or not sys.platform.startswith("linux"):
        return False  # fork is unsafe on macOS and absent on Windows
    if threading.active_count() > 1:
        return False  # another thread may hold a lock (logging, imports) the helper would need
    if setting == "1":
        return True
    if project.flavor != "orch" or cache.has_entries():
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    sql = sum(1 for m in project.models.values() if m.language == "sql")
    return (cpus or 1) >= 2 and sql >= MIN_MODELS


class Claims:
    """The models of a split parse, claimed in name order by both processes as each goes: the
    faster parses more, and neither waits for the other at the end. The next index to claim
    is in shared memory under a lock, both made before the fork."""

    def __init__(self) -> None:
        self._lock = multiprocessing.get_context("fork").Lock()
        self._next = mmap.mmap(-1, 8)  # anonymous and shared: the next index, a signed int64

    def names(self, names: list[str], per_claim: int) -> Iterator[str]:
        """The names this process claims, ``per_claim`` at a time, until none is left (or the
        lock is not had within 10 s: the other process died holding it; the models nobody
        claimed are parsed by the compiling process, :func:`orch.load.parsing.parse_models`)."""
        while True:
            if not self._lock.acquire(timeout=10):
                return
            try:
                start = struct.unpack_from("q", self._next)[0]
                end = min(start + per_claim, len(names))
                struct.pack_into("q", self._next, 0, end)
            finally:
                self._lock.release()
            if start >= end:
                return
            yield from names[start:end]


class CompileHelper:
    """The parent's side of the helper process (see the module docstring)."""

    def __init__(self, project: Project, renderer: Renderer, factory: CompilerFactory) -> None:
        parent, child = connection.Pipe(duplex=True)
        self._conn = parent
        self._claims = Claims()  # made before the fork: both processes share it
        self.pid = os.fork()
        if self.pid == 0:  # the helper: serve requests, never return into the caller's code
            parent.close()
            code = 1
            try:
                gc.freeze()  # the inherited objects: never scanned, so their pages stay shared
                _serve(child, project, renderer, factory, self._claims)
                code = 0
            finally:
                os._exit(code)
        child.close()
        self.owned: set[str] = set()  # parsed there: compiled there too
        self.sent: set[str] = set()  # upstream nodes the helper has
        self.outstanding: set[str] = set()  # sent to compile, no result yet
        self.results: dict[str, dict[str, Any] | None] = {}
        self.compiled = 0  # results received
        self._cancelled: set[str] = set()  # taken back: their results, if any come, are dropped
        self._closed = False
        self._files_done = False  # the helper said it wrote every file it was sent
        self._files_error: OSError | None = None

    # -- parse (orch.load.parsing.ParseElsewhere)

    def share(self, names: list[str]) -> Iterator[str]:
        """The models of ``names`` this process parses, claimed one at a time as it goes; the
        helper claims two at a time meanwhile (:class:`Claims`). It compiles what it parsed,
        and this process has the serial work besides (plans, nodes, checks, the manifest): with
        half each, this process was the busier (CPU 1.9 s against 1.4 s at 1,000 models), and
        with a fixed share the faster one waited for the other at the end of the parse (7 s of
        a 10,000-model compile when the machine's other work took the helper's CPU)."""
        self._conn.send(("parse", names))
        yield from self._claims.names(names, HERE_PER_CLAIM)

    def parsed(self) -> dict[str, tuple[str, dict[str, Any]] | None]:
        """The helper's cache entries of the models it claimed (None: one it could not parse;
        none at all if it stopped)."""
        entries: dict[str, tuple[str, dict[str, Any]] | None] = {}
        while not self._closed:
            kind, payload = self._receive()
            if kind == "parsed":
                entries = payload
                break
        self.owned = {name for name, entry in entries.items() if entry is not None}
        return entries

    # -- compiled files (orch.compiler.artifacts.FilesElsewhere): written there while it waits

    def write(self, staging: str, batch: list[tuple[str, str | None]]) -> bool:
        """Have the helper write ``batch`` under ``staging`` when it has nothing to compile."""
        if self._closed:
            return False
        try:
            self._conn.send(("write", (staging, batch)))
        except OSError:
            self.close()
            return False
        return True

    def finish(self) -> tuple[bool, OSError | None]:
        """Stop the helper once it has written every batch: whether it said so, and the
        first error it met writing."""
        self.close()
        return self._files_done, self._files_error

    # -- compile

    @property
    def closed(self) -> bool:
        """Whether the helper stopped (or was stopped): nothing more comes from it."""
        return self._closed

    def send(self, items: list[Item]) -> None:
        """Ask for the compiled SQL of ``items``; the helper does them in their order's turn
        (the first item of each), one result at a time, while more may be sent."""
        if self._closed:
            return
        for _, _, _, _, nodes, _ in items:
            self.sent.update(nodes)
        try:
            self._conn.send(("compile", items))
        except OSError:
            self.close()
            return
        self.outstanding.update(item[1] for item in items)

    def cancel(self, name: str) -> None:
        """Take ``name`` back (this process compiles it): the helper skips it if it has not
        started it."""
        self.outstanding.discard(name)
        self._cancelled.add(name)
        if not self._closed:
            try:
                self._conn.send(("cancel", name))
            except OSError:
                self.close()

    def poll(self) -> None:
        """Take every result that has arrived, without waiting."""
        try:
            while self.outstanding and not self._closed and self._conn.poll():
                self._take(*self._receive())
        except OSError:
            self.close()

    def result(self, name: str) -> dict[str, Any] | None:
        """``name``'s compiled SQL (waiting for it), or None: compile it here."""
        while name not in self.results and name in self.outstanding and not self._closed:
            self._take(*self._receive())
        return self.results.pop(name, None)

    def _take(self, kind: str, payload: Any) -> None:
        if kind != "compiled":
            return
        name, result = payload
        self.outstanding.discard(name)
        if name in self._cancelled:
            self._cancelled.discard(name)
            return
        self.compiled += result is not None
        self.results[name] = result

    def _receive(self) -> tuple[str, Any]:
        """The next message; on a failure of the helper itself (it stopped), none: this
        process then does everything that is left."""
        if not self._closed:
            try:
                kind, payload = self._conn.recv()
                if kind != "error":
                    return kind, payload
                log.debug("the compile helper failed: %s", payload)
            except (EOFError, OSError) as err:
                log.debug("the compile helper stopped: %s", err)
            self.close()
        return "stopped", None

    def close(self) -> None:
        """Stop the helper and wait for it."""
        if self._closed:
            return
        log.debug("the compile helper: %d models parsed there, %d compiled there",
                  len(self.owned), self.compiled)  # fmt: skip
        self._closed = True
        self.owned = set()
        self.outstanding = set()
        try:
            self._conn.send(("stop", None))
            while True:  # its last word: the files it was sent are written (or an error)
                kind, payload = self._conn.recv()
                if kind == "stopped":
                    self._files_done, self._files_error = True, payload
                    break
        except (EOFError, OSError):
            pass
        self._conn.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class UpstreamColumn(NamedTuple):
    """What the helper's compiler reads of an upstream column (a tuple: pickled in a fifth of
    the time a ColumnInfo takes, each way)."""

    data_type: str | None


@dataclass(frozen=True)
class Upstream:
    """What the helper's compiler reads of an upstream node: where it is and its columns
    (plain values: pydantic's ``model_construct`` costs more than the whole transfer)."""

    relation: RelationInfo | None
    columns: dict[str, UpstreamColumn]
    compiled_code: str  # an ephemeral model's SQL (its CTE), else ""


def slim_node(node: Node) -> Upstream:
    """``node`` as the helper needs it."""
    ephemeral_sql = node.compiled_code if node.relation is None else ""
    columns = {name: UpstreamColumn(info.data_type) for name, info in node.columns.items()}
    return Upstream(node.relation, columns, ephemeral_sql)


def _serve(
    conn: connection.Connection,
    project: Project,
    renderer: Renderer,
    factory: CompilerFactory,
    claims: Claims,
) -> None:
    """The helper's loop: requests are read by a thread (so the parent's sends never wait for
    this process to finish a model), models compiled here one at a time, first in order first,
    each result sent as soon as it is done."""
    inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    threading.Thread(target=_read, args=(conn, inbox), daemon=True).start()
    parsed: dict[str, ParsedModel] = {}
    compiler: Any = None
    pending: list[tuple[int, str, Any, Any, ParsedModel | None]] = []  # a heap by order
    cancelled: set[str] = set()
    writes: list[tuple[str, list[tuple[str, str | None]]]] = []  # files to write when idle
    made: set[str] = set()
    error: OSError | None = None
    while True:
        try:
            messages = [inbox.get()] if not pending and not writes else []
            while True:
                try:
                    messages.append(inbox.get_nowait())
                except queue.Empty:
                    break
            for kind, payload in messages:
                if kind == "stop":
                    for staging, batch in writes:
                        error = _write_files(staging, batch, made, error)
                    conn.send(("stopped", error))
                    return
                if kind == "write":
                    writes.append(payload)
                if kind == "parse":
                    names = claims.names(payload, THERE_PER_CLAIM)
                    parsed, entries = parse_for_cache(project, renderer, names)
                    compiler = factory(parsed)
                    conn.send(("parsed", entries))
                elif kind == "compile":
                    for index, name, relation, refs, nodes, model in payload:
                        compiler.nodes.update(nodes)
                        heapq.heappush(pending, (index, name, relation, refs, model))
                elif kind == "cancel":
                    cancelled.add(payload)
            if pending:
                _, name, relation, refs, model = heapq.heappop(pending)
                if name in cancelled:
                    cancelled.discard(name)
                    continue
                conn.send(("compiled", (name, _compile(compiler, parsed, name, relation, refs,
                                                       model))))  # fmt: skip
            elif writes:  # nothing to compile: write files meanwhile
                staging, batch = writes.pop(0)
                error = _write_files(staging, batch, made, error)
        except (KeyboardInterrupt, SystemExit):
            return
        except BaseException as err:  # noqa: B036 - reported to the parent, which stops it
            try:
                conn.send(("error", repr(err)))
            except (OSError, pickle.PicklingError):
                pass
            return


def _read(conn: connection.Connection, inbox: queue.SimpleQueue[tuple[str, Any]]) -> None:
    """Put every request into ``inbox`` as it arrives (a thread of the helper)."""
    while True:
        try:
            inbox.put(conn.recv())
        except (EOFError, OSError):
            inbox.put(("stop", None))
            return


def _write_files(
    staging: str, batch: list[tuple[str, str | None]], made: set[str], error: OSError | None
) -> OSError | None:
    """Write a batch of compiled files in order, none after the first error (returned)."""
    for item in batch:
        if error is not None:
            break
        error = write_compiled(staging, item, made)
    return error


def _compile(
    compiler: Any,
    parsed: dict[str, ParsedModel],
    name: str,
    relation: Any,
    refs: Any,
    model: ParsedModel | None,
) -> dict[str, Any] | None:
    if model is not None:
        parsed[name] = model
    try:
        return compiler._compile_sql(parsed[name], relation, refs)  # type: ignore[no-any-return]
    except Exception:  # a user error or a bug: the parent meets it again, and reports it
        return None
