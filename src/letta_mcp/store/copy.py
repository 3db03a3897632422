"""Copy one store into another, across engines (SQLite ⇄ PostgreSQL), and prove the copy.

`copy_store` reads the source in one snapshot and writes the target in one transaction, so a
failure leaves the target as empty as it was. Tables go in dependency order, streamed in
batches (keyset paging on each table's key; one ``executemany`` per batch): no table is ever
held whole in memory. What it leaves out belongs to the processes of one database, not to the
data: ``processes``, ``lease_tickets`` and ``change_log`` (servers rebuild them), and
``schema_migrations`` (the target keeps its own, written when it was opened).

Insertion order is part of the data where queries page by it: ``messages`` and ``passages`` keep
their rowids (SQLite's implicit rowid, an identity column on PostgreSQL, inserted with
``OVERRIDING SYSTEM VALUE`` and its sequence moved past them). Counters the target's triggers keep
(``archives.passage_count``, ``archive_tags``) are set back to the source's values after the rows
that fire them, so the target is the source row for row.

Each table's fingerprint is its row count and an order-independent checksum: the sum, modulo
2**256, of the SHA-256 of every row's values as canonical JSON (columns by name). Both engines read
back the same Python values for the shared column types (TEXT, integers, doubles), so equal
fingerprints mean equal tables.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from letta_mcp.store.db import Db, Row
from letta_mcp.store.errors import StoreError
from letta_mcp.store.store import Store

BATCH_ROWS = 2000


class CopyRefusedError(StoreError):
    """The copy was not started; nothing was written. The message says why and what to do."""


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    """The primary key: rows are read in its order (keyset paging on its index)."""
    rowid: bool = False
    """The table's rowid orders its rows for queries (paging): copied as a column. SQLite reads such a
    table fastest in rowid order; PostgreSQL has no index on it (its rowid is a plain identity column)."""
    trigger_made: bool = False
    """Rows the target's triggers create from other tables' rows: replaced by the source's."""
    counters: tuple[str, ...] = ()
    """Columns the target's triggers change as other tables fill: set back to the source's."""


# Parents before children (foreign keys are checked per statement on both engines).
TABLES: tuple[Table, ...] = (
    Table("agents", ("id",)),
    Table("agent_tags", ("agent_id", "tag")),
    Table("blocks", ("id",)),
    Table("agent_blocks", ("agent_id", "label")),
    Table("block_history", ("id",)),
    Table("templates", ("id",)),
    Table("token_calibration", ("model",)),
    Table("inactive_tools", ("agent_id", "name")),
    Table("agent_groups", ("id",)),
    Table("agent_group_members", ("group_id", "agent_id")),
    Table("runs", ("id",)),
    Table("steps", ("id",)),
    Table("messages", ("id",), rowid=True),
    Table("archives", ("id",), counters=("passage_count",)),
    Table("agent_archives", ("agent_id", "archive_id")),
    Table("passages", ("id",), rowid=True),
    Table("passage_tags", ("passage_id", "tag")),
    Table("archive_tags", ("archive_id", "tag"), trigger_made=True),
    Table("archival_index_state", ("key",)),
    Table("tool_tasks", ("id",)),
)
NOT_COPIED = ("processes", "lease_tickets", "change_log", "schema_migrations")


class CopyMismatchError(StoreError):
    """The target read back differently from the source; the copy was rolled back."""

    def __init__(self, report: CopyReport) -> None:
        super().__init__(
            f"the copy does not match the source in: {', '.join(report.mismatched)}; it was rolled back, the "
            "target is unchanged"
        )
        self.report = report


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str


