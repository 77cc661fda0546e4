"""YAML reading that remembers where every key and value stood, so errors can name file:line:col."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.errors import ConfigError, Location, read_user_text

if TYPE_CHECKING:
    import yaml

KeyPath = tuple[str | int, ...]


def _yaml() -> Any:
    """The yaml module, imported on the first parse: a command whose YAML files all come from
    the parse cache (orch.load.cache) never loads it (~10 ms)."""
    import yaml

    return yaml


def _loader() -> Any:
    """The C loader (~10x faster), or the pure Python one where libyaml is missing."""
    yaml = _yaml()
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class YamlDoc:
    """Plain data loaded from a YAML file plus the position of each key path."""

    path: str
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def location(self, key_path: KeyPath = ()) -> Location:
        """The closest known position of ``key_path`` (walking up to its parents)."""
        kp = tuple(key_path)
        while kp and kp not in self.positions:
            kp = kp[:-1]
        line, col = self.positions.get(kp, (1, 1))
        return Location(self.path, line, col)


def load_yaml(path: Path, display_path: str | None = None) -> YamlDoc:
    """Read ``path``; a syntax error becomes a ConfigError at the offending line."""
    shown = display_path or str(path)
    return parse_yaml(read_yaml_text(path, shown), shown)


def read_yaml_text(path: Path, shown: str) -> str:
    """The text of a YAML file; a ConfigError naming it when it cannot be read."""
    try:
        return read_user_text(path, shown)
    except OSError as err:
        raise ConfigError(f"cannot read {shown}: {err.strerror}", location=Location(shown)) from err


def parse_yaml(text: str, shown: str) -> YamlDoc:
    """Parse YAML text into a :class:`YamlDoc`."""
    yaml = _yaml()
    try:
        node = yaml.compose(text, Loader=_loader())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        hint = "Fix the YAML syntax at that position"
        if err.context == "while scanning a quoted scalar" and err.context_mark is not None:
            mark = err.context_mark  # the end of the file says nothing: point at the quote
            quote = _char_at(text, mark.index)
            problem = f"the quote {quote} opened here is never closed"
            hint = f"Close the quoted text with a matching {quote}"
        loc = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown)
        raise ConfigError(f"invalid YAML: {problem}", location=loc, hint=hint) from err
    doc = YamlDoc(shown, None)
    if node is None:
        doc.data = {}
        return doc
    doc.data = _Converter(doc.positions, shown).convert(node, ())
    return doc


def _char_at(text: str, index: int) -> str:
    """The quote character YAML left open (``"`` when the mark cannot be read back)."""
    char = text[index : index + 1]
    return char if char in ("'", '"') else '"'


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Converter:
    """Turns a composed YAML node tree into plain data, recording each key path's position.

    One constructor per document (building one per scalar cost most of the parse); plain
    strings, by far the most common scalars, are taken as they are.
    """

    def __init__(self, positions: dict[KeyPath, tuple[int, int]], shown: str) -> None:
        yaml = _yaml()
        self.positions = positions
        self.shown = shown
        self.constructor = yaml.constructor.SafeConstructor()
        self._scalar, self._mapping, self._sequence = (
            yaml.ScalarNode,
            yaml.MappingNode,
            yaml.SequenceNode,
        )

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR_TAG and isinstance(node, self._scalar):
            return node.value
        try:
            return self.constructor.construct_object(node)
        except ValueError as err:  # a date-like scalar that is no date: 2024-13-01
            where = Location(self.shown, node.start_mark.line + 1, node.start_mark.column + 1)
            raise ConfigError(
                f"invalid YAML value {node.value!r}: {err}",
                location=where,
                hint="Write a valid date, or quote the value to keep it as text",
            ) from None

    def convert(self, node: yaml.Node, key_path: KeyPath) -> Any:
        positions = self.positions
        positions[key_path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, self._mapping):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    merged = self.convert(value_node, key_path)
                    for m in merged if isinstance(merged, list) else [merged]:
                        for k, v in m.items():
                            out.setdefault(k, v)
                    continue
                key = self.scalar(key_node)
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in out:
                    raise ConfigError(
                        f"duplicate key '{key}'",
                        location=Location(self.shown, *where),
                        hint="Remove one of the two entries",
                    )
                sub = (*key_path, key if isinstance(key, (str, int)) else str(key))
                out[key] = self.convert(value_node, sub)
                positions[sub] = where
            return out
        if isinstance(node, self._sequence):
            return [self.convert(item, (*key_path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)
