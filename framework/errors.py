"""The one exception hierarchy of orch.

Every error a user can cause says what is wrong, where (file:line:col) and what to do. The CLI turns
an :class:`OrchError` into a message on stderr and the class's ``exit_code``; only
:class:`InternalError` (a bug) shows a traceback.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class Location:
    """A place in a user's file; ``line`` and ``col`` are 1-based, 0 when unknown."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line and self.col:
            return f"{self.path}:{self.line}:{self.col}"
        if self.line:
            return f"{self.path}:{self.line}"
        return self.path


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The closest known names to ``name``, best first (difflib)."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=n)]
    return close


def suggestion(name: str, candidates: Iterable[str], *, closest: bool = False) -> str | None:
    """A 'Did you mean ...?' hint, or None when nothing is close.

    With ``closest``, only names about as close as the best one are offered, so a near-exact
    match stands alone (``stg_order`` → ``stg_orders``, not also ``orders``).
    """
    close = did_you_mean(name, candidates)
    if not close:
        return None
    if closest:
        scores = [difflib.SequenceMatcher(None, name.lower(), c.lower()).ratio() for c in close]
        close = [c for c, score in zip(close, scores, strict=True) if score >= max(scores) - 0.1]
    return "Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class OrchError(Exception):
    """Base of every error orch raises on purpose."""

    exit_code: ClassVar[int] = 1

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def format_message(self) -> str:
        """``path:line:col: message. hint`` — the one line the CLI prints."""
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text = (
                f"{text}. {self.hint}"
                if not text.endswith((".", "?", "!"))
                else f"{text} {self.hint}"
            )
        return text

    def __str__(self) -> str:
        return self.format_message()


class UserError(OrchError):
    """Bad input: nothing was run or written. Exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """A YAML or profile setting is missing, unknown or of the wrong type."""


class ProjectError(UserError):
    """The project's files cannot be turned into a graph."""


class SqlSyntaxError(ProjectError):
    """A model's SQL does not parse."""


class TemplateError(ProjectError):
    """A Jinja template fails to render."""


class UnknownReferenceError(ProjectError):
    """A table name is neither a model, a seed nor a declared source."""


class AmbiguousReferenceError(ProjectError):
    """A table name matches more than one asset."""


class DuplicateNameError(ProjectError):
    """Two files define the same asset name."""


class CycleError(ProjectError):
    """The dependencies form a cycle."""


class UnsupportedFeatureError(ProjectError):
    """A feature orch does not support (yet), named with its file."""


class ContractBrokenError(ProjectError):
    """A public model's columns break what it last shipped with, and other projects read it."""


class SelectionError(UserError):
    """A selection expression is malformed or names nothing known."""


class PartitionError(UserError):
    """A partition key or range does not fit its definition."""


class LockHeldError(UserError):
    """Another orch process holds the run lock of this target."""


class WarehouseConnectionError(UserError):
    """The warehouse cannot be reached or opened (locked file, bad credentials, unwritable path)."""


class FilesystemError(UserError):
    """A file or folder orch needs cannot be read or written (read-only, full, in the way)."""


class ExecutionError(OrchError):
    """Something failed while running. Exit code 1."""

    exit_code = 1


class ModelFailedError(ExecutionError):
    """A model failed to materialize."""


class ResourceError(ExecutionError):
    """A resource failed to set up: the steps that need it fail, naming it."""


class CheckFailedError(ExecutionError):
    """A check found failing rows at error severity."""


