"""The PostgreSQL engine (the ``[postgres]`` extra): the same queries, for several server replicas.

Replicas share one database. Every write transaction starts by taking one transaction-scoped
advisory lock (``pg_advisory_xact_lock``), so writers of all replicas take turns exactly as
SQLite's ``BEGIN IMMEDIATE`` makes processes do: every read-then-write inside a transaction sees
the latest commit, identity values (lease tickets, the change log) are handed out in commit order,
and the turn lease, block edits and sweeps keep the guarantees their SQLite tests prove. Write
transactions are short and never wait on the network (`Store.in_write`), so one lock costs little
next to the statement round trips; reads take no lock and run on their own connection.

Queries are written once with ``:name`` parameters (see `store.db`). This module turns them into
PostgreSQL's spelling once per statement text and keeps the prepared statement per connection:

- ``:name`` → ``$n`` (outside string literals and ``::`` casts);
- SQLite spellings with a PostgreSQL twin: ``LIKE`` (case-insensitive in SQLite) → ``ILIKE``,
  ``x COLLATE NOCASE`` → ``lower(x)``, ``IS [NOT] <value>`` → ``IS [NOT] DISTINCT FROM``,
  ``json_group_array(x)`` → a ``json_agg`` that is ``[]`` when empty, ``group_concat`` → ``string_agg``,
  ``x IN ()`` (an empty list) → ``FALSE``.
  Anything further apart (full-text search, JSON edits) is written per engine where it is used.

asyncpg checks parameter types strictly, where SQLite converts; values are converted to the type
PostgreSQL inferred for each parameter (a bool for a BIGINT flag, an int for a DOUBLE PRECISION).
"""

from __future__ import annotations

import asyncio
import decimal
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from letta_mcp.redact import redact_url
from letta_mcp.store.db import Params, Row
from letta_mcp.store.errors import BusyError, IntegrityError, SchemaTooNewError, StoreError
from letta_mcp.store.pg_migrations import LATEST_VERSION, MIGRATIONS

if TYPE_CHECKING:
    import asyncpg

_STATEMENT_CACHE = 256
_CONNECT_TIMEOUT_S = 10.0

# A string literal (skipped), a `::` cast (skipped) or a parameter.
_PARAM = re.compile(r"'(?:[^']|'')*'|::|:([A-Za-z_]\w*)")
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bNOT LIKE\b"), "NOT ILIKE"),
    (re.compile(r"(?<!NOT )\bLIKE\b"), "ILIKE"),
    (re.compile(r"([\w.]+) COLLATE NOCASE"), r"lower(\1)"),
    (re.compile(r"\bIS NOT (?=[$'])"), "IS DISTINCT FROM "),
    (re.compile(r"\bIS (?=[$'])"), "IS NOT DISTINCT FROM "),
    (re.compile(r"json_group_array\(([\w.]+)\)"), r"COALESCE(json_agg(\1), '[]'::json)::text"),
    (re.compile(r"group_concat\("), "string_agg("),
    # SQLite takes an empty list (`x IN ()` is false); PostgreSQL's grammar does not.
    (re.compile(r"[\w.]+ NOT IN \(\)"), "TRUE"),
    (re.compile(r"[\w.]+ IN \(\)"), "FALSE"),
)


