"""``orch init``: copy the scaffold from ``templates/scaffold`` into a new project folder."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import jinja2
from orch.errors import NAME_PATTERN_HINT, UserError

SCAFFOLD = "scaffold"


def create_project(path: Path) -> Path:
    """Write a small working project at ``path`` (which must not exist or be empty)."""
    name = path.name
    if not name.isidentifier():
        raise UserError(f"'{name}' is not a valid project name", hint=NAME_PATTERN_HINT)
    if path.exists() and any(path.iterdir()):
        raise UserError(
            f"'{path}' already exists and is not empty",
            hint="Choose another name, or remove the folder",
        )
    root = files("orch.templates") / SCAFFOLD
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    for source, rel in _walk(root, ""):
        target = path / (".gitignore" if rel == "gitignore" else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        if rel.endswith((".yml", ".md")):
            text = env.from_string(text).render(project_name=name)
        target.write_text(text, encoding="utf-8")
    return path.resolve()


def _walk(node, prefix: str):  # type: ignore[no-untyped-def]
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, rel + "/")
        elif not child.name.endswith((".pyc", "__init__.py")):
            yield child, rel
