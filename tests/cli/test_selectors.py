"""``--selector NAME`` and selectors.yml (dbt's format), evaluated like -s/--exclude."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MakeProject, run_cli

SHOP = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select x from b",
    "models/d.sql": "select 2 as y",
    "models/schema.yml": """\
        models:
          - name: a
            tags: [core]
            columns: [{name: x, checks: [not_null]}]
          - name: b
            columns:
              - name: x
                checks:
                  - unique
                  - relationships:
                      arguments: {to: ref('a'), field: x}
          - name: d
            tags: [core]
        """,
}

SELECTORS = """\
selectors:
  - name: downstream
    description: a and everything it feeds
    definition: a+
  - name: nightly
    definition:
      union:
        - method: fqn
          value: a
        - method: fqn
          value: c
          parents: true
          parents_depth: 1
        - exclude:
            - b
  - name: core_roots
    definition:
      intersection:
        - method: tag
          value: core
        - union: [a, b, c]
  - name: eager_b
    definition: {method: fqn, value: b}
  - name: cautious_b
    definition: {method: fqn, value: b, indirect_selection: cautious}
  - name: at_b
    definition: {method: fqn, value: b, childrens_parents: true}
"""


def _ls(root: Path, *args: str) -> list[str]:
    run = run_cli("ls", "--project-dir", root, *args)
    assert run.exit_code == 0, run.output
    return sorted(run.stdout.split())  # in DAG order on screen


def _project(make_project: MakeProject, tmp_path: Path, selectors: str = SELECTORS) -> Path:
    return make_project(tmp_path, {**SHOP, "selectors.yml": selectors})


def test_a_string_definition(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    assert _ls(root, "--selector", "downstream") == [
        "a", "b", "c", "not_null_a_x", "relationships_b_x__x__a", "unique_b_x",
    ]  # fmt: skip


def test_union_with_graph_operators_and_exclude(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    # a, 1+c = b and c, minus b (and b's checks)
    assert _ls(root, "--selector", "nightly") == ["a", "c", "not_null_a_x"]


def test_intersection_of_a_method_and_a_union(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    # as 'tag:core,a tag:core,b tag:core,c' on the command line: checks come along per criterion
    # (eager), so the relationships check reading a (tag:core) and b is in 'tag:core,b'
    assert _ls(root, "--selector", "core_roots") == ["a", "not_null_a_x", "relationships_b_x__x__a"]


def test_childrens_parents(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    assert _ls(root, "--selector", "at_b") == [
        "a", "b", "c", "not_null_a_x", "relationships_b_x__x__a", "unique_b_x",
    ]  # fmt: skip


def test_cautious_leaves_out_checks_reading_unselected_assets(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = _project(make_project, tmp_path)
    # eager (the default): the relationships check reads b, so it comes along
    assert _ls(root, "--selector", "eager_b") == ["b", "relationships_b_x__x__a", "unique_b_x"]
    # cautious: it also reads a, which is not selected
    assert _ls(root, "--selector", "cautious_b") == ["b", "unique_b_x"]


def test_cautious_applies_to_orch_test(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    run = run_cli("test", "--project-dir", root, "--selector", "cautious_b")
    assert run.exit_code == 0, run.output
    checks = [line.split()[1] for line in run.stdout.splitlines() if line.startswith(" PASS")]
    assert checks == ["unique_b_x"]


def test_build_with_a_selector(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    run = run_cli("build", "--project-dir", root, "--selector", "downstream")
    assert run.exit_code == 0, run.output
    assert "3 steps (selection: a+)" in run.stdout
    results = json.loads((root / "target" / "run_results.json").read_text())
    ids = sorted(r["unique_id"].rsplit(".", 1)[-1] for r in results["results"])
    assert ids == ["a", "b", "c", "not_null_a_x", "relationships_b_x__x__a", "unique_b_x"]


def test_the_default_selector_is_used_without_select(
    make_project: MakeProject, tmp_path: Path
) -> None:
    selectors = SELECTORS.replace("  - name: nightly\n", "  - name: nightly\n    default: true\n")
    root = _project(make_project, tmp_path, selectors)
    assert _ls(root) == ["a", "c", "not_null_a_x"]
    assert _ls(root, "-s", "d") == ["d"]  # -s wins over the default
    assert _ls(root, "--exclude", "a+") == ["d"]  # so does --exclude
    assert _ls(root, "--selector", "eager_b") == ["b", "relationships_b_x__x__a", "unique_b_x"]


def test_unknown_selector_name(make_project: MakeProject, tmp_path: Path) -> None:
    root = _project(make_project, tmp_path)
    run = run_cli("ls", "--project-dir", root, "--selector", "nightlyy")
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: unknown selector 'nightlyy' (not in selectors.yml). Did you mean 'nightly'?\n"
    )


def test_a_selector_without_selectors_yml(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, SHOP)
    run = run_cli("build", "--project-dir", root, "--selector", "nightly")
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: unknown selector 'nightly' (not in selectors.yml). Define it under 'selectors:' "
        "in selectors.yml at the project root\n"
    )
    assert not (root / "warehouse.duckdb").exists()


def test_selector_and_select_together_is_an_error(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = _project(make_project, tmp_path)
    run = run_cli("ls", "--project-dir", root, "--selector", "nightly", "-s", "a")
    assert run.exit_code == 2
    assert run.stderr == (
        "Error: --selector cannot be combined with -s/--select or --exclude. Put the whole "
        "selection in the selector's definition, or drop --selector\n"
    )


def _error(make_project: MakeProject, tmp_path: Path, selectors: str) -> str:
    root = _project(make_project, tmp_path, selectors)
    run = run_cli("ls", "--project-dir", root, "--selector", "x")
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    return run.stderr


def test_unknown_method_names_its_line(make_project: MakeProject, tmp_path: Path) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            definition:
              union:
                - method: tags
                  value: core
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:5:11: unknown selection method 'tags' in selectors.yml. Did you mean "
        "'tag'? Allowed methods: fqn, config.<key>, group, path, resource_type, source, tag, "
        "test_type\n"
    ), stderr


def test_unknown_key_names_its_line(make_project: MakeProject, tmp_path: Path) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            definition:
              method: tag
              value: core
              parent: true
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:6:7: unknown key 'parent' in selectors.yml. Did you mean "
        "'parents' or 'parents_depth'?\n"
    ), stderr


def test_unknown_selector_key_names_its_line(make_project: MakeProject, tmp_path: Path) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            defintion: a
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:3:5: unknown key 'defintion' in selectors.yml. "
        "Did you mean 'definition' or 'description'?\n"
    ), stderr


def test_a_malformed_selector_string_names_its_line(
    make_project: MakeProject, tmp_path: Path
) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            definition: "a++"
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:3:5: invalid selector 'a++': '+' may only start or end a selector "
        "and '@' only start it. Write e.g. '+orders', '2+orders', 'orders+1', '+tag:nightly+' or "
        "'@orders'\n"
    ), stderr


def test_refused_indirect_selection(make_project: MakeProject, tmp_path: Path) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            definition: {method: fqn, value: a, indirect_selection: buildable}
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:3:41: indirect_selection 'buildable' is not supported by orch. "
        "Use 'eager' (every check reading a selected asset) or 'cautious' (only checks whose "
        "every asset is selected)\n"
    ), stderr


def test_two_defaults_are_an_error(make_project: MakeProject, tmp_path: Path) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - {name: x, definition: a, default: true}
          - {name: y, definition: b, default: true}
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:3:30: selector 'y' is a second 'default: true' selector. "
        "Only one selector can be the default\n"
    ), stderr


def test_an_exclude_inside_one_union_member_is_refused(
    make_project: MakeProject, tmp_path: Path
) -> None:
    stderr = _error(make_project, tmp_path, """\
        selectors:
          - name: x
            definition:
              union:
                - a
                - union:
                    - b
                    - exclude: [c]
        """)  # fmt: skip
    assert stderr == (
        "Error: selectors.yml:6:11: an 'exclude' nested inside 'union' is not supported. "
        "Put the 'exclude' at the outer level of the definition\n"
    ), stderr


def test_selectors_are_recorded_in_the_manifest_and_invalidate_it(
    tmp_path: Path, make_project: MakeProject
) -> None:
    root = make_project(tmp_path, {**SHOP, "selectors.yml": SELECTORS})
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["selectors"]["downstream"] == {
        "description": "a and everything it feeds",
        "select": ["a+"],
        "exclude": [],
        "indirect_selection": "eager",
        "default": False,
    }
    # selectors.yml is an input of the compile: changing only it recompiles the manifest
    (root / "selectors.yml").write_text(SELECTORS.replace("definition: a+", "definition: b+"))
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["selectors"]["downstream"]["select"] == ["b+"]
