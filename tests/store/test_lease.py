"""Per-agent turn leases across "processes" (separate Store connections and holders on one file)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import anyio
import pytest

from letta_mcp.models import Agent, Run, RunStatus, new_id, utcnow
from letta_mcp.store import Store
from letta_mcp.store.errors import LeaseLostError
from letta_mcp.store.lease import Adopted, LeaseManager

pytestmark = pytest.mark.anyio


async def _two_processes(path: Path | str, ttl: float = 5.0) -> tuple[LeaseManager, LeaseManager]:
    a = LeaseManager(await Store.open(path), ttl_s=ttl, holder="host-a:1:a")
    b = LeaseManager(await Store.open(path), ttl_s=ttl, holder="host-b:2:b")
    await a.start()
    await b.start()
    return a, b


async def _close(*managers: LeaseManager) -> None:
    for m in managers:
        await m.stop()
        await m.store.close()


async def test_turns_run_one_at_a_time_in_arrival_order_across_processes(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target)
    order: list[str] = []
    running = 0
    try:
        tickets = []
        for i in range(8):  # arrival order alternates between the two processes
            manager = (a, b)[i % 2]
            tickets.append((manager, await manager.enqueue("agent-1"), f"turn{i}"))

        async def turn(manager: LeaseManager, ticket: int, name: str) -> None:
            nonlocal running
            async with manager.hold("agent-1", ticket):
                running += 1
                assert running == 1, "two turns of one agent overlapped"
                await anyio.sleep(0.01)
                order.append(name)
                running -= 1

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for manager, ticket, name in reversed(tickets):  # start order must not matter
                    tg.start_soon(turn, manager, ticket, name)
        assert order == [f"turn{i}" for i in range(8)]
    finally:
        await _close(a, b)


async def test_other_agents_are_not_blocked(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target)
    try:
        with anyio.fail_after(5):
            async with a.hold("agent-1"), b.hold("agent-2"):
                pass
    finally:
        await _close(a, b)


async def _age(store: Store, holders: list[str], seconds: float) -> None:
    """Make ``holders`` look as if their last heartbeat was ``seconds`` ago (instead of waiting)."""
    async with store.write() as q:
        for holder in holders:
            await q.db.execute(
                "UPDATE processes SET heartbeat_at = :t WHERE holder = :h", {"t": time.time() - seconds, "h": holder}
            )


async def _tickets(store: Store) -> list[int]:
    async with store.read() as q:
        return [row[0] for row in await q.db.fetchall("SELECT ticket FROM lease_tickets ORDER BY ticket")]


async def test_a_silent_process_stops_blocking_after_the_ttl(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)  # no beat of its own within the test
    try:
        assert await a.enqueue("agent-1")
        await _age(b.store, [a.holder], 120)  # process a hangs
        assert await b.sweep() == 0  # b's periodic sweep: a's ticket goes
        with anyio.fail_after(5):
            async with b.hold("agent-1"):
                pass
    finally:
        await _close(a, b)


async def test_a_swept_process_can_neither_commit_nor_overlap(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)
    order: list[str] = []
    b_running, b_may_end = anyio.Event(), anyio.Event()

    async def b_turn() -> None:
        async with b.hold("agent-1"):
            order.append("b starts")
            b_running.set()
            await b_may_end.wait()
            order.append("b ends")

    async def a_turn(ticket: int) -> None:
        async with a.hold("agent-1", ticket):
            order.append("a starts")

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                async with a.hold("agent-1"):
                    await _age(b.store, [a.holder], 120)  # a stalls past the TTL mid-turn ...
                    await b.sweep()  # ... and b takes it for dead
                    tg.start_soon(b_turn)
                    await b_running.wait()
                    # a resumes: the rest of its turn must not commit while b runs the agent.
                    with pytest.raises(LeaseLostError, match="swept"):
                        async with a.store.write() as q:
                            await q.db.execute("UPDATE lease_tickets SET created_at = 0")
                await a.beat()  # a notices it was swept and registers again ...
                tg.start_soon(a_turn, await a.enqueue("agent-1"))  # ... so its next turn queues behind b
                b_may_end.set()
        assert order == ["b starts", "b ends", "a starts"]
        async with b.store.read() as q:
            rows = await q.db.fetchall("SELECT holder FROM processes ORDER BY holder")
        assert [row[0] for row in rows] == sorted([a.holder, b.holder])
    finally:
        await _close(a, b)


async def test_a_queued_turn_of_a_swept_process_never_runs(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)
    try:
        with anyio.fail_after(5):
            ticket = await a.enqueue("agent-1")
            await _age(b.store, [a.holder], 120)
            await b.sweep()
            with pytest.raises(LeaseLostError):
                async with a.hold("agent-1", ticket):
                    pytest.fail("a swept ticket's turn ran")
    finally:
        await _close(a, b)


async def test_tickets_are_never_reused_and_a_release_frees_only_its_own(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)
    try:
        stale = await a.enqueue("agent-1")
        await _age(b.store, [a.holder], 120)
        await b.sweep()
        fresh = await b.enqueue("agent-1")
        assert fresh > stale
        await a.release("agent-1", stale)  # the stalled process lets go of what it thinks it holds
        assert await _tickets(b.store) == [fresh]
    finally:
        await _close(a, b)


async def test_a_database_locked_past_the_ttl_sweeps_nobody(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)
    try:
        # A write held for two minutes: no process's heartbeat got through, the living included.
        await _age(b.store, [a.holder, b.holder], 120)
        assert await a.enqueue("agent-1")
        await b.sweep()
        assert len(await _tickets(b.store)) == 1
    finally:
        await _close(a, b)


async def test_the_heartbeat_never_waits_for_a_write_transaction(store_target: Path | str) -> None:
    a, b = await _two_processes(store_target, ttl=60)
    try:
        with anyio.fail_after(5):
            async with a.store.write():  # a long write of this very process ...
                await b.beat()  # ... delays another's beat by the short busy timeout at most
                await a.beat()  # ... and its own beat too
    finally:
        await _close(a, b)


async def test_a_task_started_during_a_turn_may_write_after_it(store_target: Path | str) -> None:
    """The fence is the turn's own: a worker it wakes (e.g. the archival indexer) outlives its ticket."""
    manager = LeaseManager(await Store.open(store_target), ttl_s=60)
    await manager.start()
    may_write = anyio.Event()

    async def worker() -> None:
        await may_write.wait()
        async with manager.store.write() as q:
            await q.db.execute("UPDATE processes SET pid = pid")

    try:
        async with manager.hold("agent-1"):
            task = asyncio.get_running_loop().create_task(worker())
        may_write.set()
        with anyio.fail_after(5):
            await task
    finally:
        await _close(manager)


