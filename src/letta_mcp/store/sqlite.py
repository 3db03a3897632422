"""The SQLite store: connections, pragmas, migrations and the one write path.

Habits (after datasette and sqlite-utils):

- one **writer** connection per process, entered only through `Store.write()`, which holds an
  in-process lock and runs ``BEGIN IMMEDIATE`` so the write lock is taken up front (no deadlock
  upgrades between processes that share the file; ``busy_timeout`` makes them wait their turn);
- a separate **reader** connection, so reads never queue behind a write transaction (WAL); one
  `Store.read()` block at a time uses it, because a connection's statements share one snapshot
  while any of them is open: a block reading between another block's ``execute`` and its fetch
  would see the database as of that other statement's start, missing rows committed since;
- an optional *write guard* per task (`Store.guarded`): a check run first in each of its write
  transactions, which the turn lease uses to refuse the writes of a turn whose lease was lost;
- pragmas set once when a connection opens, outside any transaction;
- numbered migrations, each applied in one transaction with its record.

aiosqlite runs each connection on its own thread, so nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path

import aiosqlite

from letta_mcp.store.agents import AgentQueries
from letta_mcp.store.archival import ArchivalQueries
from letta_mcp.store.blocks import BlockQueries
from letta_mcp.store.calibration import CalibrationQueries
from letta_mcp.store.errors import SchemaTooNewError, StoreError
from letta_mcp.store.groups import GroupQueries
from letta_mcp.store.messages import MessageQueries
from letta_mcp.store.migrations import LATEST_VERSION, MIGRATIONS
from letta_mcp.store.owners import OwnerQueries
from letta_mcp.store.runs import RunQueries
from letta_mcp.store.templates import TemplateQueries
from letta_mcp.store.tool_records import InactiveToolQueries

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

WriteGuard = Callable[["Queries"], Awaitable[None]]


class Queries:
    """All queries, bound to one connection. Write methods are only valid inside `Store.write()`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.agents = AgentQueries(conn)
        self.blocks = BlockQueries(conn)
        self.messages = MessageQueries(conn)
        self.runs = RunQueries(conn)
        self.templates = TemplateQueries(conn)
        self.calibration = CalibrationQueries(conn)
        self.archival = ArchivalQueries(conn)
        self.groups = GroupQueries(conn)
        self.inactive_tools = InactiveToolQueries(conn)
        self.owners = OwnerQueries(conn)


class Store:
    """The data directory's SQLite database. Create with `await Store.open(path)`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._write_holder: asyncio.Task[object] | None = None  # the task inside `write()`, if any
        self._read_lock = asyncio.Lock()
        self._reading: asyncio.Task[object] | None = None  # the task inside `read()`, for nesting
        # Per store, not module-wide: tests open several stores (one per "process") in one process.
        # With its task: a task started inside the guarded block (e.g. the archival indexer, woken by
        # a turn) inherits the context but not the guard, or its writes would outlive the turn's ticket.
        self._guard: ContextVar[tuple[asyncio.Task[object] | None, WriteGuard] | None] = ContextVar(
            f"letta_mcp_write_guard_{id(self)}", default=None
        )
        self._agent_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        try:
            await _migrate(writer)
            reader = await _connect(path, read_only=True)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Queries]:
        """Queries on the reader connection; each block sees what was committed before its statements.

        Blocks take turns (see the module docstring); a block nested in another of the same task
        shares it. Keep blocks to reads: no model call or write inside one.
        """
        task = asyncio.current_task()
        if task is not None and self._reading is task:
            yield Queries(self._reader)
            return
        async with self._read_lock:
            self._reading = task
            try:
                yield Queries(self._reader)
            finally:
                self._reading = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Queries]:
        """One atomic write transaction: committed on exit, rolled back on any exception."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            self._write_holder = asyncio.current_task()
            try:
                queries = Queries(self._writer)
                guard = self._guard.get()
                if guard is not None and guard[0] is asyncio.current_task():
                    await guard[1](queries)
                yield queries
            except BaseException:
                await self._writer.rollback()
                raise
            finally:
                self._write_holder = None
            await self._writer.commit()

    def in_write(self) -> bool:
        """Whether the calling task holds the write transaction. A network or model call made while it
        does would stall every writer of every process; code that makes one checks this first."""
        return self._write_holder is not None and self._write_holder is asyncio.current_task()

    @contextmanager
    def guarded(self, guard: WriteGuard | None) -> Iterator[None]:
        """Run ``guard`` first in every write transaction of this task until the block ends; it
        raises to refuse the transaction. ``None`` lifts any guard."""
        token = self._guard.set(None if guard is None else (asyncio.current_task(), guard))
        try:
            yield
        finally:
            self._guard.reset(token)

    @asynccontextmanager
    async def agent_lock(self, agent_id: str) -> AsyncIterator[None]:
        """Serialize turns of one agent within this process; different agents run in parallel.

        This is the seam where a cross-process lease (or a Postgres advisory lock) plugs in.
        Block edits are already safe across processes: they read and write the current row
        inside one ``BEGIN IMMEDIATE`` transaction.
        """
        lock = self._agent_locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            yield

    async def integrity_check(self) -> str:
        async with self._reader.execute("PRAGMA integrity_check") as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else "no result"


async def _connect(path: Path, *, read_only: bool = False) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (sqlite3's implicit transactions
    # would otherwise open deferred transactions behind our back).
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute("PRAGMA foreign_keys = ON")
    async with conn.execute("PRAGMA journal_mode = WAL") as cur:
        row = await cur.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        log.warning("SQLite refused WAL mode for %s (journal_mode=%s)", path, row[0] if row else None)
    await conn.execute("PRAGMA synchronous = NORMAL")
    if read_only:
        # A write through the reader would bypass the write lock and `BEGIN IMMEDIATE` (a deferred
        # transaction upgraded to a write can deadlock against another process): refuse it.
        await conn.execute("PRAGMA query_only = 1")
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        async with conn.execute("SELECT COALESCE(MAX(number), 0) FROM schema_migrations") as cur:
            row = await cur.fetchone()
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
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations(number, name) VALUES (:number, :name)",
                {"number": migration.number, "name": migration.name},
            )
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COALESCE(MAX(number), 0) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    if row is None:
        raise StoreError("schema_migrations is empty")
    return int(row[0])
