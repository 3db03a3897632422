"""Short write transactions in few round trips (deferred writes, a lazily taken write lock) keep
their guarantees: all or nothing, the lock released on failure, writers of two processes
serialized from their first statement. On SQLite and, with ``LETTA_TEST_DATABASE_URL``, PostgreSQL."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from letta_mcp.config import Settings
from letta_mcp.models import Agent, Run, RunStatus, new_id, utcnow
from letta_mcp.store import Store
from letta_mcp.store.errors import IntegrityError

pytestmark = pytest.mark.anyio


def _agent() -> Agent:
    now = utcnow()
    return Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)


def _run(agent_id: str) -> Run:
    return Run(id=new_id("run"), agent_id=agent_id, status=RunStatus.created, created_at=utcnow())


async def test_deferred_writes_are_seen_by_the_next_statement_and_committed_together(settings: Settings) -> None:
    store = await Store.open(settings.store_target)
    agent = _agent()
    try:
        with anyio.fail_after(20):
            async with store.write(lazy=True) as q:
                await q.agents.insert(agent)
                run = _run(agent.id)
                await q.runs.insert(run)  # deferred on SQLite
                assert await q.runs.get(run.id) is not None  # ... but sent before this read
                run.status = RunStatus.running
                await q.runs.update(run)  # deferred: goes with the COMMIT
            async with store.read() as q:
                stored = await q.runs.get(run.id)
            assert stored is not None and stored.status is RunStatus.running
    finally:
        await store.close()


async def test_a_failing_deferred_write_rolls_back_everything_and_frees_the_write_lock(settings: Settings) -> None:
    ours, theirs = await Store.open(settings.store_target), await Store.open(settings.store_target)
    agent = _agent()
    try:
        with anyio.fail_after(20):  # a lock left held would make the other process's write wait 30 s
            async with ours.write() as q:
                await q.agents.insert(agent)
            first, twice = _run(agent.id), _run(agent.id)
            with pytest.raises(IntegrityError):
                async with ours.write(lazy=True) as q:
                    await q.runs.insert(first)
                    await q.runs.insert(twice)
                    await q.runs.insert(twice)  # the same id again: refused, at the latest at COMMIT
            async with ours.read() as q:
                assert await q.runs.get(first.id) is None, "part of a failed transaction was committed"
            async with theirs.write() as q:  # another process writes at once: the lock was released
                await q.runs.insert(first)
            async with ours.write() as q:  # and this connection is out of the failed transaction
                await q.runs.insert(twice)
            async with theirs.read() as q:
                assert await q.runs.get(first.id) is not None
                assert await q.runs.get(twice.id) is not None
    finally:
        await ours.close()
        await theirs.close()


async def test_lazy_transactions_of_two_processes_never_interleave(settings: Settings) -> None:
    """Read-then-write in lazy transactions: the first statement takes the write lock, so no update
    is lost between two processes incrementing the same row."""
    stores = [await Store.open(settings.store_target), await Store.open(settings.store_target)]
    agent, run = _agent(), None
    try:
        async with stores[0].write() as q:
            await q.agents.insert(agent)
            run = _run(agent.id)
            await q.runs.insert(run)

        async def increment(store: Store, times: int) -> None:
            for _ in range(times):
                async with store.write(lazy=True) as q:
                    current = await q.runs.get(run.id)
                    assert current is not None
                    await anyio.lowlevel.checkpoint()  # let the other process's transaction try to start
                    current.step_count += 1
                    await q.runs.update(current)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for store in stores:
                    tg.start_soon(increment, store, 25)
        async with stores[1].read() as q:
            final = await q.runs.get(run.id)
        assert final is not None and final.step_count == 50
    finally:
        for store in stores:
            await store.close()
