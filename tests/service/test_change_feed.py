"""Change events across processes: two services on one data directory stand for two processes
(each has its own connections, lease holder and relay origin), sharing the real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import pytest

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import utcnow
from letta_mcp.service import AgentService, Change
from letta_mcp.service.change_relay import RETENTION_S, TRIM_EVERY, LogRelay

pytestmark = pytest.mark.anyio


@pytest.fixture
async def other(settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[AgentService]:
    """A second service on the same data directory: another process, as far as the database knows."""
    svc = await AgentService.open(settings, providers={"openai": scripted})
    try:
        yield svc
    finally:
        await svc.close()


class Heard:
    """A listener that records changes and wakes the test when one matching ``wanted`` arrives."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self._arrived = anyio.Event()
        self._wanted: Change | None = None

    async def __call__(self, change: Change) -> None:
        self.changes.append(change)
        if change == self._wanted:
            self._arrived.set()

    async def wait_for(self, change: Change) -> None:
        self._wanted, self._arrived = change, anyio.Event()
        if change not in self.changes:
            with anyio.fail_after(20):
                await self._arrived.wait()


async def test_a_change_committed_by_another_process_reaches_a_follower(
    service: AgentService, other: AgentService
) -> None:
    agent = (await service.create_agent(name="sam")).agent
    heard = Heard()
    other.on_change(heard)
    stop = other.follow_changes()
    try:
        await service.update_block(agent.id, "human", value="Sarah")
        await heard.wait_for(Change(agent.owner, agent.id, blocks=("human",)))
    finally:
        stop()


async def test_a_follower_hears_its_own_changes_once(service: AgentService, other: AgentService) -> None:
    """Its own rows in the log are skipped: the local delivery already happened."""
    agent = (await service.create_agent(name="sam")).agent
    heard = Heard()
    service.on_change(heard)
    stop = service.follow_changes()
    try:
        await service.update_block(agent.id, "human", value="mine")
        await other.update_block(agent.id, "persona", value="theirs")
        # The log is read in commit order, so once the later change arrived the earlier row was read.
        await heard.wait_for(Change(agent.owner, agent.id, blocks=("persona",)))
    finally:
        stop()
    assert heard.changes == [
        Change(agent.owner, agent.id, blocks=("human",)),
        Change(agent.owner, agent.id, blocks=("persona",)),
    ]


async def test_changes_before_following_began_are_not_replayed(service: AgentService, other: AgentService) -> None:
    agent = (await service.create_agent(name="sam")).agent
    await service.update_block(agent.id, "human", value="before")
    await service.changes.flushed()  # in the log before the follower starts
    heard = Heard()
    other.on_change(heard)
    stop = other.follow_changes()
    try:
        await service.update_block(agent.id, "persona", value="after")
        # The log is read in commit order: a replayed earlier change would have come first.
        await heard.wait_for(Change(agent.owner, agent.id, blocks=("persona",)))
    finally:
        stop()
    assert heard.changes == [Change(agent.owner, agent.id, blocks=("persona",))]


async def test_writers_trim_old_rows(service: AgentService) -> None:
    old = utcnow() - timedelta(seconds=RETENTION_S + 60)
    async with service.store.write() as q:
        await q.change_log.append("gone-process", ['{"owner": "local"}'], old)
    relay = LogRelay(service.store)
    for _ in range(TRIM_EVERY):
        await relay.publish(['{"owner": "local"}'])
    async with service.store.read() as q:
        rows = await q.change_log.after(0, limit=1000)
    assert [r.origin for r in rows] == [relay.origin] * TRIM_EVERY
