"""The agents resource and agent-id completion see every agent, not the newest 1,000."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from mcp import Client
from mcp.types import PromptReference

from letta_mcp.models import Agent, new_id, utcnow
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

MANY = 1_005


async def test_more_than_a_thousand_agents_are_all_listed(service: AgentService, client: Client) -> None:
    now = utcnow()
    agents = [
        Agent(
            id=new_id("agent"),
            name="the-oldest-one" if i == 0 else f"agent {i}",
            system="sys",
            model="openai/x",
            tools=[],
            created_at=now - timedelta(days=1) + timedelta(seconds=i),
            updated_at=now,
        )
        for i in range(MANY)
    ]
    with anyio.fail_after(60):
        async with service.store.write() as q:  # rows straight into the store: creating them one by one is slow
            for agent in agents:
                await q.agents.insert(agent)
        listed = (await client.read_resource("letta://agents")).contents[0].text
        ref = PromptReference(type="ref/prompt", name="chat_with_agent")
        oldest = await client.complete(ref, {"name": "agent_id", "value": "oldest"})
    assert listed.count('"id":') == MANY
    assert agents[0].id in listed
    assert oldest.completion.values == [agents[0].id]
