"""dbt's ``model`` context variable while a node renders: what is known of it before compiling.

dbt's ``model`` is the whole parsed node. orch renders a model before its settings are merged and
its relation is named, so only the attributes fixed by the file itself are offered: ``name``,
``package_name`` and ``original_file_path`` (dbt_utils' deprecation messages and
dbt-project-evaluator's ``filter_exceptions`` read these). Any other attribute (``config``,
``schema``, ``unique_id``...) is refused by name at the template's line rather than rendered as
an empty value that would differ from dbt's.
"""

from __future__ import annotations

from typing import Any

from orch.load.template_errors import UnsupportedCallError

OFFERED = ("name", "package_name", "original_file_path")


class NodeContext:
    """``model`` in a template: the node's file-given attributes; anything else is refused."""

    def __init__(self, name: str, package_name: str, original_file_path: str) -> None:
        self.name = name
        self.package_name = package_name
        self.original_file_path = original_file_path

    def get(self, key: str, default: Any = None) -> Any:
        """``model.get('name')``: as attribute access (a dict-like node in dbt)."""
        if key in OFFERED:
            return getattr(self, key)
        return self.__getattr__(key)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedCallError(
            f"model.{name}",
            "while a model renders orch knows only model.name, model.package_name and "
            "model.original_file_path (use config.get() for settings, this for the relation)",
        )

    def __str__(self) -> str:  # dbt prints a node's repr; a template wants its name
        return self.name


class NoNodeContext(NodeContext):
    """``model`` where no model is rendering (a YAML file's tests, project hooks)."""

    def __init__(self) -> None:
        pass

    def get(self, key: str, default: Any = None) -> Any:
        return self.__getattr__(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedCallError(f"model.{name}", "no model is rendering here")

    def __str__(self) -> str:
        raise UnsupportedCallError("model", "no model is rendering here")


def node_context(name: str | None, path: str, package: str, package_prefix: str) -> NodeContext:
    """``model`` for node ``name`` (None: the file's stem, for a ``.sql`` file) defined at
    ``path`` (relative to the root project) in ``package``, whose files are under
    ``package_prefix`` (empty for the root project's)."""
    if name is None:
        if not path.endswith(".sql"):
            return NoNodeContext()
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return NodeContext(name, package, path.removeprefix(package_prefix))
