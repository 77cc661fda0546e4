"""What only the Snowflake adapter does: profile and auth errors, secrets, retries, names, types.

Statements run through the real snowflake-connector-python against fakesnow; nothing here mocks
the connector. Time is injected (a recording ``sleep``) so retries never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakesnow
import pyarrow as pa
import pytest
import snowflake.connector.errors as sf_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from orch import redaction
from orch.adapters import adapter_class
from orch.adapters.base import Column, WriteMode
from orch.adapters.snowflake import (
    KEY_PAIR,
    SnowflakeAdapter,
    backoff_delay,
    is_transient,
    snowflake_type,
)
from orch.config import SnowflakeTargetConfig
from orch.errors import WarehouseConnectionError, WarehouseError
from orch.names import Relation

from tests.adapters.conftest import FAKESNOW_DATABASE, FAKESNOW_WARNINGS

pytestmark = pytest.mark.filterwarnings(FAKESNOW_WARNINGS)

PASSWORD = "hunter2-Pa55word-never-shown"
PASSPHRASE = "key-passphrase-never-shown"
TOKEN = "oauth-token-never-shown"
SCHEMA = "orch_test"


class Sleeps:
    """A recording stand-in for ``time.sleep``."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(tmp_path: Path, sleep: Sleeps | None = None, **settings: Any) -> SnowflakeAdapter:
    """An unopened adapter; ``settings`` override a password login to the fakesnow account."""
    values: dict[str, Any] = {
        "account": "fakesnow",
        "user": "orch",
        "password": PASSWORD,
        "database": FAKESNOW_DATABASE,
        **settings,
    }
    return SnowflakeAdapter(
        SnowflakeTargetConfig.model_validate(values),
        tmp_path,
        retry_base_delay=0.5,
        sleep=sleep or Sleeps(),
    )


@pytest.fixture
def fake() -> Iterator[None]:
    """A fresh fakesnow behind ``snowflake.connector.connect`` and ``write_pandas``."""
    with fakesnow.patch():
        yield


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def snow(fake: None, tmp_path: Path, sleeps: Sleeps) -> Iterator[SnowflakeAdapter]:
    """An opened adapter on fakesnow with the schema ``orch_test``."""
    adapter = make(tmp_path, sleeps)
    with adapter:
        adapter.ensure_schema(None, SCHEMA)
        yield adapter


