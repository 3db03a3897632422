"""Reads see what was committed before them, even while another read is half-way through.

The cause of a rare wrong reply in the three-process test (``"ok: "``): a turn loaded its context
window on the shared reader connection while another task's statement there was still open, so
it read that statement's older snapshot, without the user message it had just committed.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


async def _count(store: Store) -> int:
    async with store.read() as q:
        row = await q.db.fetchone("SELECT COUNT(*) FROM processes")
    assert row is not None
    return int(row[0])


async def _insert(store: Store, holder: str) -> None:
    async with store.write() as q:
        await q.db.execute(
            "INSERT INTO processes (holder, pid, host, started_at, heartbeat_at) VALUES (:h, 1, 'h', 'x', 0)",
            {"h": holder},
        )


async def test_a_read_sees_a_commit_made_while_another_read_was_open(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "letta.db")
    first_started, first_may_end = anyio.Event(), anyio.Event()
    counts: list[int] = []

    async def long_read() -> None:
        async with store.read() as q:
            assert len(await q.db.fetchall("SELECT holder FROM processes")) == 1
            first_started.set()  # the block is open, its statement read whole: no snapshot held
            await first_may_end.wait()
            assert len(await q.db.fetchall("SELECT holder FROM processes")) == 2  # sees the commit too

    async def later_read() -> None:
        counts.append(await _count(store))

    try:
        await _insert(store, "one")
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(long_read)
                await first_started.wait()
                await _insert(store, "two")  # committed before the next read begins
                tg.start_soon(later_read)
                first_may_end.set()
        assert counts == [2]
    finally:
        await store.close()


async def test_a_read_nested_in_a_read_of_the_same_task_goes_through(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "letta.db")
    try:
        with anyio.fail_after(5):
            async with store.read():
                assert await _count(store) == 0
    finally:
        await store.close()