class BlockingCheckFailedError(CheckFailedError):
    """A blocking check failed on staged data, which was therefore not published."""

    def __init__(
        self, message: str, *, check: str, quarantine: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.check = check
        self.quarantine = quarantine


class StorageError(ExecutionError):
    """An IO manager could not store an output or load an input (a location, a file, a type)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.path = path


class WarehouseError(ExecutionError):
    """The warehouse rejected a statement."""

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message, location=location, hint=hint)
        self.sql = sql
        self.transient = transient


class InternalError(OrchError):
    """A bug in orch: the CLI shows the traceback."""

    exit_code = 3


class ErrorGroup(UserError):
    """Several user errors found in one pass, sorted by file, capped for display."""

    MAX_SHOWN: ClassVar[int] = 20

    def __init__(self, errors: list[UserError]) -> None:
        self.errors = sorted(errors, key=_error_sort_key)
        super().__init__(self._render())
        self.exit_code = max(e.exit_code for e in errors)  # type: ignore[misc]

    def _render(self) -> str:
        lines = [e.format_message() for e in self.errors[: self.MAX_SHOWN]]
        if len(self.errors) > self.MAX_SHOWN:
            lines.append(f"... and {len(self.errors) - self.MAX_SHOWN} more")
        return "\n".join(lines)

    def format_message(self) -> str:
        return self.message


def _error_sort_key(err: OrchError) -> tuple[str, int, int]:
    loc = err.location
    return (loc.path, loc.line, loc.col) if loc else ("", 0, 0)


def raise_collected(errors: list[UserError]) -> None:
    """Raise nothing, the single error, or an :class:`ErrorGroup`."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorGroup(errors)


NAME_PATTERN_HINT = "Use letters, digits and underscores, not starting with a digit"


def decoding_error(err: UnicodeDecodeError, shown: str, raw: bytes | None = None) -> ProjectError:
    """The error for a file that is not UTF-8 text: the file, the line and the byte offset.

    ``raw`` (the file's bytes, when the caller has them) turns the offset into a line and column.
    """
    data = raw if raw is not None else err.object
    offset = err.start
    byte = data[offset : offset + 1].hex() if isinstance(data, bytes) else ""
    line = col = 0
    if isinstance(data, bytes):
        line = data.count(b"\n", 0, offset) + 1
        col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    what = "binary, not UTF-8 text" if isinstance(data, bytes) and b"\x00" in data else "not UTF-8"
    return ProjectError(
        f"the file is {what}: byte 0x{byte} at offset {offset} cannot be decoded",
        location=Location(shown, line, col),
        hint="Save the file as UTF-8 text, or move it out of the project's folders",
    )


def os_error(err: OSError) -> FilesystemError:
    """A filesystem error (a read-only folder, a file where a folder should be, a full disk, no
    permission) as a user error naming the path and what to do."""
    path = os.fsdecode(err.filename) if err.filename else ""
    what = err.strerror or str(err)
    code = err.errno
    if code in (errno.EEXIST, errno.ENOTDIR):
        blocker = _file_in_the_way(path)
        if blocker:
            return FilesystemError(
                f"{blocker} is a file, but orch needs a folder there",
                hint="Remove or rename the file",
            )
        hint = "A file stands where orch needs a folder: remove or rename it"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        hint = "Free some disk space (or raise the quota) and run the command again"
    elif code == errno.EROFS:
        hint = "The filesystem is read-only: run orch from a writable copy of the project"
    elif code in (errno.EACCES, errno.EPERM):
        hint = "Make it writable (chmod/chown) or run orch from a writable copy of the project"
    elif code == errno.EISDIR:
        hint = "A folder stands where orch needs a file: remove or rename it"
    else:
        hint = "Check the path and its permissions"
    return FilesystemError(f"{what}: {path}" if path else what, hint=hint)


def _file_in_the_way(path: object) -> str | None:
    """The first part of ``path`` that exists and is not a folder (where a folder is needed)."""
    if not isinstance(path, str | bytes) or not path:
        return None
    parts = Path(os.fsdecode(path))
    for candidate in (*reversed(parts.parents), parts):
        if candidate.exists() and not candidate.is_dir():
            return str(candidate)
    return None


def read_user_text(path: Path, shown: str | None = None) -> str:
    """A user's text file (a model, a YAML file, a macro) as UTF-8 text.

    A file that is not UTF-8 (or is binary) raises a :class:`ProjectError` naming the file, the
    line and the byte offset, instead of a UnicodeDecodeError.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise decoding_error(err, shown or str(path), raw) from None