@dataclass(frozen=True)
class CopyReport:
    source: dict[str, Fingerprint]
    """Read while copying, in the snapshot that was copied."""
    target: dict[str, Fingerprint]
    """Read back from the target inside the copy's transaction, before its commit."""

    @property
    def mismatched(self) -> list[str]:
        return [name for name, fp in self.source.items() if self.target.get(name) != fp]


Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``, after each batch."""


async def copy_store(
    source: Store,
    target: Store,
    *,
    live_within_s: float,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CopyReport:
    """Copy every table of ``source`` into the empty ``target`` and fingerprint both; committed only
    when they match (else `CopyMismatchError`, rolled back).

    Refused (`CopyRefusedError`, nothing written) when a server process heartbeat on the source
    within ``live_within_s`` seconds, when the schemas differ, or when the target holds any row.
    """
    async with source.read() as s, _snapshot(s.db):
        await refuse_live_servers(s.db, live_within_s)
        columns = await _columns(s.db)
        async with target.write() as t:
            if await _columns(t.db) != columns:
                raise CopyRefusedError(
                    f"the schemas of {source.location} and {target.location} differ: open both with the same "
                    "letta-mcp version first"
                )
            await _refuse_non_empty(t.db, target.location)
            try:
                copied = await _copy_tables(s.db, t.db, columns, progress, batch_rows)
            except _engine_errors() as e:  # e.g. the URL's user may not ALTER the tables
                raise StoreError(f"the copy failed ({e}); it was rolled back, the target is unchanged") from e
            report = CopyReport(source=copied, target=await _fingerprints(t.db, columns, batch_rows))
            if report.mismatched:
                raise CopyMismatchError(report)
    return report


async def _copy_tables(
    source: Db, target: Db, columns: dict[str, tuple[str, ...]], progress: Progress | None, batch_rows: int
) -> dict[str, Fingerprint]:
    postgres = target.dialect == "postgresql"
    if postgres:
        await _set_triggers(target, "DISABLE")
    copied: dict[str, Fingerprint] = {}
    for table in TABLES:
        copied[table.name] = await _copy_table(source, target, table, columns[table.name], progress, batch_rows)
    for table in TABLES:
        if table.counters:
            await _copy_counters(source, target, table, batch_rows)
    if postgres:
        await _set_triggers(target, "ENABLE")
        for table in TABLES:
            if table.rowid:  # the next row the target adds comes after the copied ones
                await target.fetchone(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'rowid'),"
                    f" COALESCE(MAX(rowid), 0) + 1, false) FROM {table.name}"
                )
    return copied


async def fingerprints(store: Store, *, batch_rows: int = BATCH_ROWS) -> dict[str, Fingerprint]:
    """Row count and checksum of every copied table, read in one snapshot."""
    async with store.read() as q, _snapshot(q.db):
        return await _fingerprints(q.db, await _columns(q.db), batch_rows)


async def _fingerprints(db: Db, columns: dict[str, tuple[str, ...]], batch_rows: int) -> dict[str, Fingerprint]:
    found: dict[str, Fingerprint] = {}
    for table in TABLES:
        digest = _Digest(columns[table.name])
        async for batch in _batches(db, table, columns[table.name], batch_rows):
            digest.add(batch)
        found[table.name] = digest.fingerprint()
    return found


async def refuse_live_servers(db: Db, live_within_s: float) -> None:
    """Refuse when a server process heartbeat on ``db`` within ``live_within_s`` seconds (a stopped
    one removed its row; a killed one's heartbeat goes stale)."""
    rows = await db.fetchall(
        "SELECT pid, host FROM processes WHERE heartbeat_at > :cutoff ORDER BY started_at",
        {"cutoff": time.time() - live_within_s},
    )
    if rows:
        live = ", ".join(f"pid {r['pid']} on {r['host']}" for r in rows)
        raise CopyRefusedError(
            f"{len(rows)} letta-mcp server process(es) are running on the source ({live}): stop them first, "
            f"so nothing changes while it is copied (a server killed without stopping counts for {live_within_s:g} s, "
            "lease_ttl_s)"
        )


async def _refuse_non_empty(db: Db, location: str) -> None:
    for table in TABLES:
        if await db.fetchone(f"SELECT 1 FROM {table.name} LIMIT 1") is not None:
            raise CopyRefusedError(
                f"the target {location} is not empty (table {table.name} has rows): copy into a new data "
                "directory, database or schema"
            )


async def _set_triggers(db: Db, action: str) -> None:
    """Switch the target's own triggers (not its foreign keys) off or on, inside the transaction.

    The copy sets the counters they keep itself. On PostgreSQL a trigger updating one counter row per
    copied row would leave a new version of that row each time, all alive until the commit: measured,
    20,000 passages took 70 s instead of a few. SQLite updates in place and cannot switch them off.
    """
    for table in TABLES:
        await db.execute(f"ALTER TABLE {table.name} {action} TRIGGER USER")


@asynccontextmanager
async def _snapshot(db: Db) -> AsyncIterator[None]:
    """One read transaction: every statement sees the database as of the first."""
    from letta_mcp.store.postgres import PostgresDb

    if isinstance(db, PostgresDb):
        await db.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:
        await db.execute("BEGIN")  # deferred: SQLite's snapshot starts at the first read
    try:
        yield
    finally:
        if isinstance(db, PostgresDb):
            await db.script("COMMIT")
        else:
            await db.execute("COMMIT")


async def _columns(db: Db) -> dict[str, tuple[str, ...]]:
    """Each copied table's columns, sorted by name (``rowid`` first where it orders the rows)."""
    out: dict[str, tuple[str, ...]] = {}
    for table in TABLES:
        if db.dialect == "postgresql":
            rows = await db.fetchall(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = :t",
                {"t": table.name},
            )
        else:
            rows = await db.fetchall("SELECT name FROM pragma_table_info(:t)", {"t": table.name})
        names = sorted(str(r[0]) for r in rows if r[0] != "rowid")
        if not names:
            raise CopyRefusedError(f"table {table.name} is missing: open the database with letta-mcp first")
        out[table.name] = (("rowid",) if table.rowid else ()) + tuple(names)
    return out


def _quoted(column: str) -> str:
    # SQLite's implicit rowid must stay a bare word; other names may be keywords ("limit").
    return column if column == "rowid" else f'"{column}"'


async def _batches(db: Db, table: Table, columns: tuple[str, ...], batch_rows: int) -> AsyncIterator[list[Row]]:
    """The table's rows, ``batch_rows`` at a time, in key order."""
    key = ("rowid",) if table.rowid and db.dialect == "sqlite" else table.key
    select = ", ".join(_quoted(c) for c in columns)
    keys = ", ".join(_quoted(k) for k in key)
    after = ", ".join(f":k{i}" for i in range(len(key)))
    first = f"SELECT {select} FROM {table.name} ORDER BY {keys} LIMIT :n"
    rest = f"SELECT {select} FROM {table.name} WHERE ({keys}) > ({after}) ORDER BY {keys} LIMIT :n"
    rows = await db.fetchall(first, {"n": batch_rows})
    while rows:
        yield rows
        if len(rows) < batch_rows:
            return
        last = rows[-1]
        params: dict[str, Any] = {f"k{i}": last[k] for i, k in enumerate(key)}
        rows = await db.fetchall(rest, {**params, "n": batch_rows})


def _insert(dialect: str, table: Table, columns: tuple[str, ...]) -> str:
    names = ", ".join(_quoted(c) for c in columns)
    values = ", ".join(f":c{i}" for i in range(len(columns)))
    # An identity column is GENERATED ALWAYS on PostgreSQL: copied values must override it.
    overriding = " OVERRIDING SYSTEM VALUE" if dialect == "postgresql" and table.rowid else ""
    return f"INSERT INTO {table.name} ({names}){overriding} VALUES ({values})"


async def _copy_table(
    source: Db, target: Db, table: Table, columns: tuple[str, ...], progress: Progress | None, batch_rows: int
) -> Fingerprint:
    total_row = await source.fetchone(f"SELECT COUNT(*) FROM {table.name}")
    total = int(total_row[0]) if total_row is not None else 0
    if table.trigger_made:
        await target.execute(f"DELETE FROM {table.name}")
    insert = _insert(target.dialect, table, columns)
    digest = _Digest(columns)
    if progress is not None:
        progress(table.name, 0, total)
    async for batch in _batches(source, table, columns, batch_rows):
        try:
            await target.executemany(insert, [{f"c{i}": row[i] for i in range(len(columns))} for row in batch])
        except (StoreError, ValueError, *_engine_errors()) as e:  # ValueError: a value of the wrong type
            raise StoreError(
                f"the target refused a row of table {table.name} ({e}); the copy was rolled back, the target is "
                "unchanged"
            ) from e
        digest.add(batch)
        if progress is not None:
            progress(table.name, digest.rows, total)
    return digest.fingerprint()


async def _copy_counters(source: Db, target: Db, table: Table, batch_rows: int) -> None:
    columns = table.key + table.counters
    sets = ", ".join(f"{_quoted(c)} = :c{i}" for i, c in enumerate(table.counters, start=len(table.key)))
    where = " AND ".join(f"{_quoted(k)} = :c{i}" for i, k in enumerate(table.key))
    update = f"UPDATE {table.name} SET {sets} WHERE {where}"
    async for batch in _batches(source, table, columns, batch_rows):
        await target.executemany(update, [{f"c{i}": row[i] for i in range(len(columns))} for row in batch])


def _engine_errors() -> tuple[type[Exception], ...]:
    """What either engine raises for a row it will not take (a constraint, a value out of range)."""
    try:
        from asyncpg import PostgresError
    except ImportError:  # no [postgres] extra: only SQLite
        return (sqlite3.Error,)
    return (sqlite3.Error, PostgresError)


class _Digest:
    """A table's row count and the sum of its rows' SHA-256 (order-independent, unlike a chained hash)."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.rows = 0
        self._sum = 0

    def add(self, rows: list[Row]) -> None:
        for row in rows:
            text = json.dumps([row[i] for i in range(len(self.columns))], separators=(",", ":"))
            self._sum += int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
        self._sum %= 1 << 256
        self.rows += len(rows)

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.rows, f"{self._sum:064x}")
