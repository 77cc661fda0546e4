"""Errors raised while rendering a template, and how they become user errors at file:line."""

from __future__ import annotations

import re
import traceback

from orch import redaction
from orch.errors import (
    Location,
    ProjectError,
    TemplateError,
    UnsupportedFeatureError,
    suggestion,
)


class UnsupportedCallError(Exception):
    """A dbt context function orch does not offer (it would query the warehouse at render time)."""

    def __init__(self, call: str, reason: str = "") -> None:
        super().__init__(call)
        self.call = call
        self.reason = reason or "it needs the warehouse while rendering, or dbt's dispatch"


class RenderFault(Exception):
    """A user error found while rendering (``adapter.dispatch`` finding nothing...): becomes a
    TemplateError at the template's file and line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class MissingVarError(Exception):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known


class MissingEnvVarError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def template_line(err: BaseException, path: str) -> int:
    """The template line of the innermost traceback frame that belongs to ``path``."""
    line = 0
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == path and frame.lineno:
            line = frame.lineno
    return line


def template_error(err: BaseException, path: str, source: str) -> ProjectError:
    line = template_line(err, path)
    if isinstance(err, MissingVarError):
        line = line or find_line(source, rf"var\(\s*['\"]{re.escape(err.name)}['\"]")
        return TemplateError(
            f"var('{err.name}') is not defined",
            location=Location(path, line),
            hint=suggestion(err.name, err.known)
            or "Define it under 'vars:' in orch_project.yml, pass --vars, or give a default",
        )
    if isinstance(err, MissingEnvVarError):
        line = line or find_line(source, rf"env_var\(\s*['\"]{re.escape(err.name)}['\"]")
        return TemplateError(
            f"environment variable '{err.name}' is not set",
            location=Location(path, line),
            hint="Set it, or give env_var() a default: env_var('NAME', 'default')",
        )
    if isinstance(err, TemplateError):
        return err
    if isinstance(err, RenderFault):
        return TemplateError(err.message, location=Location(path, line),
                             hint=err.hint or "Fix the template")  # fmt: skip
    if isinstance(err, UnsupportedCallError):
        line = line or find_line(source, re.escape(err.call.split("(")[0]))
        return UnsupportedFeatureError(
            f"{err.call} is not supported by orch ({err.reason})",
            location=Location(path, line),
            hint="Replace it with plain SQL or a macro orch can render (see docs/dbt.md)",
        )
    message = redaction.scrub(str(err)) or type(err).__name__
    return TemplateError(
        f"Jinja error: {message}", location=Location(path, line), hint="Fix the template"
    )


def find_line(source: str, pattern: str) -> int:
    match = re.search(pattern, source)
    return source.count("\n", 0, match.start()) + 1 if match else 0
