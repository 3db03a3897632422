"""The store: one engine's connections, the one write path, and every query bound to a connection.

Habits (after datasette and sqlite-utils), the same on both engines:

- one **writer** connection per process, entered only through `Store.write()`, which holds an
  in-process lock and opens a transaction that serializes writers *across processes* from its
  first statement (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock),
  so every read-then-write inside it sees the latest commit and no two writers interleave;
- a separate **reader** connection, so reads never queue behind a write transaction; one
  `Store.read()` block at a time uses it, because a SQLite connection's statements share one
  snapshot while any of them is open: a block reading between another block's statements would
  see the database as of that other statement's start, missing rows committed since;
- an optional *write guard* per task (`Store.guarded`): a check run first in each of its write
  transactions, which the turn lease uses to refuse the writes of a turn whose lease was lost;
- numbered migrations per engine, each applied in one transaction with its record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

from letta_mcp.store.agents import AgentQueries
from letta_mcp.store.archival import ArchivalQueries
from letta_mcp.store.blocks import BlockQueries
from letta_mcp.store.calibration import CalibrationQueries
from letta_mcp.store.change_log import ChangeLogQueries
from letta_mcp.store.db import Db, Dialect
from letta_mcp.store.groups import GroupQueries
from letta_mcp.store.messages import MessageQueries
from letta_mcp.store.owners import OwnerQueries
from letta_mcp.store.runs import RunQueries
from letta_mcp.store.templates import TemplateQueries
from letta_mcp.store.tool_records import InactiveToolQueries
from letta_mcp.store.tool_tasks import ToolTaskQueries

WriteGuard = Callable[["Queries"], Awaitable[None]]


class Queries:
    """All queries, bound to one connection. Write methods are only valid inside `Store.write()`."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.agents = AgentQueries(db)
        self.blocks = BlockQueries(db)
        self.messages = MessageQueries(db)
        self.runs = RunQueries(db)
        self.templates = TemplateQueries(db)
        self.calibration = CalibrationQueries(db)
        self.archival = ArchivalQueries(db)
        self.groups = GroupQueries(db)
        self.inactive_tools = InactiveToolQueries(db)
        self.owners = OwnerQueries(db)
        self.tool_tasks = ToolTaskQueries(db)
        self.change_log = ChangeLogQueries(db)


class SideDb(Db, Protocol):
    """A connection of its own, outside `Store.write`/`Store.read` (the lease's heartbeat)."""

    async def close(self) -> None: ...


class Engine(Protocol):
    """What `Store` needs of a database engine: two connections and the write transaction's edges."""

    dialect: Dialect
    location: str
    """Where the data is, for messages: a file path, or a URL with its password removed."""
    writer: Db
    reader: Db

    async def begin(self, *, lazy: bool = False) -> None:
        """Open the writer's transaction, taking the cross-process write lock; with ``lazy``, the
        engine may take it with the transaction's first statement instead (in the same round trip)."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def side_connection(self, *, busy_timeout_s: float) -> SideDb:
        """A new connection whose writes give up (`BusyError`) after ``busy_timeout_s`` of waiting."""
        ...

    async def check(self) -> str:
        """'ok', or what is wrong with the database (SQLite's integrity check; a round trip on Postgres)."""
        ...

    def listen(self, channel: str) -> AbstractAsyncContextManager[asyncio.Event | None]:
        """Wake-ups for ``channel``: an event set whenever another connection notifies it (after
        that transaction commits), or None where the engine has no notifications (readers poll)."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Try to become the one process (of all sharing the database) running job ``name``; yields
        whether it did, and holds the claim until the block ends or the process dies."""
        ...

    async def close(self) -> None: ...


class Store:
    """The database. Create with `await Store.open(target)`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: Dialect = engine.dialect
        # Built once: query objects hold nothing but their connection, and every block used to
        # build a dozen of them (2% of the event loop's time under load).
        self._reader_queries = Queries(engine.reader)
        self._writer_queries = Queries(engine.writer)
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

    @classmethod
    async def open(cls, target: Path | str) -> Store:
        """Open (creating if needed) the database and bring its schema up to date.

        ``target`` is a SQLite file path, or a ``postgresql://`` URL (the ``[postgres]`` extra).
        """
        url = target if isinstance(target, str) else ""
        if url.startswith(("postgresql://", "postgres://")):
            from letta_mcp.store.postgres import PostgresEngine

            return cls(await PostgresEngine.open(url))
        from letta_mcp.store.sqlite import SqliteEngine

        return cls(await SqliteEngine.open(Path(target)))

    @property
    def location(self) -> str:
        return self.engine.location

    async def close(self) -> None:
        await self.engine.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Queries]:
        """Queries on the reader connection; each block sees what was committed before its statements.

        Blocks take turns (see the module docstring); a block nested in another of the same task
        shares it. Keep blocks to reads: no model call or write inside one.
        """
        task = asyncio.current_task()
        if task is not None and self._reading is task:
            yield self._reader_queries
            return
        async with self._read_lock:
            self._reading = task
            try:
                yield self._reader_queries
            finally:
                self._reading = None

    @asynccontextmanager
    async def write(self, *, lazy: bool = False) -> AsyncIterator[Queries]:
        """One atomic write transaction: committed on exit, rolled back on any exception.

        The cross-process write lock is held when the block starts. ``lazy`` lets the block's first
        statement take it instead, in the same round trip: only for blocks that do nothing outside
        the database before their first statement (which then still runs under the lock).
        """
        async with self._write_lock:
            guard = self._guard.get()
            guarded = guard is not None and guard[0] is asyncio.current_task()
            # A guard's check is the transaction's first statement: the lock comes with it.
            await self.engine.begin(lazy=lazy or guarded)
            self._write_holder = asyncio.current_task()
            try:
                queries = self._writer_queries
                if guard is not None and guarded:
                    await guard[1](queries)
                yield queries
            except BaseException:
                await self.engine.rollback()
                raise
            finally:
                self._write_holder = None
            await self.engine.commit()

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

    async def side_connection(self, *, busy_timeout_s: float) -> SideDb:
        return await self.engine.side_connection(busy_timeout_s=busy_timeout_s)

    async def integrity_check(self) -> str:
        async with self.read():  # the check reads on the reader connection: take its turn
            return await self.engine.check()

    def listen(self, channel: str) -> AbstractAsyncContextManager[asyncio.Event | None]:
        """Notifications of ``channel`` from every process sharing the database (see `Engine.listen`)."""
        return self.engine.listen(channel)

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """An election for a background job that one process at a time should run (see `Engine.exclusive`)."""
        return self.engine.exclusive(name)