def write_key(path: Path, passphrase: str | None = None) -> Path:
    """A new RSA private key as PKCS#8 PEM at ``path`` (encrypted when a passphrase is given)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def error_text(err: BaseException) -> str:
    """Everything an error could show: message, hint, SQL, str()."""
    parts = [str(err), getattr(err, "message", ""), getattr(err, "hint", "") or ""]
    parts.append(getattr(err, "sql", "") or "")
    return "\n".join(parts)


def assert_no_secret(text: str) -> None:
    for secret in (PASSWORD, PASSPHRASE, TOKEN):
        assert secret not in text


# ---------------------------------------------------------------------------- registration


def test_registered_under_its_type() -> None:
    assert adapter_class("snowflake") is SnowflakeAdapter
    assert SnowflakeAdapter.dialect == "snowflake"
    assert SnowflakeAdapter.target_config_class is SnowflakeTargetConfig


# ---------------------------------------------------------------------------- profile and auth


CONFIG_ERRORS = [
    (
        {"private_key_path": "keys/missing.p8"},
        "Snowflake target: cannot read the private key file '{tmp}/keys/missing.p8': "
        "No such file or directory. Point it at your PKCS#8 key file (e.g. rsa_key.p8) "
        "(profile setting `private_key_path`).",
    ),
    (
        {"password": None},
        "Snowflake target: password authentication needs a password. Set password: "
        "\"{{ env_var('SNOWFLAKE_PASSWORD') }}\", or use private_key_path, authenticator: "
        "externalbrowser or oauth (profile setting `password`).",
    ),
    (
        {"user": None},
        "Snowflake target: authenticator 'snowflake' needs a user. Set the Snowflake login name "
        "(profile setting `user`).",
    ),
    (
        {"authenticator": "oauth", "user": None},
        "Snowflake target: authenticator 'oauth' needs a token. Set token: "
        "\"{{ env_var('SNOWFLAKE_OAUTH_TOKEN') }}\" (profile setting `token`).",
    ),
    (
        {"authenticator": "externalbrowsr"},
        "Snowflake target: unknown authenticator 'externalbrowsr'. Did you mean "
        "'externalbrowser'? (profile setting `authenticator`).",
    ),
    (
        {"account": " "},
        "Snowflake target: no account given. Set it to your account identifier, e.g. xy12345 "
        "(profile setting `account`).",
    ),
]


@pytest.mark.parametrize(
    ("settings", "expected"),
    CONFIG_ERRORS,
    ids=["missing-key-file", "no-password", "no-user", "oauth-no-token", "typo", "no-account"],
)
def test_config_errors_name_the_setting(
    tmp_path: Path, settings: dict[str, Any], expected: str
) -> None:
    adapter = make(tmp_path, **settings)
    with pytest.raises(WarehouseConnectionError) as info:
        adapter.open()  # fails before any connection is attempted
    assert info.value.format_message() == expected.replace("{tmp}", str(tmp_path))
    assert info.value.exit_code == 2
    assert_no_secret(error_text(info.value))


def test_key_pair_errors_name_the_passphrase_and_never_show_it(tmp_path: Path) -> None:
    encrypted = write_key(tmp_path / "enc.p8", passphrase=PASSPHRASE)
    plain = write_key(tmp_path / "plain.p8")
    garbage = tmp_path / "garbage.p8"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    cases = [
        ({"private_key_path": str(encrypted)}, "is encrypted and no passphrase was given"),
        (
            {"private_key_path": str(encrypted), "private_key_passphrase": "wrong-" + PASSPHRASE},
            "cannot decrypt the private key",
        ),
        (
            {"private_key_path": str(plain), "private_key_passphrase": PASSPHRASE},
            "is not encrypted but a passphrase was given",
        ),
    ]
    for settings, problem in cases:
        with pytest.raises(WarehouseConnectionError) as info:
            make(tmp_path, **settings).connect_args()
        text = error_text(info.value)
        assert problem in text
        assert "(profile setting `private_key_passphrase`)" in text
        assert_no_secret(text)
        assert "wrong-" not in text
    with pytest.raises(WarehouseConnectionError, match="not a PEM or DER private key") as info:
        make(tmp_path, private_key_path="garbage.p8").connect_args()  # relative: project dir
    assert "(profile setting `private_key_path`)" in str(info.value)


def test_key_pair_login(fake: None, tmp_path: Path) -> None:
    key_path = write_key(tmp_path / "rsa_key.p8", passphrase=PASSPHRASE)
    adapter = make(
        tmp_path, password=None, private_key_path=str(key_path), private_key_passphrase=PASSPHRASE
    )
    args = adapter.connect_args()
    assert args["authenticator"] == KEY_PAIR
    assert "password" not in args
    key = serialization.load_der_private_key(args["private_key"], password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    with adapter:
        assert adapter.fetch_rows("SELECT 1") == [(1,)]


def test_connect_args(tmp_path: Path) -> None:
    adapter = make(
        tmp_path,
        role="TRANSFORMER",
        warehouse="TRANSFORMING",
        schema="ANALYTICS",
        query_tag="orch-nightly",
        client_session_keep_alive=True,
        connect_timeout=7,
    )
    args = adapter.connect_args()
    assert {k: v for k, v in args.items() if k != "password"} == {
        "account": "fakesnow",
        "user": "orch",
        "role": "TRANSFORMER",
        "warehouse": "TRANSFORMING",
        "database": FAKESNOW_DATABASE,
        "schema": "ANALYTICS",
        "client_session_keep_alive": True,
        "login_timeout": 7,
        "autocommit": True,
        "application": "orch",
        "paramstyle": "qmark",  # server-side binding of env_var() values
        "session_parameters": {"QUERY_TAG": "orch-nightly"},
    }
    oauth = make(tmp_path, authenticator="oauth", user=None, password=None, token=TOKEN)
    assert oauth.connect_args()["authenticator"] == "oauth"
    assert oauth.connect_args()["token"] == TOKEN
    browser = make(tmp_path, authenticator="externalbrowser", password=None)
    assert browser.connect_args()["authenticator"] == "externalbrowser"
    assert "password" not in browser.connect_args()


def test_query_tag_is_a_session_parameter_of_every_thread_session(
    fake: None, tmp_path: Path
) -> None:
    """The tag is set at login (never by a statement), so every thread's session carries it.

    fakesnow ignores session parameters; the live suite reads the tag back from Snowflake.
    """
    adapter = make(tmp_path, query_tag="orch-test")
    with adapter:
        assert adapter.connect_args()["session_parameters"] == {"QUERY_TAG": "orch-test"}
        assert adapter.fetch_rows("SELECT 1") == [(1,)]


def test_unreachable_account_names_the_setting_and_hides_the_password(tmp_path: Path) -> None:
    """The real connector against a closed local port: retried, then a clean error."""
    sleeps = Sleeps()
    redaction.register("SNOWFLAKE_PASSWORD", PASSWORD)
    adapter = make(
        tmp_path,
        sleeps,
        host="127.0.0.1",
        port=9,
        protocol="http",
        connect_timeout=1,
        connect_retries=2,
    )
    with pytest.raises(WarehouseConnectionError) as info:
        adapter.open()
    text = error_text(info.value)
    assert text.startswith("cannot connect to Snowflake account 'fakesnow': ")
    assert "Check the profile setting `host`." in text
    assert_no_secret(text)
    assert sleeps.calls == [0.5, 1.0]  # connect_retries=2, exponential backoff


def test_statement_errors_never_show_the_password(snow: SnowflakeAdapter) -> None:
    sql = f'SELECT * FROM "{SCHEMA}"."missing" WHERE secret = \'{PASSWORD}\''
    with pytest.raises(WarehouseError) as info:
        snow.execute(sql)
    text = error_text(info.value)
    assert "missing" in text
    assert_no_secret(text)


# ---------------------------------------------------------------------------- retry policy


TRANSIENT_CASES = [
    (sf_errors.OperationalError(msg="Could not connect to Snowflake backend", errno=250001), True),
    (sf_errors.ServiceUnavailableError(), True),
    (sf_errors.GatewayTimeoutError(), True),
    (sf_errors.OtherHTTPRetryableError(msg="HTTP 502: Bad Gateway"), True),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (sf_errors.DatabaseError(msg="Connection is closed", errno=250002, sqlstate="08003"), True),
    (
        sf_errors.DatabaseError(msg="Warehouse 'TRANSFORMING' is resuming, retry the query"),
        True,
    ),
    (
        sf_errors.ProgrammingError(
            msg="SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'SELEC'.",
            errno=1003,
            sqlstate="42000",
        ),
        False,
    ),
    (
        sf_errors.ProgrammingError(
            msg="SQL compilation error:\nObject 'ORDERS' does not exist or not authorized.",
            errno=2003,
            sqlstate="42S02",
        ),
        False,
    ),
    (
        sf_errors.DatabaseError(
            msg="Failed to connect to DB. Incorrect username or password was specified.",
            errno=250001,
            sqlstate="08001",
        ),
        False,
    ),
    (
        sf_errors.OperationalError(
            msg="Warehouse 'X' cannot be resumed because resource monitor 'M' has exceeded its "
            "quota."
        ),
        False,
    ),
    (ValueError("not a warehouse error"), False),
]


@pytest.mark.parametrize(
    ("error", "transient"),
    TRANSIENT_CASES,
    ids=[
        "network",
        "http-503",
        "http-504",
        "http-502",
        "connection-reset",
        "connection-closed",
        "warehouse-resuming",
        "syntax",
        "does-not-exist",
        "bad-password",
        "resource-monitor",
        "other",
    ],
)
def test_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_backoff_is_exponential_and_bounded() -> None:
    assert [backoff_delay(i, 0.5) for i in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(20, 1.0) == 30.0


def test_permanent_error_is_not_retried(
    snow: SnowflakeAdapter, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    sql = f'SELECT * FROM "{SCHEMA}"."does_not_exist"'
    with caplog.at_level(logging.DEBUG, logger="orch.adapters.snowflake"):
        with pytest.raises(WarehouseError) as info:
            snow.execute(sql)
    sent = [r for r in caplog.records if r.getMessage() == f"snowflake: {sql}"]
    assert len(sent) == 1  # sent once
    assert sleeps.calls == []
    assert info.value.transient is False
    assert info.value.sql == sql


def test_dead_session_is_reopened_and_the_statement_retried(
    snow: SnowflakeAdapter, sleeps: Sleeps
) -> None:
    """A session that died (network reset, idle timeout) fails transiently: reconnect, retry."""
    first = snow.connection()
    first.close()  # the session is gone under the adapter
    assert snow.fetch_rows("SELECT 42") == [(42,)]
    assert sleeps.calls == [0.5]
    assert snow.connection() is not first


def test_no_retry_inside_a_transaction(snow: SnowflakeAdapter, sleeps: Sleeps) -> None:
    """Inside BEGIN ... COMMIT the transaction died with the session: the step is retried."""
    with pytest.raises(WarehouseError) as info, snow.transaction():
        snow.connection().close()
        snow.execute("SELECT 1")
    assert info.value.transient is True
    assert sleeps.calls == []
    assert snow.fetch_rows("SELECT 2") == [(2,)]  # usable afterwards


def test_commit_is_never_retried(snow: SnowflakeAdapter, sleeps: Sleeps) -> None:
    """A COMMIT re-sent on a new session would succeed as a no-op: the failure must surface."""
    rel = Relation(None, SCHEMA, "t_commit")
    snow.execute(f"CREATE TABLE {snow.render(rel)} (x INT)")
    with pytest.raises(WarehouseError) as info, snow.transaction():
        snow.execute(f"INSERT INTO {snow.render(rel)} VALUES (1)")
        snow.connection().close()  # the network drops before COMMIT
    assert info.value.transient is True and "COMMIT" in (info.value.sql or "")
    assert sleeps.calls == []
    assert snow.fetch_rows(f"SELECT COUNT(*) FROM {snow.render(rel)}") == [(0,)]


def test_append_insert_is_not_resent_after_a_transient_error(
    snow: SnowflakeAdapter, sleeps: Sleeps
) -> None:
    """insert_into runs in BEGIN/COMMIT: a dropped session fails the step, nothing applies twice."""
    rel = Relation(None, SCHEMA, "t_append")
    snow.execute(f"CREATE TABLE {snow.render(rel)} (x INT)")
    assert snow.insert_into(rel, "SELECT 1 AS x") == 1
    original = snow._run
    calls = {"n": 0}

    def drop_after_insert(sql: str, *args: Any, **kwargs: Any) -> Any:
        result = original(sql, *args, **kwargs)
        if sql.startswith("INSERT"):
            calls["n"] += 1
            snow.connection().close()  # executed by the warehouse, then the network drops
        return result

    snow._run = drop_after_insert  # type: ignore[method-assign]
    with pytest.raises(WarehouseError) as info:
        snow.insert_into(rel, "SELECT 2 AS x")
    snow._run = original  # type: ignore[method-assign]
    assert info.value.transient is True
    assert calls["n"] == 1 and sleeps.calls == []  # sent once, never retried
    assert snow.fetch_rows(f"SELECT x FROM {snow.render(rel)} ORDER BY x") == [(1,)]


def test_view_with_text_columns(snow: SnowflakeAdapter) -> None:
    """fakesnow records text lengths of a view elsewhere; no BEGIN/COMMIT around view DDL."""
    rel, view = Relation(None, SCHEMA, "t_text"), Relation(None, SCHEMA, "v_text")
    snow.execute(f"CREATE TABLE {snow.render(rel)} (s VARCHAR)")
    snow.execute(f"INSERT INTO {snow.render(rel)} VALUES (' A ')")
    snow.create_view(view, f"SELECT LOWER(TRIM(s)) AS s FROM {snow.render(rel)}")
    assert snow.fetch_rows(f"SELECT s FROM {snow.render(view)}") == [("a",)]
    snow.create_table_as(rel.with_name("t_other"), "SELECT 1 AS x")
    snow.create_view(rel.with_name("t_other"), "SELECT 2 AS x")  # a table is replaced by a view
    assert snow.relation_type(rel.with_name("t_other")) == "view"


# ---------------------------------------------------------------------------- names and types


def test_identifiers_are_upper_cased(snow: SnowflakeAdapter) -> None:
    assert snow.normalize_name("stg_orders") == "STG_ORDERS"
    orders = Relation(None, SCHEMA, "orders")
    assert snow.render(orders) == '"orch_test"."orders"'
    snow.create_table_as(orders, "SELECT 1 AS order_id, 'x' AS \"Mixed Case\"")
    assert [c.name for c in snow.columns(orders)] == ["ORDER_ID", "Mixed Case"]
    # Arrow column names: plain identifiers stored upper-case, others as they are.
    facts = Relation(None, SCHEMA, "FACTS")
    table = pa.table({"customer_id": [1, 2], "Order Total": [1.5, 2.5]})
    snow.write_arrow(table, facts, WriteMode.CREATE)
    assert [c.name for c in snow.columns(facts)] == ["CUSTOMER_ID", "Order Total"]
    assert snow.fetch_rows(f"SELECT customer_id FROM {snow.render(facts)} ORDER BY 1") == [
        (1,),
        (2,),
    ]
    # Appending matches names case-insensitively.
    snow.write_arrow(pa.table({"CUSTOMER_ID": [3], "Order Total": [0.5]}), facts, WriteMode.APPEND)
    assert snow.row_count(facts) == 3
    with pytest.raises(WarehouseError, match="has no column 'nope'"):
        snow.write_arrow(pa.table({"nope": [1]}), facts, WriteMode.APPEND)


def test_fakesnow_is_detected(snow: SnowflakeAdapter) -> None:
    assert snow.emulated is True


def test_merge_unknown_key_is_an_error(snow: SnowflakeAdapter) -> None:
    stock = Relation(None, SCHEMA, "stock")
    snow.create_table_as(stock, "SELECT 1 AS id, 2 AS qty")
    with pytest.raises(WarehouseError, match=r"unique_key column\(s\) sku not in"):
        snow.merge(stock, "SELECT 1 AS id, 3 AS qty", ["sku"])


def test_write_arrow_types_round_trip(snow: SnowflakeAdapter) -> None:
    import datetime as dt
    from decimal import Decimal

    table = pa.table(
        {
            "n": pa.array([1, None], pa.int64()),
            "f": pa.array([0.5, None], pa.float64()),
            "s": pa.array(["a", None], pa.string()),
            "b": pa.array([True, None], pa.bool_()),
            "d": pa.array([dt.date(2024, 1, 31), None], pa.date32()),
            "ts": pa.array([dt.datetime(2024, 1, 31, 12, 30), None], pa.timestamp("us")),
            "amount": pa.array([Decimal("12.34"), None], pa.decimal128(10, 2)),
        }
    )
    typed = Relation(None, SCHEMA, "typed")
    assert snow.write_arrow(table, typed, WriteMode.CREATE) == 2
    rows = snow.fetch_rows(f"SELECT * FROM {snow.render(typed)} ORDER BY n NULLS LAST")
    assert rows == [
        (
            1,
            0.5,
            "a",
            True,
            dt.date(2024, 1, 31),
            dt.datetime(2024, 1, 31, 12, 30),
            Decimal("12.34"),
        ),
        (None, None, None, None, None, None, None),
    ]


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int32(), "BIGINT"),
        (pa.uint64(), "NUMBER(20,0)"),
        (pa.float32(), "FLOAT"),
        (pa.decimal128(12, 3), "NUMBER(12,3)"),
        (pa.large_string(), "VARCHAR"),
        (pa.binary(), "BINARY"),
        (pa.bool_(), "BOOLEAN"),
        (pa.date32(), "DATE"),
        (pa.time64("us"), "TIME"),
        (pa.timestamp("us"), "TIMESTAMP_NTZ"),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP_TZ"),
        (pa.list_(pa.int64()), "ARRAY"),
        (pa.struct([("a", pa.int64())]), "OBJECT"),
        (pa.dictionary(pa.int32(), pa.string()), "VARCHAR"),
    ],
    ids=str,
)
def test_snowflake_type(arrow_type: pa.DataType, expected: str) -> None:
    assert snowflake_type(arrow_type) == expected


# ------------------------------------------------------------------ one project, 2 targets


def test_read_arrow_names_columns_as_the_python_code_wrote_them(snow: SnowflakeAdapter) -> None:
    """write_arrow stores ``customer_id`` as CUSTOMER_ID; read_arrow hands back ``customer_id``."""
    rel = Relation(None, SCHEMA, "py_out")
    table = pa.table({"customer_id": [1, 2], "Order Total": [1.5, 2.5]})
    snow.write_arrow(table, rel, WriteMode.CREATE)
    assert [c.name for c in snow.columns(rel)] == ["CUSTOMER_ID", "Order Total"]
    assert snow.read_arrow(rel).column_names == ["customer_id", "Order Total"]
    assert snow.fetch_arrow(f"SELECT * FROM {snow.render(rel)}").column_names == [
        "CUSTOMER_ID",
        "Order Total",
    ]


def test_columns_report_number_precision_and_scale(snow: SnowflakeAdapter) -> None:
    rel = Relation(None, SCHEMA, "typed")
    snow.execute(f"CREATE TABLE {snow.render(rel)} (a BIGINT, b NUMBER(18, 2), c VARCHAR)")
    assert [c.data_type for c in snow.columns(rel)] == ["NUMBER(38,0)", "NUMBER(18,2)", "TEXT"]


@pytest.mark.parametrize(
    ("declared", "actual", "emulated", "matches"),
    [
        ("bigint", "NUMBER(38,0)", False, True),
        ("integer", "NUMBER(18,0)", False, True),
        ("bigint", "NUMBER(38,2)", False, False),
        ("decimal(38, 2)", "NUMBER(38,2)", False, True),
        ("decimal(18, 2)", "NUMBER(38,2)", False, False),
        ("double", "FLOAT", False, True),
        ("varchar", "TEXT", False, True),
        ("varchar(20)", "TEXT", False, True),
        ("varchar", "NUMBER(38,0)", False, False),
        ("decimal(38, 2)", "FLOAT", False, False),
        ("decimal(38, 2)", "FLOAT", True, True),  # fakesnow: SUM(decimal) is a DOUBLE
        ("bigint", "HUGEINT", True, True),  # fakesnow: COUNT_IF is a HUGEINT
        ("date", "DATE", False, None),  # no opinion: the generic comparison decides
    ],
)
def test_contract_type_rules(
    tmp_path: Path, declared: str, actual: str, emulated: bool, matches: bool | None
) -> None:
    adapter = make(tmp_path)
    adapter.emulated = emulated
    assert adapter.type_matches(declared, actual) is matches


class _DropsAfter:
    """A connection proxy: statements containing ``marker`` run, then the network 'drops'."""

    def __init__(self, conn: Any, marker: str, sent: list[str]) -> None:
        self._conn, self._marker, self._sent = conn, marker, sent

    def cursor(self) -> Any:
        real, marker, sent = self._conn.cursor(), self._marker, self._sent

        class Cursor:
            def execute(self, sql: str, *args: Any) -> Any:
                result = real.execute(sql, *args)
                if marker in sql:
                    sent.append(sql)
                    raise sf_errors.OperationalError(msg="Connection reset by peer", errno=250001)
                return result

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_rename_into_place_is_never_re_sent(snow: SnowflakeAdapter, sleeps: Sleeps) -> None:
    """A SWAP/RENAME that ran before the network dropped must not run again (it would undo)."""
    rel = Relation(None, SCHEMA, "swapped")
    sent: list[str] = []
    snow.emulated = False  # the real path: no BEGIN/COMMIT around the rename
    snow._local.conn = _DropsAfter(snow.connection(), "RENAME TO", sent)
    with pytest.raises(WarehouseError) as info:
        snow.replace_table_atomically(rel, "SELECT 1 AS x")
    assert info.value.transient is True
    assert len(sent) == 1 and sleeps.calls == []  # sent once, never retried
    assert snow.fetch_rows(f"SELECT x FROM {snow.render(rel)}") == [(1,)]  # it did run


def test_query_columns_are_typed_like_columns(snow: SnowflakeAdapter) -> None:
    rel = Relation(None, SCHEMA, "typed_q")
    snow.execute(f"CREATE TABLE {snow.render(rel)} (a BIGINT, b NUMBER(18, 2), c VARCHAR)")
    queried = snow.query_columns(f"SELECT * FROM {snow.render(rel)}")
    assert [(c.name, c.data_type) for c in queried] == [
        (c.name, c.data_type) for c in snow.columns(rel)
    ]


def test_delete_insert_on_key_and_column_changes(snow: SnowflakeAdapter) -> None:
    """dbt's delete+insert and on_schema_change's DDL, as an incremental run sends them."""
    rel = Relation(None, SCHEMA, "orders_di")
    snow.create_table_as(rel, "SELECT 1 AS id, 'a' AS name UNION ALL SELECT 2, 'b'")
    snow.add_column(rel, Column("EXTRA", "TEXT"))
    rows = snow.delete_insert_on_key(
        rel, "SELECT 2 AS id, 'B' AS name, 'x' AS extra", ["id"], ["ID", "NAME", "EXTRA"]
    )
    assert rows == 1
    assert snow.fetch_rows(f"SELECT * FROM {snow.render(rel)} ORDER BY 1") == [
        (1, "a", None),
        (2, "B", "x"),
    ]
    snow.drop_column(rel, "NAME")
    assert [c.name for c in snow.columns(rel)] == ["ID", "EXTRA"]
