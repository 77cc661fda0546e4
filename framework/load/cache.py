"""An on-disk cache of parse and compile results, keyed by content hashes.

One JSON file under ``target/``. Keys already include everything a result depends on (file text,
macros, vars, target, orch and sqlglot versions), so a hit is always valid; an unreadable, corrupt
or foreign file is ignored, never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orch
from orch.errors import read_user_text
from orch.yamldoc import YamlDoc, parse_yaml

log = logging.getLogger(__name__)

# 2: partition.start/end render as CAST(... AS TIMESTAMP); 3: sources keep external_location
CACHE_FORMAT = 3


def _code_digest() -> str:
    """A hash of orch's own source: an edited orch (editable install) never trusts old results."""
    h = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.read_bytes())
    return h.hexdigest()[:16]


SALT = (
    f"orch={orch.__version__};sqlglot={version('sqlglot')};format={CACHE_FORMAT};"
    f"code={_code_digest()}"
)


def content_key(*parts: str) -> str:
    """A stable hash of several strings (with the cache salt)."""
    h = hashlib.sha256(SALT.encode())
    for part in parts:
        h.update(b"\x00")
        h.update(part.encode())
    return h.hexdigest()


KEY_FILE = ".orch/cache.key"  # the per-project key of env_digest (0600, created on first use)
_keys: dict[Path, bytes] = {}
_keys_lock = threading.Lock()


def _project_key(root: Path) -> bytes:
    """The project's random HMAC key, created under ``.orch/`` (mode 0600) on first use.

    When it cannot be created or read (a read-only folder), a key for this process only: the
    cache then never matches an entry that depends on an env var, which costs speed, not safety.
    """
    root = root.resolve()
    with _keys_lock:
        found = _keys.get(root)
        if found is not None:
            return found
        path = root / KEY_FILE
        try:
            if not path.parent.exists():  # like the state store: nothing in .orch/ is committed
                path.parent.mkdir(parents=True)
                (path.parent / ".gitignore").write_text("*\n", encoding="utf-8")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                key = bytes.fromhex(path.read_text(encoding="ascii").strip())
            else:
                key = secrets.token_bytes(32)
                with os.fdopen(fd, "w", encoding="ascii") as out:
                    out.write(key.hex())
            if len(key) < 16:
                raise ValueError("key too short")
        except (OSError, ValueError) as err:
            log.debug("no cache key under %s (%s): using one for this process", path, err)
            key = secrets.token_bytes(32)
        _keys[root] = key
        return key


def env_digest(names: set[str] | list[str], root: Path) -> str:
    """A keyed hash (HMAC-SHA256, the project's key) of the values of env vars ``names``.

    The cache keeps it to notice a changed value. Keyed, because a plain hash of a secret is a
    way to test guesses of it offline; the key never leaves ``.orch/``.
    """
    if not names:
        return ""  # nothing to hash: no key needed (and no .orch/ created)
    values = [(name, os.environ.get(name)) for name in sorted(set(names))]
    payload = json.dumps(values).encode()
    return hmac.new(_project_key(root), payload, hashlib.sha256).hexdigest()


class ResultCache:
    """A key -> JSON-able dict store, loaded once and saved once per command."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self.hits = 0
        self.misses = 0
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("salt") != SALT:
            log.debug("ignoring cache %s: written by another version", path)
            return
        entries = data.get("entries")
        if isinstance(entries, dict):
            self._entries = entries

    def has_entries(self) -> bool:
        """Whether anything is stored (False: a cold start)."""
        return bool(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None."""
        value = self._entries.get(key)
        if isinstance(value, dict):
            self.hits += 1
            return value
        self.misses += 1
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store a value (written at :meth:`save`)."""
        self._entries[key] = value
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically if anything changed; failures only cost speed."""
        if self.path is None or not self._dirty:
            return
        text = json.dumps({"salt": SALT, "entries": self._entries}, separators=(",", ":"))
        if write_cache_file(self.path, text):
            self._dirty = False


YAML_CACHE_FILE = "yaml_cache.json"


