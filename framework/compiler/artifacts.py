"""Compile results and the artifacts written from them (``manifest.json``, ``compiled/``).

A warm command should not pay for a compile: :func:`orch.compiler.compile_or_reuse` hashes every
input of a compile (:func:`project_key`) and, when it equals the key written beside
``manifest.json``, reads that manifest instead (:func:`reuse_manifest`). This module therefore
stays light: it never imports sqlglot or Jinja.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orch import redaction
from orch.load.cache import FILE_DIGESTS_FILE, FileDigests, content_key, env_digest
from orch.load.project import Project
from orch.manifest import Manifest

MANIFEST_FILE = "manifest.json"
# a dbt project's target/manifest.json is dbt's (compiler/dbt_artifacts.py); orch's sits beside it
DBT_FLAVOR_MANIFEST_FILE = "orch_manifest.json"
MANIFEST_KEY_FILE = "manifest.key.json"


def manifest_file(project: Project) -> str:
    """The file name of orch's manifest in the target folder."""
    return DBT_FLAVOR_MANIFEST_FILE if project.flavor == "dbt" else MANIFEST_FILE


# Jinja that renders differently on every run: a project using these is recompiled each time.
VOLATILE_MARKERS = (b"run_started_at", b"modules.datetime", b"invocation_id")


@dataclass
class CompileResult:
    """The compiled project and what was learned on the way."""

    project: Project
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)
    cache_hits: int = 0
    cache_misses: int = 0
    scoped: bool = False
    project_key: str = ""  # hash of every input: equal keys give the same manifest
    env_vars: list[str] = field(default_factory=list)  # env vars the models read
    unchanged: bool = False  # the manifest on disk was reused: nothing to write
    compiled_files: CompiledFilesWriter | None = None  # written during the compile, see below


def project_key(project: Project) -> str:
    """A hash of every input of a compile: config, target, vars and each file's content.

    Empty when the project uses Jinja that changes on every run (never reuse then). Env vars read
    by models are not known before a compile: they are stored with the key and compared by
    :func:`reuse_manifest`.
    """
    parts = [
        project.flavor,
        project.target_name,
        project.config.model_dump_json(),
        project.target.model_dump_json(),
        json.dumps(project.variables, sort_keys=True, default=str),
        json.dumps(sorted(project.macro_files.items())),
        project.foreign.identity() if project.foreign is not None else "",
    ]
    macros = "".join(project.macro_files.values()).encode()
    if any(marker in macros for marker in VOLATILE_MARKERS):
        return ""
    # a project whose property files are unread has no unit test fixtures: compile_or_reuse
    # defers them only when the manifest key says so (deferrable), and that key covers the files
    unit_tests = [] if project.properties_pending else project.unit_tests
    paths = [
        *(m.abs_path for m in project.models.values()),
        *(s.abs_path for s in project.seeds.values()),
        *(project.root / p for p in project.check_files.values()),
        *project.docs_files,
        *project.yaml_files,
        project.root / "selectors.yml",
        *(p.folder / "dbt_project.yml" for p in project.packages.values()),
        *(f for spec in unit_tests for f in spec.fixture_files),
        *([project.root / project.config.definitions] if project.config.definitions else []),
    ]
    digests = FileDigests(project.target_dir / FILE_DIGESTS_FILE, VOLATILE_MARKERS)
    for path in sorted(set(paths), key=lambda p: p.parts):  # Path order, computed faster
        found = digests.digest(path)  # a file's stat unchanged: its recorded hash, no read
        if found is None:
            parts.append(f"{path}:missing")
            continue
        digest, volatile = found
        if volatile:
            return ""
        parts.append(f"{path}:{digest}")
    digests.save()
    return content_key(*parts)