def translate(sql: str) -> tuple[str, tuple[str, ...]]:
    """PostgreSQL's spelling of a contract statement, and its parameter names in ``$n`` order."""
    names: list[str] = []

    def param(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    out = _PARAM.sub(param, sql)
    for pattern, replacement in _REWRITES:
        out = pattern.sub(replacement, out)
    return out, tuple(names)


def _to_int(value: Any) -> Any:
    return int(value) if isinstance(value, (bool, float, str)) else value


def _to_float(value: Any) -> Any:
    return float(value) if isinstance(value, (int, str)) else value


def _to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(int(value))  # what SQLite stores for a bool in a TEXT column
    value = value if isinstance(value, str) else str(value)
    # PostgreSQL text cannot hold NUL (SQLite's can): stored as U+FFFD, so an id with one is "not found".
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


_COERCE: dict[str, Callable[[Any], Any]] = {
    "int2": _to_int,
    "int4": _to_int,
    "int8": _to_int,
    "float4": _to_float,
    "float8": _to_float,
    "numeric": _to_float,
    "text": _to_text,
    "varchar": _to_text,
    "bpchar": _to_text,
    "bool": bool,
}


class _Statement:
    """A prepared statement with what it takes to call it from a ``:name`` mapping."""

    def __init__(self, prepared: asyncpg.prepared_stmt.PreparedStatement, names: tuple[str, ...]) -> None:
        self.prepared = prepared
        self.names = names
        self.coerce = [_COERCE.get(t.name) for t in prepared.get_parameters()]
        # SUM/AVG of integers come back as numeric (Decimal); SQLite gives ints and floats.
        self.numeric = any(a.type.name == "numeric" for a in prepared.get_attributes())

    def args(self, params: Params) -> list[Any]:
        params = params or {}
        try:
            values = [params[name] for name in self.names]
        except KeyError as e:
            raise StoreError(f"statement parameter :{e.args[0]} was not given") from e
        return [v if c is None or v is None else c(v) for v, c in zip(values, self.coerce, strict=True)]


class _NumericRow(tuple):  # type: ignore[type-arg]
    """A row whose numeric columns were turned into ints or floats (by position and by name)."""

    _keys: tuple[str, ...]

    def __new__(cls, values: Iterable[Any], keys: tuple[str, ...]) -> _NumericRow:
        row = super().__new__(cls, values)
        row._keys = keys
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._keys.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._keys


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class PostgresDb:
    """One asyncpg connection (reconnected on next use if the server dropped it)."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str, *, read_only: bool = False, lock_timeout_ms: int | None = None) -> None:
        self._url = url
        self._read_only = read_only
        self._lock_timeout_ms = lock_timeout_ms
        self._conn: asyncpg.Connection | None = None
        self._statements: OrderedDict[str, _Statement] = OrderedDict()

    async def connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            import asyncpg

            settings = {"application_name": "letta-mcp"}
            if self._read_only:
                settings["default_transaction_read_only"] = "on"
            if self._lock_timeout_ms is not None:
                settings["lock_timeout"] = str(self._lock_timeout_ms)
            self._statements.clear()
            self._conn = await asyncpg.connect(
                self._url, timeout=_CONNECT_TIMEOUT_S, server_settings=settings, statement_cache_size=0
            )
        return self._conn

    async def _statement(self, sql: str) -> _Statement:
        conn = await self.connection()  # first: a new connection starts with an empty cache
        found = self._statements.get(sql)
        if found is not None:
            self._statements.move_to_end(sql)
            return found
        text, names = translate(sql)
        statement = _Statement(await self._translated(conn.prepare(text)), names)
        self._statements[sql] = statement
        if len(self._statements) > _STATEMENT_CACHE:
            self._statements.popitem(last=False)
        return statement

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        statement = await self._statement(sql)
        rows = await self._translated(statement.prepared.fetch(*statement.args(params)))
        if statement.numeric and rows:
            keys = tuple(rows[0].keys())
            return [_NumericRow((_plain(v) for v in row.values()), keys) for row in rows]
        return rows

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = None) -> int:
        statement = await self._statement(sql)
        await self._translated(statement.prepared.fetch(*statement.args(params)))
        status = statement.prepared.get_statusmsg() or ""
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        rows = list(params)
        if rows:
            statement = await self._statement(sql)
            await self._translated(statement.prepared.executemany([statement.args(p) for p in rows]))

    async def defer(self, sql: str, params: Params = None) -> None:
        await self.execute(sql, params)  # asyncpg cannot send different statements in one round trip

    async def defer_many(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        await self.executemany(sql, params)

    async def script(self, sql: str) -> None:
        """Run statements without parameters in one round trip (transaction control, DDL)."""
        conn = await self.connection()
        await self._translated(conn.execute(sql))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _translated(self, awaitable: Any) -> Any:
        """Await a driver call: constraint and lock errors become the store's own; a connection
        that broke under it (a server restart, a reaped idle connection) is dropped, so this call
        fails and the next one connects afresh."""
        import asyncpg

        try:
            return await awaitable
        except asyncpg.IntegrityConstraintViolationError as e:
            raise IntegrityError(str(e)) from e
        except asyncpg.LockNotAvailableError as e:
            raise BusyError(str(e)) from e
        except (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError):
            conn, self._conn = self._conn, None
            self._statements.clear()  # prepared on that connection
            if conn is not None:
                conn.terminate()
            raise


class PostgresEngine:
    """A PostgreSQL database (or one schema of it, with ``?search_path=<schema>`` in the URL)."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, url: str, writer: PostgresDb, reader: PostgresDb, write_lock_key: int) -> None:
        self.url = url
        self.location = redact_url(url)
        self.writer = writer
        self.reader = reader
        self._begin = f"BEGIN; SELECT pg_advisory_xact_lock({write_lock_key})"

    @classmethod
    async def open(cls, url: str) -> PostgresEngine:
        try:
            import asyncpg
        except ImportError as e:
            raise StoreError(
                "database_url is a PostgreSQL URL, but asyncpg is not installed: install the extra "
                "(pip install 'letta-mcp[postgres]') or unset database_url to use SQLite"
            ) from e
        writer = PostgresDb(url)
        try:
            conn = await writer.connection()
            # One key per database and schema: deployments sharing a server don't serialize each other.
            write_key = await conn.fetchval(
                "SELECT hashtextextended(current_database() || '/' || current_schema() || '/letta-mcp', 0)"
            )
            await _migrate(conn, write_key)
            reader = PostgresDb(url, read_only=True)
            await reader.connection()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            await writer.close()
            raise StoreError(f"cannot open PostgreSQL at {redact_url(url)}: {e}") from e
        except BaseException:
            await writer.close()
            raise
        return cls(url, writer, reader, write_key)

    async def begin(self, *, lazy: bool = False) -> None:
        # Always now: on PostgreSQL every statement is a round trip of its own anyway.
        await self.writer.script(self._begin)

    async def commit(self) -> None:
        await self.writer.script("COMMIT")

    async def rollback(self) -> None:
        conn = self.writer._conn
        if conn is not None and not conn.is_closed() and conn.is_in_transaction():
            await conn.execute("ROLLBACK")

    async def side_connection(self, *, busy_timeout_s: float) -> PostgresDb:
        db = PostgresDb(self.url, lock_timeout_ms=max(1, int(busy_timeout_s * 1000)))
        await db.connection()
        return db

    async def check(self) -> str:
        row = await self.reader.fetchone("SELECT 1")
        return "ok" if row is not None and row[0] == 1 else "no result"

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[asyncio.Event]:
        # LISTEN on a connection of its own; NOTIFY is delivered when the notifying transaction commits.
        woken = asyncio.Event()
        db = PostgresDb(self.url)
        try:
            conn = await db.connection()
            await conn.add_listener(channel, lambda *_: woken.set())
            yield woken
        finally:
            await db.close()

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        # A session advisory lock on a connection of its own: released when the block closes it, or
        # by the server when the replica holding it dies.
        db = PostgresDb(self.url)
        try:
            conn = await db.connection()
            yield bool(
                await conn.fetchval(
                    "SELECT pg_try_advisory_lock(hashtextextended(current_database() || '/' || current_schema()"
                    " || '/letta-mcp/' || $1, 0))",
                    name,
                )
            )
        finally:
            await db.close()

    async def close(self) -> None:
        await self.reader.close()
        await self.writer.close()


async def _migrate(conn: asyncpg.Connection, write_key: int) -> None:
    """Apply pending migrations; replicas starting together wait for each other on the write lock."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", write_key)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number BIGINT PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = await conn.fetchval("SELECT COALESCE(MAX(number), 0) FROM schema_migrations")
        if current > LATEST_VERSION:
            raise SchemaTooNewError(
                f"The database schema is version {current} (PostgreSQL numbering), but this letta-mcp only knows "
                f"up to version {LATEST_VERSION}. It was written by a newer letta-mcp: upgrade letta-mcp, or "
                "point database_url at another database. The database was not modified."
            )
        for migration in MIGRATIONS:
            if migration.number <= current:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (number, name) VALUES ($1, $2)", migration.number, migration.name
            )