async def test_runs_of_a_dead_process_are_interrupted_and_live_ones_kept(store_target: Path | str) -> None:
    path = store_target
    store = await Store.open(path)
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)
    dead = Run(id=new_id("run"), agent_id=agent.id, status=RunStatus.running, holder="gone:999999:x", created_at=now)
    live = LeaseManager(store, ttl_s=30)
    await live.start()
    mine = Run(id=new_id("run"), agent_id=agent.id, status=RunStatus.running, holder=live.holder, created_at=now)
    try:
        async with store.write() as q:
            await q.agents.insert(agent)
            await q.runs.insert(dead)
            await q.runs.insert(mine)
            # The dead process ran on this host with a pid that no longer exists.
            await q.db.execute(
                "INSERT INTO processes (holder, pid, host, started_at, heartbeat_at) VALUES"
                " ('gone:999999:x', 999999, (SELECT host FROM processes WHERE holder = :h), 'x', :now)",
                {"h": live.holder, "now": time.time()},
            )
        assert await live.sweep() == 1
        async with store.read() as q:
            assert (await q.runs.get(dead.id)).status is RunStatus.interrupted
            assert (await q.runs.get(mine.id)).status is RunStatus.running
    finally:
        await live.stop()
        await store.close()


async def test_a_stalled_process_cannot_run_a_queued_run_another_process_adopted(store_target: Path | str) -> None:
    """The stalled process comes back and still has the ticket registered locally, but the ticket is
    the adopter's now: it can neither take the turn nor write; the adopter can."""
    a, b = await _two_processes(store_target, ttl=60)
    adopted: list[Adopted] = []
    b.on_adopted = adopted.append
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)
    run = Run(
        id=new_id("run"), agent_id=agent.id, status=RunStatus.created, background=True, holder=a.holder, created_at=now
    )
    try:
        with anyio.fail_after(30):
            async with a.store.write() as q:
                await q.agents.insert(agent)
                await q.runs.insert(run)
                ticket = await a.take_ticket(q, agent.id, run.id)
            a.register(agent.id, ticket)
            await _age(b.store, [a.holder], 120)  # a stalls: b takes it for dead
            await b.sweep()
            assert [(x.run_id, x.ticket) for x in adopted] == [(run.id, ticket)]
            with pytest.raises(LeaseLostError):
                async with a.hold(agent.id, ticket):
                    pass
            async with b.hold(agent.id, ticket), b.store.write() as q:
                assert (await q.runs.get(run.id)).holder == b.holder
    finally:
        await _close(a, b)


async def test_a_peer_in_another_pid_namespace_of_the_same_host_is_judged_by_its_heartbeat(
    store_target: Path | str,
) -> None:
    """Containers sharing a host name have pid namespaces of their own: a peer's pid missing from
    this one's says nothing, so only a stale heartbeat makes it dead."""
    store = await Store.open(store_target)
    live = LeaseManager(store, ttl_s=30)
    await live.start()
    try:
        async with store.write() as q:
            await q.db.execute(
                "INSERT INTO processes (holder, pid, host, started_at, heartbeat_at) VALUES"
                " ('container:999999:x', 999999, :host, 'x', :now)",
                {"host": f"{socket.gethostname()}/pid:1", "now": time.time()},
            )
        await live.sweep()
        async with store.read() as q:
            assert await q.db.fetchone("SELECT 1 FROM processes WHERE holder = 'container:999999:x'") is not None
            mine = await q.db.fetchone("SELECT host FROM processes WHERE holder = :h", {"h": live.holder})
        # This process registers its own pid namespace with its host name (Linux).
        assert mine is not None and mine[0] == f"{socket.gethostname()}/pid:{os.stat('/proc/self/ns/pid').st_ino}"
    finally:
        await live.stop()
        await store.close()
