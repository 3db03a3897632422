"""The PostgreSQL engine: same schema as SQLite, replicas that migrate and write together safely.

Everything else about the store runs on both engines: `.ci/run` runs the whole suite a second time
with ``LETTA_TEST_DATABASE_URL`` (tests/postgres.py), and the lease tests take both engines.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import asyncpg
import pytest

from letta_mcp.models import Agent, Block, new_id, utcnow
from letta_mcp.store import SchemaTooNewError, Store, StoreError
from letta_mcp.store.pg_migrations import LATEST_VERSION
from letta_mcp.store.postgres import translate

pytestmark = pytest.mark.anyio

# What only one engine has: SQLite's FTS5 shadow tables and AUTOINCREMENT bookkeeping; PostgreSQL's
# identity column standing in for SQLite's implicit rowid.
_SQLITE_ONLY = ("sqlite_", "messages_fts")
_PG_ONLY_COLUMNS = {("messages", "rowid"), ("passages", "rowid")}


async def _columns(store: Store) -> set[tuple[str, str]]:
    sql = {
        "sqlite": "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
        "postgresql": "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema()",
    }[store.dialect]
    async with store.read() as q:
        rows = await q.db.fetchall(sql)
    return {(r[0], r[1]) for r in rows if not r[0].startswith(_SQLITE_ONLY) and r[0] != "schema_migrations"}


async def test_both_engines_end_with_the_same_tables_and_columns(tmp_path: Path, postgres_url: str) -> None:
    sqlite, postgres = await Store.open(tmp_path / "letta.db"), await Store.open(postgres_url)
    try:
        assert await _columns(postgres) - _PG_ONLY_COLUMNS == await _columns(sqlite)
    finally:
        await sqlite.close()
        await postgres.close()


def test_statements_are_spelled_for_postgresql_once() -> None:
    sql, names = translate(
        "SELECT a.* FROM agents a WHERE a.name LIKE :like AND a.owner = :owner AND x NOT LIKE 'a:b'"
        " AND a.id NOT IN () AND a.kind IS 'summary' AND a.owner IS NOT :owner AND '{:not_a_param}' = c::text"
        " ORDER BY a.name COLLATE NOCASE"
    )
    assert sql == (
        "SELECT a.* FROM agents a WHERE a.name ILIKE $1 AND a.owner = $2 AND x NOT ILIKE 'a:b'"
        " AND TRUE AND a.kind IS NOT DISTINCT FROM 'summary' AND a.owner IS DISTINCT FROM $2"
        " AND '{:not_a_param}' = c::text ORDER BY lower(a.name)"
    )
    assert names == ("like", "owner")


async def test_a_password_never_appears_in_errors() -> None:
    for url in ("postgresql://letta:s3cret@127.0.0.1:1/letta", "postgresql://letta@127.0.0.1:1/letta?password=s3cret"):
        with pytest.raises(StoreError) as refused:
            await Store.open(url)
        assert "s3cret" not in str(refused.value) and "cannot open PostgreSQL" in str(refused.value)


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores: list[Store] = []

    async def start() -> None:
        stores.append(await Store.open(postgres_url))

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(start)
        async with stores[0].read() as q:
            rows = await q.db.fetchall("SELECT number FROM schema_migrations ORDER BY number")
        assert [r[0] for r in rows] == list(range(1, LATEST_VERSION + 1))
    finally:
        for store in stores:
            await store.close()


async def test_a_schema_from_a_newer_version_is_refused_untouched(postgres_url: str) -> None:
    store = await Store.open(postgres_url)
    async with store.write() as q:
        await q.db.execute("INSERT INTO schema_migrations (number, name) VALUES (999, 'future')")
    await store.close()
    with pytest.raises(SchemaTooNewError, match="version 999"):
        await Store.open(postgres_url)


def _block(value: str) -> Block:
    now = utcnow()
    return Block(id=new_id("block"), label="counter", value=value, limit=100, created_at=now, updated_at=now)


async def test_read_modify_write_on_two_replicas_loses_no_update(postgres_url: str) -> None:
    """Writers of all replicas take turns (one advisory lock per write transaction), so a
    read-then-write inside a transaction always sees the other replica's last commit."""
    a, b = await Store.open(postgres_url), await Store.open(postgres_url)
    block = _block("0")
    try:
        async with a.write() as q:
            await q.blocks.insert(block)

        async def add(store: Store, times: int) -> None:
            for _ in range(times):
                async with store.write() as q:
                    current = await q.blocks.get(block.id)
                    assert current is not None
                    await anyio.lowlevel.checkpoint()  # let the other replica try to slip in between
                    await q.db.execute(
                        "UPDATE blocks SET value = :v WHERE id = :id",
                        {"v": str(int(current.value) + 1), "id": block.id},
                    )

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(add, a, 25)
                tg.start_soon(add, b, 25)
        async with a.read() as q:
            final = await q.blocks.get(block.id)
        assert final is not None and final.value == "50"
    finally:
        await a.close()
        await b.close()


