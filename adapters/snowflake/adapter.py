"""The Snowflake adapter: snowflake-connector-python, one session per worker thread.

Each worker thread opens its own connector connection on first use and keeps it until
:meth:`SnowflakeAdapter.close` (never one per model). Tables are replaced with
``CREATE TABLE <tmp> AS ...`` then ``ALTER TABLE <tmp> SWAP WITH <target>``; Arrow comes back
through ``fetch_arrow_all`` and goes in through the connector's bulk ``write_pandas`` (staged
Parquet + ``COPY INTO``), never row by row.

Snowflake commits DDL implicitly, so only DML is transactional:
``delete_insert`` and ``merge`` run inside an explicit ``BEGIN``/``COMMIT``.

The same code runs against ``fakesnow`` (the connector emulated on DuckDB) in the test suite. Where
fakesnow lacks a feature the adapter detects it (:attr:`SnowflakeAdapter.emulated`) and uses the
nearest equivalent only there; see ``docs/snowflake.md`` for the list of gaps."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from orch.adapters.base import TEMP_PREFIX, Adapter, Column, WriteMode
from orch.config import SnowflakeTargetConfig, TargetConfig
from orch.errors import WarehouseConnectionError, WarehouseError, suggestion
from orch.names import Relation
from orch.redaction import bind_placeholders, scrub

if TYPE_CHECKING:
    import pyarrow as pa
    import snowflake.connector
    import snowflake.connector.errors as sf_errors
    import snowflake.connector.pandas_tools

from orch.adapters.snowflake import emulation
from orch.adapters.snowflake.retry import (
    _LOGIN_ERRNO_SETTINGS,
    ER_CONNECTION_IS_CLOSED,
    backoff_delay,
    is_transient,
)
from orch.adapters.snowflake.typemap import (
    _UNQUOTED_NAME,
    _closed,
    _fetch_arrow,
    _python_name,
    _storage_type,
    snowflake_type,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_LITERAL_PATTERN = re.compile(r"'(?:[^']|'')*'")

# ---------------------------------------------------------------------------- authenticators

PASSWORD = "snowflake"
KEY_PAIR = "snowflake_jwt"
EXTERNAL_BROWSER = "externalbrowser"
OAUTH = "oauth"
AUTHENTICATORS = (PASSWORD, KEY_PAIR, EXTERNAL_BROWSER, OAUTH, "username_password_mfa")


# ---------------------------------------------------------------------------- adapter


def _import_driver() -> None:
    """Import snowflake-connector-python into this module's globals.

    The connector (with pandas) takes over a second to import: it is imported when an adapter is
    made, never when orch only reads the class (``target_config_class``, to validate a profile),
    so ``orch ls`` or ``orch compile`` on a Snowflake target does not pay for it.
    """
    global snowflake, sf_errors
    import snowflake.connector
    import snowflake.connector.errors as sf_errors
    import snowflake.connector.pandas_tools  # noqa: F401  (write_pandas, looked up at write time)


class _ThreadState(threading.local):
    """Per-thread connection and transaction depth."""

    conn: Any = None
    depth: int = 0


class SnowflakeAdapter(Adapter):
    """A Snowflake account reached with snowflake-connector-python."""

    type: ClassVar[str] = "snowflake"
    dialect: ClassVar[str] = "snowflake"
    target_config_class = SnowflakeTargetConfig

    config: SnowflakeTargetConfig

    def __init__(
        self,
        config: TargetConfig,
        project_dir: Path,
        *,
        retry_base_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(config, SnowflakeTargetConfig):
            config = SnowflakeTargetConfig.model_validate(config.model_dump(by_alias=True))
        super().__init__(config, project_dir)
        _import_driver()
        self.retry_base_delay = retry_base_delay
        self._sleep = sleep
        self._local = _ThreadState()
        self._lock = threading.RLock()  # reentrant: interrupt() may run in a signal handler
        self._connections: list[Any] = []
        self._schemas: set[tuple[str | None, str]] = set()
        self._connect_args: dict[str, Any] | None = None
        self.emulated: bool | None = None  # fakesnow behind the connector (set on connect)
        self._fake_held = False  # this adapter holds the ORCH_FAKESNOW patch (see emulation)

    # ---------------------------------------------------------------- settings and secrets

    @property
    def authenticator(self) -> str:
        """The authenticator in force: the profile's, or key-pair when a key is given."""
        raw = (self.config.authenticator or "").strip()
        if not raw:
            if self.config.private_key_path:
                return KEY_PAIR
            if self.config.token is not None:
                return OAUTH
            return PASSWORD
        lowered = raw.lower()
        return lowered if lowered in AUTHENTICATORS else raw

    def _secrets(self) -> list[str]:
        """This target's secret values (never to appear in a message)."""
        values = [self.config.password, self.config.token, self.config.private_key_passphrase]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]

    def _scrub(self, text: str) -> str:
        """``text`` without registered env_var secrets nor this target's secret values."""
        text = scrub(text)
        for secret in sorted(self._secrets(), key=len, reverse=True):
            text = text.replace(secret, "****")
        return text

    def _config_error(self, setting: str, problem: str, hint: str) -> WarehouseConnectionError:
        """A connection error naming the profile ``setting`` at fault."""
        return WarehouseConnectionError(
            self._scrub(f"Snowflake target: {problem}"),
            hint=self._scrub(f"{hint} (profile setting `{setting}`)."),
        )

    def connect_args(self) -> dict[str, Any]:
        """The keyword arguments given to ``snowflake.connector.connect`` (validated once).

        Raises WarehouseConnectionError naming the setting at fault (a missing key file, an
        unknown authenticator, a missing password or token), without any secret value.
        """
        if self._connect_args is not None:
            return self._connect_args
        cfg = self.config
        if not cfg.account.strip():
            raise self._config_error(
                "account", "no account given", "Set it to your account identifier, e.g. xy12345"
            )
        auth = self.authenticator
        args: dict[str, Any] = {
            "account": cfg.account,
            "user": cfg.user,
            "role": cfg.role,
            "warehouse": cfg.warehouse,
            "database": cfg.database,
            "schema": cfg.schema_,
            "client_session_keep_alive": cfg.client_session_keep_alive,
            "login_timeout": cfg.connect_timeout,
            "autocommit": True,
            "application": "orch",
            "host": cfg.host,
            "port": cfg.port,
            "protocol": cfg.protocol,
            "insecure_mode": cfg.insecure_mode,
            # server-side binding: a bound value travels apart from the SQL text (pyformat, the
            # default, pastes it into the text on the client), so it never enters query history
            "paramstyle": "qmark",
        }
        if cfg.query_tag:
            args["session_parameters"] = {"QUERY_TAG": cfg.query_tag}
        if auth != OAUTH and not cfg.user:
            raise self._config_error(
                "user", f"authenticator '{auth}' needs a user", "Set the Snowflake login name"
            )
        if auth in (PASSWORD, "username_password_mfa"):
            if cfg.password is None or not cfg.password.get_secret_value():
                raise self._config_error(
                    "password",
                    "password authentication needs a password",
                    "Set password: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\", or use "
                    "private_key_path, authenticator: externalbrowser or oauth",
                )
            args["password"] = cfg.password.get_secret_value()
            if auth != PASSWORD:
                args["authenticator"] = auth
        elif auth == KEY_PAIR:
            args["authenticator"] = KEY_PAIR
            args["private_key"] = self._load_private_key()
        elif auth == EXTERNAL_BROWSER:
            args["authenticator"] = EXTERNAL_BROWSER
        elif auth == OAUTH:
            if cfg.token is None or not cfg.token.get_secret_value():
                raise self._config_error(
                    "token",
                    "authenticator 'oauth' needs a token",
                    "Set token: \"{{ env_var('SNOWFLAKE_OAUTH_TOKEN') }}\"",
                )
            args["authenticator"] = OAUTH
            args["token"] = cfg.token.get_secret_value()
        elif auth.lower().startswith("https://") and auth.lower().rstrip("/").endswith(".okta.com"):
            args["authenticator"] = auth  # native SSO through Okta: user + password
            if cfg.password is not None:
                args["password"] = cfg.password.get_secret_value()
        else:
            raise self._config_error(
                "authenticator",
                f"unknown authenticator '{auth}'",
                suggestion(auth, AUTHENTICATORS)
                or f"Use one of: {', '.join(AUTHENTICATORS)} or an https://<org>.okta.com URL",
            )
        self._connect_args = {k: v for k, v in args.items() if v is not None}
        return self._connect_args

    def _load_private_key(self) -> bytes:
        """The ``private_key_path`` PEM (or DER) key as unencrypted PKCS#8 DER bytes."""
        from cryptography.hazmat.primitives import serialization  # the connector's dependency

        raw_path = self.config.private_key_path or ""
        path = Path(raw_path).expanduser()
        if not path.is_absolute():
            path = Path(self.project_dir) / path
        try:
            data = path.read_bytes()
        except OSError as err:
            raise self._config_error(
                "private_key_path",
                f"cannot read the private key file '{path}': {err.strerror or err}",
                "Point it at your PKCS#8 key file (e.g. rsa_key.p8)",
            ) from None
        secret = self.config.private_key_passphrase
        password = secret.get_secret_value().encode() if secret is not None else None
        try:
            if data.lstrip().startswith(b"-----"):
                key = serialization.load_pem_private_key(data, password=password or None)
            else:
                key = serialization.load_der_private_key(data, password=password or None)
        except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
            if password:
                raise self._config_error(
                    "private_key_passphrase",
                    f"the private key '{path}' is not encrypted but a passphrase was given",
                    "Remove private_key_passphrase",
                ) from None
            raise self._config_error(
                "private_key_passphrase",
                f"the private key '{path}' is encrypted and no passphrase was given",
                "Set private_key_passphrase: \"{{ env_var('SNOWFLAKE_PRIVATE_KEY_PASSPHRASE') }}\"",
            ) from None
        except ValueError:
            if password:
                raise self._config_error(
                    "private_key_passphrase",
                    f"cannot decrypt the private key '{path}'",
                    "Check the passphrase",
                ) from None
            raise self._config_error(
                "private_key_path",
                f"'{path}' is not a PEM or DER private key",
                "Point it at your PKCS#8 key file (e.g. rsa_key.p8)",
            ) from None
        return key.private_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Validate the settings and open this thread's session (others open lazily)."""
        self.connection()

    def close(self) -> None:
        """Close every thread's session."""
        with self._lock:
            conns, self._connections = self._connections, []
            self._schemas.clear()
        for conn in conns:
            try:
                conn.close()
            except Exception as err:  # noqa: BLE001 - closing a broken session: nothing to release
                log.debug("close: %s", self._scrub(str(err)))
        self._local = _ThreadState()
        with self._lock:
            held, self._fake_held = self._fake_held, False
        if held:
            emulation.release()

    def _emulate_if_asked(self) -> None:
        """Run on fakesnow when ``ORCH_FAKESNOW`` says so (see :mod:`.emulation`)."""
        if self._fake_held:
            return
        wanted, db_path = emulation.requested(self.project_dir)
        if wanted:
            with self._lock:
                if not self._fake_held:
                    self._fake_held = emulation.acquire(db_path)

    def interrupt(self) -> None:
        """Cancel the queries running in every session (``SYSTEM$CANCEL_ALL_QUERIES``).

        Under fakesnow there is nothing to cancel (statements run synchronously in DuckDB).
        """
        with self._lock:
            conns = list(self._connections)
        sessions = [int(c.session_id) for c in conns if getattr(c, "session_id", None) is not None]
        if not sessions or self.emulated:
            return
        try:
            control = snowflake.connector.connect(**self.connect_args())
        except Exception as err:  # noqa: BLE001 - best effort: the sessions end on close()
            log.warning("cannot cancel running queries: %s", self._scrub(str(err)))
            return
        try:
            for session in sessions:
                control.cursor().execute("SELECT SYSTEM$CANCEL_ALL_QUERIES(?)", (session,))
        except sf_errors.Error as err:
            log.warning("cannot cancel running queries: %s", self._scrub(str(err)))
        finally:
            control.close()

    def connection(self) -> Any:
        """This thread's session, opened on first use (with retries on transient errors)."""
        conn = self._local.conn
        if conn is not None:
            return conn
        args = self.connect_args()
        self._emulate_if_asked()
        attempt = 0
        while True:
            try:
                # Looked up on the module at call time, so fakesnow.patch() can replace it.
                conn = snowflake.connector.connect(**args)
                break
            except Exception as err:  # noqa: BLE001 - the connector raises many types at login
                if is_transient(err) and attempt < self.config.connect_retries:
                    self._wait(attempt, err, "connect")
                    attempt += 1
                    continue
                raise self._connect_error(err) from None
        if self.emulated is None:
            self.emulated = type(conn).__module__.partition(".")[0] == "fakesnow"
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _connect_error(self, err: BaseException) -> WarehouseConnectionError:
        """A WarehouseConnectionError naming the setting a login error points at."""
        message = self._scrub(str(err))
        lowered = message.lower()
        setting = _LOGIN_ERRNO_SETTINGS.get(getattr(err, "errno", None) or 0)
        if setting is None:
            if "username or password" in lowered:
                setting = "user` or `password"
            elif "jwt" in lowered or "private key" in lowered:
                setting = "private_key_path"
            elif "oauth" in lowered or "token" in lowered:
                setting = "token"
            elif "role" in lowered:
                setting = "role"
            elif "warehouse" in lowered:
                setting = "warehouse"
            elif "database" in lowered:
                setting = "database"
            elif "browser" in lowered:
                setting = "authenticator"
            elif self.config.host and ("connect" in lowered or "host" in lowered):
                setting = "host"
            else:
                setting = "account"
        return WarehouseConnectionError(
            f"cannot connect to Snowflake account '{self.config.account}': {message}",
            hint=f"Check the profile setting `{setting}`.",
        )

    def _discard_connection(self) -> None:
        """Forget this thread's session (it died); the next statement opens a new one."""
        conn, self._local.conn = self._local.conn, None
        if conn is None:
            return
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.close()
        except Exception as err:  # noqa: BLE001 - already dead
            log.debug("close: %s", err)

    def _wait(self, attempt: int, err: BaseException, what: str) -> None:
        """Log a transient error and sleep before retry ``attempt``."""
        delay = backoff_delay(attempt, self.retry_base_delay)
        log.warning(
            "snowflake: transient error on %s, retry %d in %.1fs: %s",
            what,
            attempt + 1,
            delay,
            self._scrub(str(err)),
        )
        self._sleep(delay)

    # ---------------------------------------------------------------- statements and errors

    def _run(
        self,
        sql: str,
        params: Sequence[object] | None = None,
        consume: Callable[[Any], T] | None = None,
        *,
        retry: bool = True,
    ) -> T | None:
        """Execute one statement on this thread's session and ``consume`` its cursor.

        Transient errors are retried with exponential backoff (at most ``max_retries`` times),
        reconnecting when the session died, but only outside a transaction: inside one the
        transaction is gone with the error, so the caller (the executor) retries the step.
        ``retry=False`` for a statement that must not run twice (SWAP, RENAME). env_var()
        placeholders in ``sql`` are bound as ``?`` parameters (never pasted as text).
        """
        bound, values = bind_placeholders(sql, self.dialect, params)
        attempt = 0
        while True:
            conn = self.connection()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("snowflake: %s", _LITERAL_PATTERN.sub("'…'", self._scrub(sql)))
            try:
                cur = conn.cursor()
                cur.execute(bound, values) if values is not None else cur.execute(bound)
                return consume(cur) if consume is not None else None
            except sf_errors.Error as err:
                transient = is_transient(err)
                dead = getattr(err, "errno", None) == ER_CONNECTION_IS_CLOSED or _closed(conn)
                if dead and self._local.depth == 0:
                    self._discard_connection()
                retryable = retry and transient and self._local.depth == 0
                if retryable and attempt < self.config.max_retries:
                    self._wait(attempt, err, "statement")
                    attempt += 1
                    continue
                raise self._statement_error(err, sql, transient) from err

    def _statement_error(self, err: BaseException, sql: str, transient: bool) -> WarehouseError:
        """A WarehouseError for a failed statement, scrubbed of secrets."""
        message = self._scrub(str(err))
        hint = None
        if "no active warehouse" in message.lower():
            hint = "Set the profile setting `warehouse` (or grant USAGE on it to the role)."
        return WarehouseError(message, sql=self._scrub(sql), hint=hint, transient=transient)

    @staticmethod
    def _affected(cur: Any) -> int | None:
        """Rows affected by DML (INSERT/UPDATE/DELETE/MERGE), else None."""
        description = cur.description or []
        if description and str(description[0][0]).lower().startswith("number of rows"):
            return int(cur.rowcount) if cur.rowcount is not None else None
        return None

    # ---------------------------------------------------------------- raw SQL

    def execute(self, sql: str) -> int | None:
        """Run one statement; rows affected for DML, None for DDL."""
        return self._run(sql, consume=self._affected)

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a query and return its rows as tuples."""
        rows = self._run(sql, consume=lambda cur: cur.fetchall() if cur.description else [])
        return [tuple(r) for r in rows or []]

    def fetch_arrow(self, sql: str) -> pa.Table:
        """Run a query and return an Arrow table (``fetch_arrow_all``, else through pandas)."""
        table = self._run(sql, consume=_fetch_arrow)
        assert table is not None
        return table

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN``/``COMMIT`` on this thread's session, ``ROLLBACK`` on error; nesting joins.

        Snowflake commits DDL implicitly: only DML is undone by a rollback.
        """
        with self.nested_transaction(
            self._local,
            lambda: self._run("BEGIN"),
            lambda: self._run("COMMIT"),
            self._rollback,
        ):
            yield

    def _rollback(self) -> None:
        """ROLLBACK, logging instead of raising (the session may be gone)."""
        conn = self._local.conn
        if conn is None:
            return
        try:
            conn.cursor().execute("ROLLBACK")
        except sf_errors.Error as err:
            log.debug("rollback: %s", self._scrub(str(err)))
        if _closed(conn):  # the session died with the transaction: open a new one next time
            self._discard_connection()

    # ---------------------------------------------------------------- catalog

    def _information_schema(self, database: str | None, view: str) -> str:
        """``"DB".INFORMATION_SCHEMA.<view>`` (or the current database's)."""
        prefix = f"{self.quote(database)}." if database else ""
        return f"{prefix}INFORMATION_SCHEMA.{view}"

    def _tables_sql(self, database: str | None) -> str:
        """A query of every table and view: ``table_schema, table_name, table_type``.

        Snowflake's ``INFORMATION_SCHEMA.TABLES`` lists views too; fakesnow's lists only tables,
        so there its ``VIEWS`` are added.
        """
        sql = "SELECT table_schema, table_name, table_type FROM " + self._information_schema(
            database, "TABLES"
        )
        if self.emulated:
            sql += (
                " UNION ALL SELECT table_schema, table_name, 'VIEW' AS table_type FROM "
                + self._information_schema(database, "VIEWS")
            )
        return sql

    def ensure_schema(self, database: str | None, schema: str) -> None:
        """``CREATE SCHEMA IF NOT EXISTS``, once per schema, serialized across threads."""
        key = (database, schema)
        if key in self._schemas:
            return
        parts = [database, schema] if database else [schema]
        sql = f"CREATE SCHEMA IF NOT EXISTS {'.'.join(self.quote(p) for p in parts)}"
        with self._lock:
            if key in self._schemas:
                return
            self._run(sql)
            self._schemas.add(key)

    def relation_type(self, relation: Relation) -> str | None:
        """'table', 'view' or None; names match exactly (Snowflake stores them as created)."""
        rows = self._run(
            f"SELECT table_type FROM ({self._tables_sql(relation.database)}) AS t"
            " WHERE table_schema = ? AND table_name = ?",
            (relation.schema, relation.name),
            consume=lambda cur: cur.fetchall(),
        )
        if not rows:
            return None
        return "view" if any("VIEW" in str(r[0]).upper() for r in rows) else "table"

    def relation_exists(self, relation: Relation) -> bool:
        """Whether a table or view of that name exists."""
        return self.relation_type(relation) is not None

    def columns(self, relation: Relation) -> list[Column]:
        """The relation's columns in order, with Snowflake's type names (``NUMBER(p,s)``)."""
        rows = self._run(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM "
            + self._information_schema(relation.database, "COLUMNS")
            + " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (relation.schema, relation.name),
            consume=lambda cur: cur.fetchall(),
        )
        return [
            Column(
                str(name),
                f"NUMBER({precision},{scale})"
                if str(data_type).upper() == "NUMBER" and precision is not None
                else str(data_type),
            )
            for name, data_type, precision, scale in rows or []
        ]

    def schema_columns(self, database: str | None, schema: str) -> dict[str, list[Column]]:
        """Every relation of a schema -> its columns in order: one INFORMATION_SCHEMA query."""
        rows = self._run(
            "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale FROM "
            + self._information_schema(database, "COLUMNS")
            + " WHERE table_schema = ? ORDER BY table_name, ordinal_position",
            (schema,),
            consume=lambda cur: cur.fetchall(),
        )
        out: dict[str, list[Column]] = {}
        for table, name, data_type, precision, scale in rows or []:
            number = str(data_type).upper() == "NUMBER" and precision is not None
            kind = f"NUMBER({precision},{scale})" if number else str(data_type)
            out.setdefault(str(table), []).append(Column(str(name), kind))
        return out

    def type_matches(self, declared: str, actual: str) -> bool | None:
        """Snowflake's storage rules: every integer type is ``NUMBER(38,0)``, text ignores length.

        A declared integer matches any ``NUMBER(p,0)``, ``decimal(p,s)`` matches ``NUMBER(p,s)``,
        a float type ``FLOAT``. Under fakesnow, ``SUM`` of a decimal is a ``FLOAT`` and
        ``COUNT_IF`` a ``HUGEINT`` (DuckDB's types): accepted there for a declared number.
        """
        want, got = _storage_type(declared), _storage_type(actual)
        if want is None or got is None:
            return None
        if want == got:
            return True
        if want[0] == "NUMBER" and got[0] == "NUMBER":
            return want[2] == got[2] and (want[1] is None or want[1] == got[1])
        if self.emulated and want[0] == "NUMBER":
            return got[0] == "FLOAT" and want[2] != 0
        return False

    def list_relations(self, database: str | None, schema: str) -> list[Relation]:
        """Every table and view in a schema, sorted by name."""
        rows = self._run(
            f"SELECT DISTINCT table_name FROM ({self._tables_sql(database)}) AS t"
            " WHERE table_schema = ? ORDER BY table_name",
            (schema,),
            consume=lambda cur: cur.fetchall(),
        )
        return [Relation(database, schema, str(name)) for (name,) in rows or []]

    # ---------------------------------------------------------------- materializations

    def _temp_relation(self, relation: Relation) -> Relation:
        """A fresh temporary name in the same schema: ``TEMP_PREFIX`` + name + random suffix."""
        return relation.with_name(f"{TEMP_PREFIX}{relation.name}_{uuid.uuid4().hex[:8]}")

    def _drop_quietly(self, relation: Relation) -> None:
        """Drop a table if it exists, logging instead of raising (cleanup after a failure)."""
        try:
            self._run(f"DROP TABLE IF EXISTS {self.render(relation)}")
        except WarehouseError as err:
            log.warning("could not drop temporary table %s: %s", relation, err)

    def _swap_in(self, temp: Relation, relation: Relation) -> None:
        """Put the table ``temp`` in place of ``relation`` (a table, a view or nothing).

        On Snowflake an existing table is exchanged with ``ALTER TABLE ... SWAP WITH`` (one atomic
        metadata operation) and the old data, now under the temporary name, dropped. fakesnow has
        no SWAP: there the old relation is dropped and ``temp`` renamed inside one transaction
        (DuckDB's DDL is transactional, so readers see the old or the new table).
        """
        target, tmp = self.render(relation), self.render(temp)
        if self.emulated:
            with self.transaction():
                kind = self.relation_type(relation)
                if kind is not None:
                    self._run(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} {target}")
                self._run(f"ALTER TABLE {tmp} RENAME TO {target}", retry=False)
            return
        kind = self.relation_type(relation)
        if kind == "table":
            # Never re-sent: a SWAP that ran before the network dropped would be swapped back.
            self._run(f"ALTER TABLE {tmp} SWAP WITH {target}", retry=False)
            self._drop_quietly(temp)
            return
        if kind == "view":  # a view cannot be swapped with a table: drop it, then rename
            self._run(f"DROP VIEW IF EXISTS {target}")
        # The new name is fully qualified: an unqualified one would move the table to the
        # session's current schema.
        self._run(f"ALTER TABLE {tmp} RENAME TO {target}", retry=False)

    def _replace_with(self, relation: Relation, build: Callable[[Relation], object]) -> int:
        """Build a temporary table with ``build``, count it and swap it in; clean up on failure."""
        temp = self._temp_relation(relation)
        try:
            build(temp)
            count = self.row_count(temp)
            self._swap_in(temp, relation)
        except BaseException:
            if self._local.depth == 0:  # inside a transaction the rollback owns cleanup
                self._drop_quietly(temp)
            raise
        return count

    def create_view(self, relation: Relation, select_sql: str) -> None:
        """``CREATE OR REPLACE VIEW`` (dropping a table of that name first), outside BEGIN/COMMIT.

        Snowflake commits every DDL statement on its own, so a transaction around them adds
        nothing; under fakesnow it would fail for a view with text columns (fakesnow records
        their lengths in a second DuckDB database, and one transaction writes only one).
        """
        if self.relation_type(relation) == "table":
            self._run(f"DROP TABLE {self.render(relation)}")
        self._run(f"CREATE OR REPLACE VIEW {self.render(relation)} AS {select_sql}")
        self._bind_view(relation)

    def _bind_view(self, relation: Relation) -> None:
        """Compile a select of the new view (``LIMIT 0``: no rows read, no warehouse time).

        Snowflake checks a view's columns when it is read: a column its source lost fails this
        step, naming the view, instead of every model below it.
        """
        probe = f"SELECT * FROM {self.render(relation)} LIMIT 0"
        try:
            self.fetch_rows(probe)
        except WarehouseError as err:
            raise WarehouseError(
                f"the view {relation} fails when read: {err.message}",
                sql=probe,
                hint="Fix the model's SQL (Snowflake checks a view's columns when it is read)",
                transient=err.transient,
            ) from err

    def create_table_as(self, relation: Relation, select_sql: str) -> int | None:
        """``CREATE TABLE relation AS select`` (the relation must not exist). Returns row count."""
        self.execute(f"CREATE TABLE {self.render(relation)} AS {select_sql}")
        return self.row_count(relation)

    def replace_table_atomically(self, relation: Relation, select_sql: str) -> int | None:
        """``CREATE TABLE <tmp> AS select``, then ``ALTER TABLE <tmp> SWAP WITH <relation>``."""
        return self._replace_with(
            relation, lambda temp: self.execute(f"CREATE TABLE {self.render(temp)} AS {select_sql}")
        )

    def publish_staged(self, staged: Relation, relation: Relation) -> None:
        """Put the table ``staged`` in place of ``relation`` (SWAP WITH or a rename), no copy."""
        self._swap_in(staged, relation)

    def insert_into(
        self, relation: Relation, select_sql: str, columns: Sequence[str] | None = None
    ) -> int | None:
        """``INSERT INTO ... select`` inside ``BEGIN``/``COMMIT``, so it is never re-sent.

        Outside a transaction a transient error is retried; an INSERT that Snowflake executed
        before the network dropped would then apply twice. Inside one, the error fails the step
        and the session's open transaction is rolled back.
        """
        with self.transaction():
            return super().insert_into(relation, select_sql, columns)

    def delete_insert(self, relation: Relation, select_sql: str, where_sql: str) -> int | None:
        """``BEGIN; DELETE ... WHERE where_sql; INSERT ... select; COMMIT``."""
        target = self.render(relation)
        with self.transaction():
            self.execute(f"DELETE FROM {target} WHERE {where_sql}")
            return self.execute(f"INSERT INTO {target} {select_sql}")

    def merge(self, relation: Relation, select_sql: str, unique_key: Sequence[str]) -> int | None:
        """``MERGE INTO`` on ``unique_key`` (NULL-safe), inside ``BEGIN``/``COMMIT``.

        Columns match by name, case-insensitively as Snowflake resolves unquoted names; target
        columns the query lacks keep their value on update.
        """
        if not unique_key:
            raise WarehouseError(f"merge into {relation} needs a unique_key")
        source_cols = self._query_columns(select_sql)
        target_cols = {c.name.upper(): c.name for c in self.columns(relation)}
        by_upper = {c.upper(): c for c in source_cols}
        # a key is named as Snowflake stores it (order_id -> ORDER_ID, '"OrderId"' stays), then
        # found among the query's columns (case-insensitively: fakesnow keeps some written case)
        stored = {k: self.normalize_name(k) for k in unique_key}
        found = {k: s if s in source_cols else by_upper.get(s.upper()) for k, s in stored.items()}
        missing = [k for k, s in found.items() if s is None]
        if missing:
            raise WarehouseError(
                f"merge into {relation}: unique_key column(s) {', '.join(missing)} "
                f"not in the query's columns ({', '.join(source_cols)})",
                sql=self._scrub(select_sql),
            )
        keys = {s for s in found.values() if s is not None}
        src, tgt = self.quote("__orch_src"), self.quote("__orch_tgt")

        def target_col(name: str) -> str:
            return self.quote(target_cols.get(name.upper(), name))

        on = " AND ".join(
            f"{tgt}.{target_col(s)} IS NOT DISTINCT FROM {src}.{self.quote(s)}"
            for s in found.values()
            if s is not None
        )
        updates = [c for c in source_cols if c not in keys]
        sql = f"MERGE INTO {self.render(relation)} AS {tgt} USING ({select_sql}) AS {src} ON {on}"
        if updates:
            sets = ", ".join(f"{target_col(c)} = {src}.{self.quote(c)}" for c in updates)
            sql += f" WHEN MATCHED THEN UPDATE SET {sets}"
        insert_cols = ", ".join(target_col(c) for c in source_cols)
        insert_vals = ", ".join(f"{src}.{self.quote(c)}" for c in source_cols)
        sql += f" WHEN NOT MATCHED THEN INSERT ({insert_cols}) VALUES ({insert_vals})"
        if self.emulated and self._local.depth == 0:
            # fakesnow emulates MERGE with a temporary table, and cannot create a table inside an
            # explicit transaction (its catalog lives in another DuckDB database): run it alone.
            return self.execute(sql)
        with self.transaction():
            return self.execute(sql)

    TRANSACTIONAL_DDL: ClassVar[bool] = False

    def delete_insert_on_key(
        self,
        relation: Relation,
        select_sql: str,
        unique_key: Sequence[str],
        columns: Sequence[str],
    ) -> int | None:
        """dbt-snowflake's order: stage the rows (DDL commits), then delete and insert in one
        transaction; the staged table is dropped either way."""
        staged = relation.with_name(f"{TEMP_PREFIX}delete_insert_{uuid.uuid4().hex[:8]}")
        self.create_table_as(staged, select_sql)
        try:
            with self.transaction():
                return self._delete_insert_from(relation, staged, unique_key, columns)
        finally:
            self.drop_relation(staged)

    def _query_columns(self, select_sql: str) -> list[str]:
        """The output column names of a query, without reading its rows."""
        return [c.name for c in self.query_columns(select_sql)]

    def query_columns(self, select_sql: str) -> list[Column]:
        """A query's output columns, typed as ``columns()`` types them (``NUMBER(p,s)``)."""
        from snowflake.connector.constants import FIELD_ID_TO_NAME

        def typed(d: Any) -> Column:
            kind = FIELD_ID_TO_NAME.get(d.type_code, "TEXT")
            if kind == "FIXED":
                return Column(str(d.name), f"NUMBER({d.precision},{d.scale})")
            return Column(str(d.name), {"REAL": "FLOAT"}.get(kind, kind))

        sql = f"SELECT * FROM ({select_sql}) AS {self.quote('__orch_q')} LIMIT 0"
        columns = self._run(sql, consume=lambda cur: [typed(d) for d in cur.description or []])
        return columns or []

    # ---------------------------------------------------------------- Arrow

    def write_arrow(self, table: pa.Table, relation: Relation, mode: WriteMode) -> int:
        """Bulk-load an Arrow table with the connector's ``write_pandas`` (Parquet + COPY INTO).

        Column names that are plain identifiers are stored upper-case (as Snowflake stores
        unquoted names), so downstream SQL can name them unquoted. REPLACE builds a temporary
        table and swaps it in; APPEND matches columns by name (case-insensitively) and creates
        the table when absent; CREATE fails when the relation exists.
        """
        if mode is WriteMode.REPLACE:
            self._replace_with(relation, lambda temp: self._create_and_load(table, temp))
            return int(table.num_rows)
        if self.relation_exists(relation):
            if mode is WriteMode.CREATE:
                raise WarehouseError(
                    f"cannot create {self.render(relation)}: it already exists",
                    sql=f"-- write_arrow {self.render(relation)} (create)",
                )
            existing = {c.name.upper(): c.name for c in self.columns(relation)}
            names = []
            for name in table.column_names:
                stored = existing.get(self.column_name(name).upper()) or existing.get(name.upper())
                if stored is None:
                    raise WarehouseError(
                        f"cannot append to {self.render(relation)}: it has no column '{name}'",
                        sql=f"-- write_arrow {self.render(relation)} (append)",
                        hint=f"Its columns: {', '.join(existing.values())}",
                    )
                names.append(stored)
            self._load(table.rename_columns(names), relation)
            return int(table.num_rows)
        try:
            self._create_and_load(table, relation)
        except BaseException:
            if self._local.depth == 0:
                self._drop_quietly(relation)
            raise
        return int(table.num_rows)

    def read_arrow(self, relation: Relation, where_sql: str | None = None) -> pa.Table:
        """Read a relation as Arrow, its upper-case plain column names in lower case.

        The inverse of :meth:`column_name`: a Python asset reads ``customer_id`` on Snowflake as
        on DuckDB. Quoted mixed-case names (``"Order Total"``) keep their case.
        """
        table = super().read_arrow(relation, where_sql)
        names = [_python_name(n) for n in table.column_names]
        return table.rename_columns(names) if names != table.column_names else table

    def content_fingerprint_sql(
        self, relation: Relation, columns: Sequence[str], where_sql: str | None = None
    ) -> str:
        """Snowflake's ``HASH_AGG`` per column and over whole rows (order-independent,
        NULL-safe); fakesnow lacks it, so an emulated target uses DuckDB's flavour."""
        if self.emulated or not columns:
            return super().content_fingerprint_sql(relation, columns, where_sql)
        quoted = [self.quote(c) for c in columns]
        parts = ["COUNT(*)", *(f"TO_VARCHAR(HASH_AGG({q}))" for q in quoted)]
        parts.append(f"TO_VARCHAR(HASH_AGG({', '.join(quoted)}))")
        where = f" WHERE {where_sql}" if where_sql else ""
        return f"SELECT {', '.join(parts)} FROM {self.render(relation)}{where}"

    def column_name(self, name: str) -> str:
        """How an Arrow column name is stored: plain identifiers upper-case, others as they are."""
        return self.normalize_name(name) if _UNQUOTED_NAME.match(name) else name

    def _create_and_load(self, table: pa.Table, relation: Relation) -> None:
        """``CREATE TABLE`` typed from the Arrow schema, then bulk-load the rows."""
        names = [self.column_name(n) for n in table.column_names]
        columns = ", ".join(
            f"{self.quote(name)} {snowflake_type(field.type)}"
            for name, field in zip(names, table.schema, strict=True)
        )
        self._run(f"CREATE TABLE {self.render(relation)} ({columns})")
        self._load(table.rename_columns(names), relation)

    def _load(self, table: pa.Table, relation: Relation) -> None:
        """Bulk-load ``table`` (columns already named as in ``relation``) with write_pandas."""
        import pandas as pd  # heavy optional dependency, imported late

        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
        # Looked up on the module at call time, so fakesnow.patch() can replace it.
        write_pandas = snowflake.connector.pandas_tools.write_pandas
        try:
            ok, _chunks, _rows, _ = write_pandas(
                self.connection(),
                frame,
                relation.name,
                database=relation.database,
                schema=relation.schema,
                quote_identifiers=True,
                auto_create_table=False,
                use_logical_type=True,
            )
        except sf_errors.Error as err:
            raise self._statement_error(
                err, f"-- write_pandas {self.render(relation)}", is_transient(err)
            ) from err
        if not ok:
            raise WarehouseError(
                f"bulk load into {self.render(relation)} failed",
                sql=f"-- write_pandas {self.render(relation)}",
            )
