"""orch status, --changed, --dry-run, the state store's records, and the run/seed/build split."""

from __future__ import annotations

import json
import re
import shutil

# seed -> a -> b -> c ; lone
FILES = {
    "seeds/raw.csv": "id\n1\n2\n",
    "models/a.sql": "{{ config(materialized='table') }}\nselect id from raw",
    "models/b.sql": "{{ config(materialized='table') }}\nselect id * 2 as id from a",
    "models/c.sql": "select id from b",
    "models/lone.sql": "{{ config(materialized='table') }}\nselect 1 as one",
}


def status_of(output: str) -> dict[str, str]:
    """asset -> status column of ``orch status``."""
    out = {}
    for line in output.splitlines()[2:]:
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 3:
            out[parts[0]] = parts[2]
    return out


def built_assets(stdout: str) -> set[str]:
    """Steps reported OK by the console output."""
    return set(re.findall(r"OK\s+(\w+) \(", stdout))


def test_status_text(make_project, orch, tmp_path):
    project = make_project(tmp_path, FILES)
    run = orch("status", "--project-dir", project)
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0].split() == [
        "asset", "materialized", "status", "last", "run", "finished", "(UTC)", "rows", "duration",
        "data", "version", "read",
    ]  # fmt: skip
    assert status_of(run.stdout) == {
        "raw": "never built",
        "a": "never built",
        "b": "never built",
        "c": "never built",
        "lone": "never built",
    }
    assert lines[-1] == "5 never built"

    assert orch("build", "--project-dir", project).exit_code == 0
    run = orch("status", "--project-dir", project)
    assert set(status_of(run.stdout).values()) == {"up to date"}
    a_line = next(line for line in run.stdout.splitlines() if line.startswith("a "))
    assert re.match(
        r"a\s+table\s+up to date\s+[0-9a-f]{8}\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+2\s+\d+\.\d\ds"
        r"\s+[0-9a-f]{8}\s+raw@[0-9a-f]{8}$",  # its data version, and raw's that it read
        a_line,
    ), a_line
    c_line = next(line for line in run.stdout.splitlines() if line.startswith("c "))
    assert re.search(r"view\s+up to date .* -\s+\d+\.\d\ds\s", c_line), c_line  # views: no rows

    # a reformatted model (comment, spacing) is still up to date; a changed one is not
    (project / "models" / "lone.sql").write_text(
        "-- a comment\n{{ config(materialized='table') }}\nSELECT   1 AS one\n"
    )
    (project / "models" / "b.sql").write_text(
        "{{ config(materialized='table') }}\nselect id * 3 as id from a"
    )
    assert orch("run", "--project-dir", project, "-s", "a").exit_code == 0
    run = orch("status", "--project-dir", project)
    assert status_of(run.stdout) == {
        "raw": "up to date",
        "a": "up to date",
        "b": "code changed",  # its code changed (and a was rebuilt after it)
        "c": "upstream b code changed",  # staleness propagates: c reads b
        "lone": "up to date",
    }
    run = orch("status", "--project-dir", project, "-s", "a+")
    assert set(status_of(run.stdout)) == {"a", "b", "c"}


def test_status_upstream_newer(make_project, orch, tmp_path):
    project = make_project(tmp_path, FILES)
    assert orch("build", "--project-dir", project).exit_code == 0
    assert orch("run", "--project-dir", project, "-s", "a").exit_code == 0
    # a rebuilt with the same data (the same data version): what reads it stays up to date
    assert set(status_of(orch("status", "--project-dir", project).stdout).values()) == {
        "up to date"
    }
    (project / "seeds" / "raw.csv").write_text("id\n1\n2\n5\n")
    assert orch("build", "--project-dir", project, "-s", "raw", "a").exit_code == 0
    assert status_of(orch("status", "--project-dir", project).stdout) == {
        "raw": "up to date",
        "a": "up to date",
        "b": "upstream a newer",
        "c": "upstream a newer",  # through b: --changed rebuilds b, then c
        "lone": "up to date",
    }


def test_changed_builds_only_what_is_stale(make_project, orch, warehouse, tmp_path):
    project = make_project(tmp_path, FILES)
    run = orch("build", "--project-dir", project, "--changed")
    assert run.exit_code == 0
    assert built_assets(run.stdout) == {"raw", "a", "b", "c", "lone"}  # never built

    run = orch("build", "--project-dir", project, "--changed")
    assert run.exit_code == 0
    assert built_assets(run.stdout) == set()
    assert "0 steps" in run.stdout and "nothing to do" in run.stdout

    (project / "models" / "b.sql").write_text(
        "{{ config(materialized='table') }}\nselect id * 3 as id from a"
    )
    run = orch("build", "--project-dir", project, "--changed", "--dry-run")
    assert run.exit_code == 0
    plan = run.stdout.splitlines()
    assert plan[0] == "Plan: 2 steps (dry run, nothing was built)"
    assert re.match(r"\s+b\s+table\s+code changed$", plan[1])
    assert re.match(r"\s+c\s+view\s+upstream b code changed$", plan[2])
    assert {line.split()[0] for line in plan[3:6]} == {"raw", "a", "lone"}
    assert all(line.endswith("up to date (skipped)") for line in plan[3:6])
    assert plan[6:] == [
        "Change classification:",
        f"  {'b':<40} breaking: column id changed (downstream readers too)",
    ]
    assert warehouse(project).rows("select id from analytics.b order by id") == [(2,), (4,)]

    run = orch("build", "--project-dir", project, "--changed")
    assert run.exit_code == 0
    assert built_assets(run.stdout) == {"b", "c"}
    assert warehouse(project).rows("select id from analytics.c order by id") == [(3,), (6,)]

    # an upstream rebuilt outside the selection with the same data: its children stay up to
    # date; with new data they are stale
    assert orch("run", "--project-dir", project, "-s", "a").exit_code == 0
    run = orch("build", "--project-dir", project, "--changed")
    assert built_assets(run.stdout) == set()
    (project / "seeds" / "raw.csv").write_text("id\n1\n2\n5\n")
    assert orch("build", "--project-dir", project, "-s", "raw", "a").exit_code == 0
    run = orch("build", "--project-dir", project, "--changed")
    assert built_assets(run.stdout) == {"b", "c"}


