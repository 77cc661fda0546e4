"""Custom IO manager classes anywhere importable in the project (``type: my_pkg.io:Class``),
resolved with the project folder on ``sys.path``; a clear error at the ``type:`` line for an
unknown module or class, or a class that is not an orch.IOManager. Real folders, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

JSONL_MODULE = '''\
import json
from pathlib import Path

from orch import InputContext, IOManager, OutputContext


class JsonLinesIOManager(IOManager):
    """One JSON-lines file per asset: <base_dir>/<asset>.jsonl."""

    base_dir: str = "jsonl"
    marker: str = "{marker}"

    def handle_output(self, context: OutputContext, obj: list) -> None:
        path = Path(self.base_dir, *context.key).with_suffix(".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({{**r, "by": self.marker}}) + "\\n" for r in obj))

    def load_input(self, context: InputContext) -> list:
        path = Path(self.base_dir, *context.upstream_output.key).with_suffix(".jsonl")
        return [json.loads(line) for line in path.read_text().splitlines()]


class NotAnIOManager:
    pass
'''

ASSETS = """\
from orch import asset


@asset(io_manager="jsonl")
def rows() -> list:
    return [{"n": 1}, {"n": 2}]


@asset(io_manager="jsonl")
def doubled(rows: list) -> list:
    return [{"n": r["n"] * 2} for r in rows]
"""


def project_yml(type_text: str, base: Path) -> str:
    return f"""\
name: shop
profile: shop
resources:
  jsonl:
    type: {type_text}
    base_dir: {base}
"""


def _project(make_project, root: Path, type_text: str, marker: str = "pkg") -> Path:
    return make_project(
        root,
        {
            "my_pkg/__init__.py": "",
            "my_pkg/io.py": JSONL_MODULE.format(marker=marker),
            "models/rows.py": ASSETS,
        },
        project_yml=project_yml(type_text, root / "out"),
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_io_manager_from_a_package_outside_models(make_project, tmp_path, orch) -> None:
    root = _project(make_project, tmp_path / "p", "my_pkg.io:JsonLinesIOManager")
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert _lines(root / "out" / "doubled.jsonl") == [{"n": 2, "by": "pkg"}, {"n": 4, "by": "pkg"}]


def test_each_project_gets_its_own_module_of_the_same_name(make_project, tmp_path, orch) -> None:
    first = _project(make_project, tmp_path / "a", "my_pkg.io.JsonLinesIOManager", "first")
    second = _project(make_project, tmp_path / "b", "my_pkg.io:JsonLinesIOManager", "second")
    for root, marker in ((first, "first"), (second, "second")):
        run = orch("build", "--project-dir", root)
        assert run.exit_code == 0, run.output
        assert _lines(root / "out" / "rows.jsonl")[0]["by"] == marker
    (first / "my_pkg" / "io.py").write_text(JSONL_MODULE.format(marker="edited"))
    run = orch("build", "--project-dir", first, "--full-refresh")
    assert run.exit_code == 0, run.output
    assert _lines(first / "out" / "rows.jsonl")[0]["by"] == "edited"  # the new code


@pytest.mark.parametrize(
    ("type_text", "message"),
    [
        ("nope.io:JsonLinesIOManager", "no module 'nope.io' in the project folder or the "
         "installed packages"),
        ("my_pkg.io:JsonLines", "module 'my_pkg.io' has no class 'JsonLines'"),
        ("my_pkg.io:NotAnIOManager", "class 'my_pkg.io:NotAnIOManager' is not a subclass of "
         "orch.IOManager"),
    ],
    ids=["unknown-module", "unknown-class", "not-an-io-manager"],
)  # fmt: skip
def test_a_bad_module_path_is_an_error_at_its_type_line(
    make_project, tmp_path: Path, orch, type_text: str, message: str
) -> None:
    root = _project(make_project, tmp_path / "p", type_text)
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert f"orch_project.yml:5:5: resource 'jsonl' (type: {type_text}): {message}" in (run.stderr)
    assert "Write the type as my_pkg.module:ClassName" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (root / "out").exists()


def test_a_module_that_fails_to_import_names_its_file_and_line(
    make_project, tmp_path, orch
) -> None:
    root = _project(make_project, tmp_path / "p", "my_pkg.io:JsonLinesIOManager")
    (root / "my_pkg" / "io.py").write_text("import json\n\nraise RuntimeError('no config')\n")
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "my_pkg/io.py:3: importing the module 'my_pkg.io' failed: RuntimeError: no config"
        in run.stderr
    )


OP_JOB = """\
from orch import Out, job, op


@op(out=Out(list, io_manager="jsonl"))
def produce() -> list:
    return [{"n": 3}]


@op
def consume(data: list) -> int:
    return data[0]["n"]


@job
def jsonl_job():
    consume(produce())
"""


def test_an_op_job_stores_outputs_with_a_module_path_io_manager(
    make_project, tmp_path, orch
) -> None:
    root = _project(make_project, tmp_path / "p", "my_pkg.io:JsonLinesIOManager")
    (root / "jobs").mkdir()
    (root / "jobs" / "jsonl_job.py").write_text(OP_JOB)
    run = orch("job", "run", "jsonl_job", "--project-dir", root)
    assert run.exit_code == 0, run.output
    (written,) = (root / "out").rglob("result.jsonl")
    assert _lines(written) == [{"n": 3, "by": "pkg"}]
    (root / "orch_project.yml").write_text(project_yml("my_pkg.io:Missing", root / "out"))
    run = orch("job", "run", "jsonl_job", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "orch_project.yml:5:5: resource 'jsonl' (type: my_pkg.io:Missing): module 'my_pkg.io' "
        "has no class 'Missing'" in run.stderr
    )


def test_a_same_size_edit_with_the_same_mtime_runs_the_new_code(
    make_project, tmp_path, orch, monkeypatch
) -> None:
    """A .pyc is checked by whole-second mtime and size: an edit that keeps both must still
    run the new code, for a model file and for a project module."""
    import os
    import sys

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    root = _project(make_project, tmp_path / "p", "my_pkg.io:JsonLinesIOManager", "AAA")
    assert orch("build", "--project-dir", root).exit_code == 0
    module, model = root / "my_pkg" / "io.py", root / "models" / "rows.py"
    stamps = {p: p.stat().st_mtime_ns for p in (module, model)}
    module.write_text(JSONL_MODULE.format(marker="BBB"))
    model.write_text(ASSETS.replace('{"n": 1}', '{"n": 7}'))
    for path, stamp in stamps.items():
        os.utime(path, ns=(stamp, stamp))
    run = orch("build", "--project-dir", root, "--full-refresh")
    assert run.exit_code == 0, run.output
    assert _lines(root / "out" / "rows.jsonl") == [{"n": 7, "by": "BBB"}, {"n": 2, "by": "BBB"}]
