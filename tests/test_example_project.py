"""The example project compiles, lists and explains its columns (it grows with each issue)."""

from __future__ import annotations

from pathlib import Path

from orch.manifest import Manifest

from tests.conftest import run_cli


def test_example_project_compiles(example_project: Path):
    run = run_cli("compile", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    assert "Warning" not in run.stderr
    manifest = Manifest.read(example_project / "target" / "manifest.json")
    kinds = {node.resource_type for node in manifest.nodes.values()}
    assert {"model", "seed"} <= kinds
    models = [n for n in manifest.nodes.values() if n.resource_type == "model"]
    assert len(models) >= 10
    for node in models:
        if node.language == "python":  # Python assets have a function, not SQL
            assert node.python is not None, node.name
            continue
        assert node.compiled_code, node.name
        assert "__orch_ref_" not in node.compiled_code, node.name
        assert node.fingerprint
    # every SQL model has column lineage for at least one column
    sql_models = [n for n in models if n.language == "sql"]
    with_lineage = [n.name for n in sql_models if any(n.column_lineage.values())]
    assert len(with_lineage) == len(sql_models)


def test_example_project_ls_and_lineage(example_project: Path):
    run = run_cli(
        "ls", "--project-dir", example_project, "-s", "tag:staging", "--resource-type", "model"
    )
    assert run.exit_code == 0, run.output
    names = run.stdout.split()
    assert names and all(name.startswith("stg_") for name in names)
    manifest_run = run_cli("compile", "--project-dir", example_project, "-q")
    assert manifest_run.exit_code == 0
    manifest = Manifest.read(example_project / "target" / "manifest.json")
    mart = next(n for n in manifest.nodes.values() if n.path and n.path.startswith("models/marts/"))
    column = next(c for c, refs in mart.column_lineage.items() if refs)
    run = run_cli("lineage", f"{mart.name}.{column}", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    assert run.stdout.startswith(f"{mart.name}.{column}\nupstream:\n  └── ") or (
        run.stdout.startswith(f"{mart.name}.{column}\nupstream:\n  ├── ")
    )