def test_dry_run_builds_nothing(make_project, orch, tmp_path):
    project = make_project(tmp_path, FILES)
    run = orch("build", "--project-dir", project, "--dry-run")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == "Plan: 5 steps (dry run, nothing was built)"
    assert [line.split()[0] for line in lines[1:]] == ["lone", "raw", "a", "b", "c"]
    assert lines[4].split() == ["b", "table", "requested"]
    assert all(line.rstrip().endswith("requested") for line in lines[1:])
    assert not (project / "warehouse.duckdb").exists()
    assert not (project / "target" / "run_results.json").exists()


def test_materializations_record_upstream_runs(make_project, orch, state, tmp_path):
    project = make_project(tmp_path, FILES)
    assert orch("build", "--project-dir", project).exit_code == 0
    with state(project) as st:
        (first,) = st.recent_runs()
        assert first.command == "build" and first.status == "success"
        assert first.counts == {"success": 5}
    assert orch("run", "--project-dir", project, "-s", "b").exit_code == 0
    with state(project) as st:
        second = st.recent_runs()[0]
        assert second.command == "run" and second.selection == "b"
        latest = st.latest_materializations(target="dev")
        b = latest[("b", None)]
        assert b.run_id == second.run_id
        assert b.rows == 2 and b.materialized == "table" and b.duration_s >= 0
        assert b.fingerprint
        # b read a, which was produced by the first run: the lineage of this materialization
        assert [(u.asset, u.partition, u.run_id) for u in b.upstream] == [("a", None, first.run_id)]
        a = latest[("a", None)]
        assert [(u.asset, u.run_id) for u in a.upstream] == [("raw", first.run_id)]
        assert latest[("lone", None)].upstream == ()
        c = latest[("c", None)]
        assert c.run_id == first.run_id and c.rows is None


def test_run_results_json(make_project, orch, tmp_path):
    project = make_project(tmp_path, FILES)
    assert orch("build", "--project-dir", project, "-s", "+b").exit_code == 0
    data = json.loads((project / "target" / "run_results.json").read_text())
    assert data["status"] == "success"
    assert data["args"] == {"command": "build", "select": ["+b"], "target": "dev"}
    assert data["metadata"]["invocation_id"]
    results = {r["unique_id"]: r for r in data["results"]}
    assert set(results) == {"seed.shop.raw", "model.shop.a", "model.shop.b"}
    assert {r["status"] for r in results.values()} == {"success"}
    assert results["model.shop.b"]["rows_affected"] == 2
    assert results["model.shop.b"]["relation_name"] == "analytics.b"


def test_run_is_models_only_and_seed_is_seeds_only(make_project, orch, warehouse, tmp_path):
    project = make_project(tmp_path, FILES)
    run = orch("run", "--project-dir", project)
    assert run.exit_code == 1
    assert "raw" not in built_assets(run.stdout)
    assert "Failed: a (models/a.sql)" in run.stdout
    assert "Table with name raw does not exist" in run.stdout
    assert (
        "Hint: upstream seed 'raw' (analytics.raw) does not exist in the warehouse: "
        "run `orch seed -s raw` (or `orch build`) first." in run.stdout
    )
    assert "SKIP    b: upstream 'a' failed" in run.stdout
    assert built_assets(run.stdout) == {"lone"}

    run = orch("seed", "--project-dir", project)
    assert run.exit_code == 0
    assert built_assets(run.stdout) == {"raw"}
    assert set(warehouse(project).relations()) == {"raw", "lone"}

    run = orch("run", "--project-dir", project)
    assert run.exit_code == 0
    assert built_assets(run.stdout) == {"a", "b", "c", "lone"}


def test_example_project_builds(example_project, orch, warehouse, state):
    run = orch("build", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    assert "SUCCESS" in run.stdout
    wh = warehouse(example_project)
    with state(example_project) as st:
        latest = st.latest_materializations(target="dev")
    manifest = json.loads((example_project / "target" / "manifest.json").read_text())
    buildable = {
        name
        for name, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
        and node["config"].get("materialized") != "ephemeral"
    }
    assert {k[0] for k in latest} == buildable
    relations = wh.relations("main")
    # the lake folder's outputs are files and objects (docs/io-managers.md), not relations
    in_files = {"order_lake", "orders_export", "spend_model"}
    assert buildable - in_files <= set(relations)
    assert not in_files & set(relations)
    assert wh.rows("select count(*) from main.customers")[0][0] > 0
    assert not any(name.startswith("__orch_") for name in relations)


def test_example_project_from_a_copy_twice(example_project, orch, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(example_project, again)
    assert orch("build", "--project-dir", again).exit_code == 0
    run = orch("build", "--project-dir", again, "--changed")
    assert run.exit_code == 0 and built_assets(run.stdout) == set()
