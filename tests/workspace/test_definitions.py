"""``orch.Definitions`` in a module the project names: loaded into the same model as files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.conftest import run_cli, write_project

PROJECT_YML = """\
name: shop
profile: shop
definitions: shop_code/definitions.py
"""

ASSETS_PY = """\
import orch


@orch.asset
def big_orders(orders):
    return orders.filter(orders["amount"] > 10)
"""


DEFINITIONS_BY_PATH = """\
import importlib.util
import pathlib

import orch
import polars
from orch import job, op

_spec = importlib.util.spec_from_file_location(
    "shop_assets", pathlib.Path(__file__).with_name("assets.py")
)
assets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(assets)


@orch.asset
def order_count(orders):
    return polars.DataFrame({"n": [orders.height]})


@op
def say_hello() -> str:
    return "hello"


@job
def hello_job():
    say_hello()


@orch.schedule(cron="0 6 * * *", job="hello_job")
def every_morning(context):
    return {}


defs = orch.Definitions(
    assets=[assets.big_orders, order_count],
    jobs=[hello_job],
    schedules=[every_morning],
    resources={"crm": {"type": "CrmApi", "base_url": "https://crm.example.test"}},
)
"""


def make(tmp_path: Path, definitions: str = DEFINITIONS_BY_PATH, **extra: str) -> Path:
    return write_project(
        tmp_path / "shop",
        {
            "models/orders.sql": "select 1 as id, 5 as amount union all select 2, 50",
            "shop_code/assets.py": ASSETS_PY,
            "shop_code/definitions.py": definitions,
            **extra,
        },
        project_yml=PROJECT_YML,
    )


def test_definitions_load_into_the_same_graph_as_files(tmp_path: Path) -> None:
    root = make(tmp_path)
    listed = run_cli("ls", "--project-dir", root)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == ["orders", "big_orders", "order_count"]
    built = run_cli("build", "--project-dir", root)
    assert built.exit_code == 0, built.output
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.sql("select id from analytics.big_orders").fetchall() == [(2,)]
    assert con.sql("select n from analytics.order_count").fetchall() == [(2,)]
    con.close()
    jobs = run_cli("job", "ls", "--project-dir", root)
    assert "hello_job" in jobs.stdout, jobs.output
    schedules = run_cli("schedule", "ls", "--project-dir", root)
    assert "every_morning" in schedules.stdout, schedules.output
    resources = run_cli("resources", "ls", "--project-dir", root)
    assert "crm" in resources.stdout, resources.output


def test_a_missing_definitions_module(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "shop_code/definitions.py").unlink()
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: orch_project.yml:3:1: definitions module 'shop_code/definitions.py' does not "
        "exist. Point 'definitions:' at a .py file in the project (relative to it)"
    )


def test_a_module_without_definitions(tmp_path: Path) -> None:
    root = make(tmp_path, "import orch\n")
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2
    assert "shop_code/definitions.py: shop_code/definitions.py holds no orch.Definitions" in (
        run.stderr
    )


def test_an_unlisted_asset_in_a_loaded_file_is_refused(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        DEFINITIONS_BY_PATH.replace(
            "assets=[assets.big_orders, order_count]", "assets=[order_count]"
        )
        + "\n\n@orch.asset\ndef forgotten(orders):\n    return orders\n",
    )
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "shop_code/definitions.py:44: @asset 'forgotten' is not listed in "
        "Definitions(assets=...) of shop_code/definitions.py"
    ) in run.stderr


def test_something_else_in_assets_is_refused_at_the_call(tmp_path: Path) -> None:
    root = make(tmp_path, "import orch\n\ndefs = orch.Definitions(assets=['orders'])\n")
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: shop_code/definitions.py:3: Definitions(assets=...) takes @asset functions, "
        "not 'orders'. Decorate the function with @orch.asset, or list it elsewhere"
    )


def test_a_resource_declared_twice(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "orch_project.yml").write_text(
        PROJECT_YML + "resources:\n  crm:\n    type: CrmApi\n", encoding="utf-8"
    )
    run = run_cli("ls", "--project-dir", root)
    assert run.exit_code == 2
    assert "resource 'crm' is declared twice: under 'resources:' and in Definitions" in run.stderr