def read_key_meta(project: Project) -> dict[str, Any]:
    """What ``manifest.key.json`` holds: the key, env vars, warnings; ``{}`` when unreadable."""
    try:
        meta = json.loads((project.target_dir / MANIFEST_KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def properties_deferrable(meta: dict[str, Any]) -> bool:
    """Whether the key can be computed without reading the property files: the manifest it
    vouches for had no unit test fixture files (whose paths only the property files give)."""
    return meta.get("fixture_files") == 0 and isinstance(meta.get("property_warnings"), list)


def reuse_manifest(
    project: Project, key: str, *, lazy: bool = False, meta: dict[str, Any] | None = None
) -> CompileResult | None:
    """The manifest on disk, when it was compiled from exactly these inputs; else None.

    ``lazy``: its nodes are validated when first used (``Manifest.read``), for a command that
    reads only a few of them. ``meta``: ``manifest.key.json`` already read (:func:`read_key_meta`).
    """
    target_dir = project.target_dir
    if meta is None:
        meta = read_key_meta(project)
    try:
        if meta.get("key") != key or meta.get("env") != env_digest(
            meta.get("env_vars", []), project.root
        ):
            return None
        manifest = Manifest.read(target_dir / manifest_file(project), lazy=lazy)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    for name in meta.get("env_vars", []):
        value = os.environ.get(name)
        if value is not None:
            redaction.register(name, value)
    # the property files unread: their warnings as the compile that read them recorded them
    unread = meta.get("property_warnings", []) if project.properties_pending else []
    return CompileResult(
        project=project,
        manifest=manifest,
        warnings=[*project.warnings, *unread, *meta.get("warnings", [])],
        cache_hits=len(manifest.nodes),
        project_key=key,
        env_vars=list(meta.get("env_vars", [])),
        unchanged=True,
    )


def write_artifacts(result: CompileResult) -> None:
    """Write ``manifest.json``, its input key and ``compiled/`` SQL under the target folder."""
    if result.unchanged:
        return
    target_dir = result.project.target_dir
    key_file = target_dir / MANIFEST_KEY_FILE
    key_file.unlink(missing_ok=True)  # never leave a key that vouches for another manifest
    result.manifest.write(target_dir / manifest_file(result.project))
    if result.project.flavor == "dbt":  # dbt's own manifest.json, for dbt tooling
        from orch.compiler.dbt_artifacts import write_dbt_manifest

        write_dbt_manifest(result.manifest, result.project, target_dir / MANIFEST_FILE)
    if result.compiled_files is not None:
        result.compiled_files.commit()
        _write_key(result, key_file)
        return
    compiled_root = target_dir / "compiled"
    for node in result.manifest.nodes.values():
        if node.resource_type != "model" or not node.path or not node.compiled_code:
            continue
        out = (compiled_root / node.path).with_suffix(".sql")
        _write_if_changed(out, node.compiled_code)
    for check in result.manifest.checks.values():  # target/compiled/checks/<name>.sql
        if check.sql:
            _write_if_changed(compiled_root / "checks" / f"{check.name}.sql", check.sql)
    _write_key(result, key_file)


def _write_key(result: CompileResult, key_file: Path) -> None:
    if result.project_key and not result.scoped:
        key_file.write_text(
            json.dumps(
                {
                    "key": result.project_key,
                    "env_vars": result.env_vars,
                    "env": env_digest(result.env_vars, result.project.root),
                    "warnings": result.warnings[len(result.project.warnings) :],
                    # what lets the next command skip reading the property files
                    "property_warnings": result.project.property_warnings,
                    "fixture_files": sum(
                        len(spec.fixture_files) for spec in result.project.unit_tests
                    ),
                }
            ),
            encoding="utf-8",
        )


def _write_if_changed(path, text: str) -> None:  # type: ignore[no-untyped-def]
    content = text.rstrip() + "\n"
    try:
        if path.read_text(encoding="utf-8") == content:
            return
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


class FilesElsewhere(Protocol):
    """Where ``target/compiled/`` files may be written instead of in this process (the compile
    helper, orch.compiler.helper.CompileHelper)."""

    def write(self, staging: str, batch: list[tuple[str, str | None]]) -> bool:
        """Take a batch of ``(relative path, text, or None: remove it)`` to write, in order;
        False: it cannot (write them here)."""

    def finish(self) -> tuple[bool, OSError | None]:
        """Wait until it has written every batch taken: whether it did (False: they may not
        all be written), and the first error it met."""


class CompiledFilesWriter:
    """Writes ``target/compiled/`` while the compiler works, into a staging folder that
    :meth:`commit` swaps in only after the whole compile succeeded, so a failed compile leaves
    ``compiled/`` exactly as it was (:meth:`abort`).

    Creating a small file costs 10–250 µs of system time here, ~0.2 s for a 1,000-model
    project: when the compile has a helper process (:attr:`elsewhere`), files go to it in
    batches and it writes them while it waits for work; otherwise each is written when added.
    (A writer thread, as before, cost more than it saved: each of its system calls handed the
    GIL back and forth with the compiler, whose own calls — the helper's pipe — then waited.)
    """

    STAGING_PREFIX = ".compiled-"
    BATCH = 64  # files per message to the helper

    def __init__(self, target_dir: Path) -> None:
        self.final = target_dir / "compiled"
        self.staging = target_dir / f"{self.STAGING_PREFIX}{os.getpid()}"
        for leftover in target_dir.glob(f"{self.STAGING_PREFIX}*"):  # from a killed compile
            shutil.rmtree(leftover, ignore_errors=True)
        self.elsewhere: FilesElsewhere | None = None
        self._batch: list[tuple[str, str | None]] = []
        self._sent: list[tuple[str, str | None]] = []  # to elsewhere, not known written yet
        self._error: OSError | None = None
        self._made: set[str] = set()  # folders made, relative to the staging folder

    def add(self, relative_path: str, text: str) -> None:
        """Write one file (path relative to ``compiled/``); an error is raised by :meth:`commit`."""
        self._put((relative_path, text.rstrip() + "\n"))

    def remove(self, relative_path: str) -> None:
        """Remove a file added before (a check replaced by one without SQL)."""
        self._put((relative_path, None))

    def _put(self, item: tuple[str, str | None]) -> None:
        if self.elsewhere is None:
            self._write(item)
            return
        self._batch.append(item)
        if len(self._batch) >= self.BATCH:
            self._send()

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        if self.elsewhere is not None and self.elsewhere.write(str(self.staging), batch):
            self._sent.extend(batch)
        else:
            for item in batch:
                self._write(item)

    def detach(self) -> None:
        """Stop writing elsewhere: wait for what was sent there (what it could not write is
        written here, in order); later files are written here."""
        if self.elsewhere is None:
            return
        self._send()
        elsewhere, self.elsewhere = self.elsewhere, None
        done, error = elsewhere.finish()
        sent, self._sent = self._sent, []
        if done:
            if error is not None and self._error is None:
                self._error = error
        else:
            for item in sent:
                self._write(item)

    def _write(self, item: tuple[str, str | None]) -> None:
        if self._error is None:
            self._error = write_compiled(str(self.staging), item, self._made)

    def commit(self) -> None:
        """Replace ``compiled/`` with the files written."""
        self.detach()
        if self._error is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise self._error
        self.staging.mkdir(parents=True, exist_ok=True)
        old = self.final.with_name(f"{self.STAGING_PREFIX}old-{os.getpid()}")
        if self.final.exists():
            self.final.rename(old)
        self.staging.rename(self.final)
        shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Drop what was written: ``compiled/`` stays as it was."""
        self.detach()
        shutil.rmtree(self.staging, ignore_errors=True)


def write_compiled(staging: str, item: tuple[str, str | None], made: set[str]) -> OSError | None:
    """Write (text) or remove (None) one file under ``staging``; the error, if any. ``made``:
    the folders made so far (relative), updated."""
    relative_path, text = item
    try:
        if text is None:
            Path(staging, relative_path).unlink(missing_ok=True)
            return None
        folder = os.path.dirname(relative_path)
        if folder not in made:
            Path(staging, folder).mkdir(parents=True, exist_ok=True)
            made.add(folder)
        _write_text(f"{staging}/{relative_path}", text)
    except OSError as err:
        return err
    return None


def _write_text(path: str, text: str) -> None:
    """``Path(path).write_text(text, encoding="utf-8")`` in three system calls and no file
    object."""
    if os.linesep != "\n":
        text = text.replace("\n", os.linesep)  # what a text file writes
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(text.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
