"""``ORCH_FAKESNOW``: a Snowflake target tried from the command line without an account.

Through the real CLI (click's runner, in this process): the profile names a real-looking
account; with ``ORCH_FAKESNOW=<folder>`` the adapter patches fakesnow in, the build writes to
DuckDB files in that folder, a second command reads the state the first wrote, and the patch is
gone afterwards (the next connection would go to the network again).
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import fakesnow
import pytest
import snowflake.connector

from tests.conftest import run_cli, write_project

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")

PROFILES = """\
shop:
  target: prod
  outputs:
    prod:
      type: snowflake
      account: xy12345.eu-central-1
      user: TRANSFORMER
      password: not-a-secret
      database: analytics
      schema: public
"""
PROJECT = {
    "seeds/raw_orders.csv": """\
        order_id,ordered_at
        1,2024-01-01 10:00:00
        2,2024-01-02 11:00:00
        3,2024-01-02 12:00:00
    """,
    "models/fct_orders.sql": """\
        {{ config(materialized='incremental', partitioned_by={'grain': 'daily',
            'start': '2024-01-01', 'end': '2024-01-03', 'column': 'ordered_at'}) }}
        select order_id, ordered_at from raw_orders
        where ordered_at >= {{ partition.start }} and ordered_at < {{ partition.end }}
    """,
}


def test_build_and_status_on_fakesnow_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "shop", PROJECT, profiles_yml=PROFILES)
    monkeypatch.setenv("ORCH_FAKESNOW", ".fakesnow")
    built = run_cli("build", "--project-dir", root, "--target", "prod")
    assert built.exit_code == 0, built.output
    assert "3 success" in built.stdout
    assert not isinstance(snowflake.connector.connect, mock.MagicMock)  # the patch is undone
    status = run_cli("status", "--project-dir", root, "--target", "prod")
    assert status.exit_code == 0, status.output
    assert "2024-01-01..2024-01-02 ok" in status.stdout  # the state the build wrote in _ORCH
    with fakesnow.patch(db_path=root / ".fakesnow"):
        conn = snowflake.connector.connect(database="ANALYTICS", schema="PUBLIC")
        cur = conn.cursor()
        cur.execute('SELECT "ORDER_ID" FROM "ANALYTICS"."PUBLIC"."FCT_ORDERS" ORDER BY 1')
        assert cur.fetchall() == [(1,), (2,), (3,)]
        cur.execute('SELECT COUNT(*) FROM "ANALYTICS"."_ORCH"."RUNS"')
        assert cur.fetchall() == [(1,)]  # the build (status only reads)
        conn.close()


def test_without_fakesnow_installed_the_error_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "shop", PROJECT, profiles_yml=PROFILES)
    monkeypatch.setenv("ORCH_FAKESNOW", "1")
    monkeypatch.setitem(sys.modules, "fakesnow", None)  # import fakesnow raises ImportError
    run = run_cli("build", "--project-dir", root, "--target", "prod")
    assert run.exit_code == 2, run.output  # a connection setting problem, nothing was run
    assert "ORCH_FAKESNOW is set, but fakesnow is not installed" in run.stderr
    assert "pip install 'fakesnow==0.12.1'" in run.stderr