async def test_a_dropped_connection_is_reopened_for_the_next_write(postgres_url: str, postgres_server: str) -> None:
    store = await Store.open(postgres_url)
    agent = Agent(
        id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=utcnow(), updated_at=utcnow()
    )
    try:
        admin = await asyncpg.connect(postgres_server)
        try:  # what a database restart or an idle-connection reaper does to this replica
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'letta-mcp'"
                " AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        # At most the one transaction that meets the dead connection fails, with the driver's error;
        # the connection is opened again for the next one (here, or at once when the loss was seen).
        for attempt in range(2):
            try:
                async with store.write() as q:
                    await q.agents.insert(agent)
                break
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError):
                assert attempt == 0
        async with store.read() as q:
            assert await q.agents.exists(agent.id)
    finally:
        await store.close()


async def test_a_notification_wakes_the_other_replica_when_its_transaction_commits(postgres_url: str) -> None:
    listener, writer = await Store.open(postgres_url), await Store.open(postgres_url)
    try:
        with anyio.fail_after(30):
            async with listener.listen("letta_test") as woken:
                assert woken is not None
                async with writer.write() as q:
                    await q.db.execute("SELECT pg_notify(:channel, '')", {"channel": "letta_test"})
                    with anyio.move_on_after(0.3):  # not before the commit
                        await woken.wait()
                    assert not woken.is_set()
                await woken.wait()
    finally:
        await listener.close()
        await writer.close()


async def test_sqlite_has_no_notifications_so_readers_poll(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "letta.db")
    try:
        async with store.listen("letta_test") as woken:
            assert woken is None
    finally:
        await store.close()


async def test_a_change_on_one_replica_wakes_a_follower_on_another_without_polling(postgres_url: str) -> None:
    from letta_mcp.models import utcnow
    from letta_mcp.service.change_relay import LogRelay

    a, b = await Store.open(postgres_url), await Store.open(postgres_url)
    follower = LogRelay(a, notified_poll_s=3600)  # only a notification can deliver within the test
    heard: list[str] = []
    arrived = anyio.Event()

    async def deliver(change: str) -> None:
        heard.append(change)
        arrived.set()

    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(follower.follow, utcnow(), deliver)
                await anyio.sleep(0.5)  # the follower's first read is done; it waits to be woken
                await LogRelay(b).publish(['{"owner": "local"}'])
                await arrived.wait()
                tg.cancel_scope.cancel()
        assert heard == ['{"owner": "local"}']
    finally:
        await a.close()
        await b.close()


async def test_a_follower_goes_on_from_the_last_row_it_read_after_its_connection_drops(
    postgres_url: str, postgres_server: str
) -> None:
    from letta_mcp.models import utcnow
    from letta_mcp.service.change_relay import LogRelay

    a, b = await Store.open(postgres_url), await Store.open(postgres_url)
    heard: list[str] = []
    got = [anyio.Event(), anyio.Event()]

    async def deliver(change: str) -> None:
        heard.append(change)
        got[len(heard) - 1].set()

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(LogRelay(a).follow, utcnow(), deliver)
                await anyio.sleep(0.5)  # past the follower's first read
                await LogRelay(b).publish(['{"n": 1}'])
                await got[0].wait()
                admin = await asyncpg.connect(postgres_server)
                try:  # every connection of the follower's store goes: its reader and its listener
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'letta-mcp'"
                        " AND pid <> pg_backend_pid() AND query NOT ILIKE '%advisory%'"
                    )
                finally:
                    await admin.close()
                c = await Store.open(postgres_url)  # b's connections went too: another replica writes
                try:
                    await LogRelay(c).publish(['{"n": 2}'])  # committed while the follower is cut off
                finally:
                    await c.close()
                await got[1].wait()
                tg.cancel_scope.cancel()
        assert heard == ['{"n": 1}', '{"n": 2}']
    finally:
        await a.close()
        await b.close()