class YamlDocCache:
    """Parsed property files (data and positions) by content hash, under ``target/``.

    Parsing YAML with positions is most of a warm command's loading; a file whose text did not
    change is taken from here. Only documents that JSON keeps exactly (string keys, plain
    scalars — no dates, no non-string keys) are stored; the others are parsed every time.
    """

    def __init__(self, path: Path | None) -> None:
        self._cache = ResultCache(path)

    def load(self, path: Path, shown: str) -> YamlDoc:
        """The document of ``path`` (shown as ``shown`` in errors), parsed or from the cache."""
        return self.parse(read_user_text(path, shown), shown)

    def parse(self, text: str, shown: str) -> YamlDoc:
        """The document of ``text`` (a file shown as ``shown``), parsed or from the cache."""
        key = content_key("yaml", shown, text)
        hit = self._cache.get(key)
        if hit is not None:
            positions = {tuple(k): (line, col) for k, line, col in hit["positions"]}
            return YamlDoc(shown, hit["data"], positions)
        doc = parse_yaml(text, shown)
        if _json_exact(doc.data):
            self._cache.put(
                key,
                {"data": doc.data,
                 "positions": [[list(k), line, col] for k, (line, col) in doc.positions.items()]},
            )  # fmt: skip
        return doc

    def save(self) -> None:
        """Write new entries (once per command)."""
        self._cache.save()


# The project file and profiles.yml are read before the target folder is known (the project
# file names it): their parsed documents are kept under .orch/ instead, when that folder exists
# (a project that was run once), so that a warm command imports no YAML parser at all.
STARTUP_YAML_CACHE_FILE = ".orch/yaml_cache.json"


def startup_yaml_cache(root: Path) -> YamlDocCache | None:
    """The cache of the documents read at start-up (see above); None before ``.orch/`` exists."""
    path = root / STARTUP_YAML_CACHE_FILE
    return YamlDocCache(path) if path.parent.is_dir() else None


def _json_exact(value: Any) -> bool:
    """Whether ``value`` comes back from JSON as it went in (dict keys str, plain scalars)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return value is None or isinstance(value, (str, bool, int))


FILE_DIGESTS_FILE = "file_digests.json"


class FileDigests:
    """The SHA-256 of input files, reused while a file's ``stat`` is unchanged (git's index idea).

    Deciding whether ``manifest.json`` is still valid hashes every input file; reading a thousand
    files costs more than the rest of that check. An entry is trusted only while the file's size,
    modification and change times (``st_ctime`` moves on every write and every ``utime``) and
    inode are the ones recorded. A file modified in the last :attr:`RACY_S` seconds is hashed but
    not recorded, so an edit within the file system's timestamp granularity is never missed.
    Stored under ``target/``; an unreadable or foreign file is ignored.
    """

    RACY_S = 2.0

    def __init__(self, path: Path | None, markers: tuple[bytes, ...] = ()) -> None:
        self.path = path
        self.markers = markers  # byte strings whose presence is recorded per file
        self._entries: dict[str, list[Any]] = {}
        self._seen: set[str] = set()
        self._dirty = False
        salt = f"{SALT};markers={[m.decode() for m in markers]}"
        self._salt = salt
        if path is None:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("salt") == salt:
            files = data.get("files")
            if isinstance(files, dict):
                self._entries = files

    def digest(self, path: Path) -> tuple[str, bool] | None:
        """``(hex digest, whether a marker occurs)`` of the file's bytes; None when unreadable."""
        name = str(path)
        self._seen.add(name)
        try:
            st = os.stat(name)
        except OSError:
            return None
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = self._entries.get(name)
        if entry is not None and len(entry) == 6 and entry[:4] == stamp:
            return str(entry[4]), bool(entry[5])
        try:
            data = path.read_bytes()
        except OSError:
            return None
        found = (hashlib.sha256(data).hexdigest(), any(m in data for m in self.markers))
        recent = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < self.RACY_S * 1e9
        if recent:
            self._entries.pop(name, None)
        else:
            self._entries[name] = [*stamp, *found]
        self._dirty = True
        return found

    def save(self) -> None:
        """Write the entries if any changed (atomically); a failure only costs speed."""
        if self.path is None or not self._dirty:
            return
        files = {k: v for k, v in self._entries.items() if k in self._seen}  # drop deleted
        text = json.dumps({"salt": self._salt, "files": files}, separators=(",", ":"))
        if write_cache_file(self.path, text):
            self._dirty = False


def write_cache_file(path: Path, text: str) -> bool:
    """Write a cache file atomically (a temporary file renamed over it); False when it could
    not be written, which only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        log.debug("could not write cache %s: %s", path, err)
        return False
    return True
