"""The SQLite engine: a file in the data directory (WAL), each connection on a thread of its own.

Each connection is a `sqlite3` connection driven by one dedicated thread (`store.worker`), so
nothing here blocks the event loop and every `Db` call is exactly one thread hand-off (a statement
and its rows together). Pragmas are set once when a connection opens, outside any transaction; transactions
are explicit (``isolation_level=None``: sqlite3's implicit ones would open deferred transactions
behind our back). The writer's transaction starts with ``BEGIN IMMEDIATE``, taking the database's
write lock up front: no deadlocking upgrades between processes sharing the file, and
``busy_timeout`` makes them wait their turn.

Inside the writer's transaction, deferred writes (`Db.defer`) wait in a queue and go with the
connection's next hand-off, as do a lazy transaction's ``BEGIN IMMEDIATE`` and its ``COMMIT``: a
turn's step (BEGIN, the lease check, a few inserts and updates, COMMIT) takes three hand-offs, not
eight. The hand-offs, not the statements, were most of a message's cost.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

from letta_mcp.store.db import Params, Row
from letta_mcp.store.errors import BusyError, IntegrityError, SchemaTooNewError, StoreError
from letta_mcp.store.migrations import LATEST_VERSION, MIGRATIONS
from letta_mcp.store.worker import Worker

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

T = TypeVar("T")
_Pending = tuple[str, Any, bool]  # (sql, parameters, once per parameter set?)


class SqliteDb:
    """One `sqlite3` connection and the thread that runs its statements."""

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, conn: sqlite3.Connection, thread: Worker) -> None:
        self._conn = conn
        self._thread = thread
        self._pending: list[_Pending] = []  # sent, in order, before the next hand-off's own work
        self._deferring = False  # inside the writer's transaction: `defer` queues

    @classmethod
    async def connect(cls, path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, read_only: bool = False) -> SqliteDb:
        thread = Worker("letta-mcp-sqlite")
        try:
            conn = await thread.run(partial(_open, path, busy_timeout_ms=busy_timeout_ms, read_only=read_only))
        except BaseException:
            thread.stop()
            raise
        return cls(conn, thread)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the connection's thread (one hand-off, after any deferred statements),
        translating engine errors."""
        if self._pending:
            pending, self._pending = self._pending, []
            fn = partial(_after, pending, fn)
        return await self._thread.run(partial(_translated, fn, self._conn))

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        return await self.run(lambda c: c.execute(sql, params or {}).fetchall())

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        def one(c: sqlite3.Connection) -> Row | None:
            cur = c.execute(sql, params or {})
            try:
                return cur.fetchone()
            finally:
                cur.close()

        return await self.run(one)

    async def execute(self, sql: str, params: Params = None) -> int:
        return await self.run(lambda c: c.execute(sql, params or {}).rowcount)

    async def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        rows = list(params)
        if rows:
            await self.run(lambda c: c.executemany(sql, rows))

    async def defer(self, sql: str, params: Params = None) -> None:
        if self._deferring:
            self._pending.append((sql, params or {}, False))
        else:
            await self.execute(sql, params)

    async def defer_many(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        rows = list(params)
        if self._deferring and rows:
            self._pending.append((sql, rows, True))
        else:
            await self.executemany(sql, rows)

    def start_deferring(self, begin: str) -> None:
        """Queue ``begin`` (a transaction's first statement) and defer writes from now on."""
        self._pending.append((begin, {}, False))
        self._deferring = True

    def stop_deferring(self) -> None:
        """Run writes at once again; what is queued still goes with the next hand-off (the COMMIT)."""
        self._deferring = False

    def discard_deferred(self) -> None:
        """Forget what is queued (a transaction rolled back before sending it)."""
        self._pending = []
        self._deferring = False

    async def close(self) -> None:
        try:
            await self._thread.run(self._conn.close)
        finally:
            self._thread.stop()


def _after(pending: list[_Pending], fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    for sql, params, many in pending:
        if many:
            conn.executemany(sql, params)
        else:
            conn.execute(sql, params)
    return fn(conn)


def _translated(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    try:
        return fn(conn)
    except sqlite3.IntegrityError as e:
        raise IntegrityError(str(e)) from e
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise BusyError(str(e)) from e
        raise


def _open(path: Path, *, busy_timeout_ms: int, read_only: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            log.warning("SQLite refused WAL mode for %s (journal_mode=%s)", path, mode[0] if mode else None)
        conn.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            # A write through the reader would bypass the write lock and `BEGIN IMMEDIATE` (a deferred
            # transaction upgraded to a write can deadlock against another process): refuse it.
            conn.execute("PRAGMA query_only = 1")
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteEngine:
    """The data directory's ``letta.db``: a writer, a reader, and side connections on request."""

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path, writer: SqliteDb, reader: SqliteDb) -> None:
        self.path = path
        self.location = str(path)
        self.writer = writer
        self.reader = reader

    @classmethod
    async def open(cls, path: Path) -> SqliteEngine:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create {path.parent}: {e}") from e
        try:
            writer = await SqliteDb.connect(path)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {path}: {e}") from e
        try:
            await writer.run(_migrate)
            reader = await SqliteDb.connect(path, read_only=True)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    async def begin(self, *, lazy: bool = False) -> None:
        self.writer.start_deferring("BEGIN IMMEDIATE")
        if not lazy:
            try:
                await self.writer.run(_nothing)
            except BaseException:
                await self.rollback()
                raise

    async def commit(self) -> None:
        self.writer.stop_deferring()
        try:
            await self.writer.execute("COMMIT")  # with every deferred write: the first error fails it
        except BaseException:
            await self.rollback()  # or the connection would stay in the transaction, holding the lock
            raise

    async def rollback(self) -> None:
        self.writer.discard_deferred()
        await self.writer.run(lambda c: c.rollback())

    async def side_connection(self, *, busy_timeout_s: float) -> SqliteDb:
        return await SqliteDb.connect(self.path, busy_timeout_ms=int(busy_timeout_s * 1000))

    async def check(self) -> str:
        row = await self.reader.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no result"

    @asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[None]:
        yield None  # SQLite has no notifications between processes: readers poll

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        # An advisory lock on a file beside the database: the OS drops it when the process dies.
        if fcntl is None:  # not POSIX: processes sharing a data directory there each run the job
            yield True
            return
        fd = os.open(self.path.with_name(f"{self.path.name}.{name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
            else:
                yield True
        finally:
            os.close(fd)  # releases the lock

    async def close(self) -> None:
        await self.reader.close()
        await self.writer.close()


def _nothing(conn: sqlite3.Connection) -> None:
    return None


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        row = conn.execute("SELECT COALESCE(MAX(number), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
        if current > LATEST_VERSION:
            raise SchemaTooNewError(
                f"The database schema is version {current}, but this letta-mcp only knows up to version "
                f"{LATEST_VERSION}. It was written by a newer letta-mcp: upgrade letta-mcp, or point "
                "--data-dir at another directory. The database was not modified."
            )
        for migration in MIGRATIONS:
            if migration.number <= current:
                continue
            log.info("Applying schema migration %04d_%s", migration.number, migration.name)
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(number, name) VALUES (:number, :name)",
                {"number": migration.number, "name": migration.name},
            )
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")
