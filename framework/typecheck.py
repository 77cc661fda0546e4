"""Type checks of the values ops pass: ``orch.Type`` and checks derived from plain annotations.

:func:`check_value` answers, for an annotation and a value, None (the value fits) or a short
description of what the value is and why it does not fit. Plain annotations check themselves:
``int``, ``str``, ``list[str]``, ``dict[str, float]``, ``X | None``, tuples, pydantic models and
any class by ``isinstance``; polars/pandas/Arrow frames are recognized by their class name (so this
module imports none of them). :class:`Type` is a named check of the user's own, and
:func:`frame_type` a frame type with a column schema.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Type", "check_value", "describe_type", "describe_value", "frame_type"]

_NOTHING = (None, Any, inspect.Parameter.empty, object)
_FRAME_CLASSES = {
    "polars.dataframe.frame.DataFrame": "polars",
    "polars.lazyframe.frame.LazyFrame": "polars",
    "pandas.core.frame.DataFrame": "pandas",
    "pyarrow.lib.Table": "arrow",
}


@dataclass(frozen=True)
class Type:
    """A named type check: ``check(value)`` returns True (passes) or False / a message (fails).

    Example::

        PositiveInt = orch.Type("PositiveInt", check=lambda v: isinstance(v, int) and v > 0,
                                description="an int above zero")

        @op
        def double(n: PositiveInt) -> PositiveInt: ...
    """

    name: str
    check: Callable[[Any], bool | str | None]
    description: str = ""

    def __repr__(self) -> str:
        return self.name

    def __call__(self, value: Any) -> str | None:
        """None if ``value`` passes, else why it does not."""
        try:
            verdict = self.check(value)
        except Exception as err:  # a user's check that raises is a failed check, said so
            return f"{describe_value(value)} (the check raised {type(err).__name__}: {err})"
        if verdict is True or verdict is None:
            return None
        if isinstance(verdict, str):
            return f"{describe_value(value)}: {verdict}"
        return describe_value(value)


def frame_type(name: str, columns: Mapping[str, str] | None = None, *, min_rows: int = 0) -> Type:
    """A Type for a polars/pandas/Arrow frame with these columns (``{"name": "Float64"}``; a
    dtype of ``""`` accepts any) and at least ``min_rows`` rows."""
    wanted = dict(columns or {})

    def check(value: Any) -> bool | str:
        if _frame_kind(value) is None:
            return "not a data frame"
        schema = _frame_schema(value)
        missing = [c for c in wanted if c not in schema]
        if missing:
            return f"missing column(s) {', '.join(missing)} (has {', '.join(schema) or 'none'})"
        for column, dtype in wanted.items():
            if dtype and schema[column].lower() != dtype.lower():
                return f"column '{column}' is {schema[column]}, not {dtype}"
        rows = _frame_rows(value)
        if rows is not None and rows < min_rows:
            return f"{rows} rows, fewer than {min_rows}"
        return True

    cols = ", ".join(f"{c}: {t or 'any'}" for c, t in wanted.items())
    return Type(name, check, f"a data frame with columns {cols}" if cols else "a data frame")


def describe_type(annotation: Any) -> str:
    """An annotation as a user reads it: ``list[str]``, ``dict[str, float]``, ``Metrics``."""
    if isinstance(annotation, Type):
        return annotation.name
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, str):
        return annotation
    if typing.get_origin(annotation) is not None or isinstance(annotation, types.UnionType):
        return repr(annotation).replace("typing.", "")
    return getattr(annotation, "__qualname__", repr(annotation))


def describe_value(value: Any) -> str:
    """What a value is, shortly: ``str 'abc'``, ``list of 3``, ``polars DataFrame 10 x 2``."""
    kind = _frame_kind(value)
    if kind is not None:
        rows = _frame_rows(value)
        shape = f" {rows} x {len(_frame_schema(value))}" if rows is not None else ""
        return f"{kind} {type(value).__name__}{shape}"
    name = type(value).__name__
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{name} of {len(value)}"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{name} {text}"


def check_value(annotation: Any, value: Any) -> str | None:
    """None when ``value`` fits ``annotation``; else what it is and where it differs."""
    if annotation in _NOTHING or isinstance(annotation, (str, typing.TypeVar)):
        return None  # no annotation, Any, or one that could not be resolved: nothing to check
    if isinstance(annotation, Type):
        return annotation(value)
    if annotation is type(None):
        return None if value is None else describe_value(value)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return check_value(typing.get_args(annotation)[0], value)
    if origin is typing.Literal:
        return None if value in typing.get_args(annotation) else describe_value(value)
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        options = typing.get_args(annotation)
        if any(check_value(a, value) is None for a in options):
            return None
        return describe_value(value)
    if origin is not None:
        return _check_generic(origin, typing.get_args(annotation), value)
    if annotation is float:  # an int is a float for typing's purposes
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else describe_value(value)
    if annotation is int and isinstance(value, bool):
        return describe_value(value)
    if isinstance(annotation, type):
        if _frame_name(annotation) in _FRAME_CLASSES:
            return (
                None
                if _frame_name(type(value)) == _frame_name(annotation)
                else (describe_value(value))
            )
        try:
            return None if isinstance(value, annotation) else describe_value(value)
        except TypeError:  # a class isinstance refuses (a protocol without runtime_checkable)
            return None
    return None


def _check_generic(origin: Any, args: tuple[Any, ...], obj: Any) -> str | None:
    if not isinstance(origin, type):
        return None
    if not isinstance(obj, origin):
        return describe_value(obj)
    value: Any = obj
    if not args:
        return None
    if issubclass(origin, Mapping):
        key_type, value_type = (args + (Any, Any))[:2]
        for k, v in value.items():
            problem = check_value(key_type, k) or check_value(value_type, v)
            if problem:
                return f"{describe_value(value)} whose item {k!r} is {describe_value(v)}"
        return None
    if issubclass(origin, tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(args) != len(value):
            return f"{describe_value(value)} (expected {len(args)} items)"
        for i, (a, v) in enumerate(zip(args, value, strict=True)):
            if check_value(a, v):
                return f"{describe_value(value)} whose item [{i}] is {describe_value(v)}"
        return None
    item_type = args[0]
    for i, v in enumerate(value):
        if check_value(item_type, v):
            return f"{describe_value(value)} whose item [{i}] is {describe_value(v)}"
    return None


def _frame_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _frame_kind(value: Any) -> str | None:
    return _FRAME_CLASSES.get(_frame_name(type(value)))


def _frame_schema(value: Any) -> dict[str, str]:
    kind = _frame_kind(value)
    if kind == "polars":
        schema = value.collect_schema() if hasattr(value, "collect_schema") else value.schema
        return {str(k): str(v) for k, v in schema.items()}
    if kind == "pandas":
        return {str(k): str(v) for k, v in value.dtypes.items()}
    if kind == "arrow":
        return {f.name: str(f.type) for f in value.schema}
    return {}


def _frame_rows(value: Any) -> int | None:
    if _frame_name(type(value)).endswith("LazyFrame"):
        return None
    return int(len(value)) if _frame_kind(value) != "arrow" else int(value.num_rows)
