"""`MessageQueries.tail`: the newest message that is not a tool result and the results after it."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.config import Settings
from letta_mcp.models import Agent, Message, Role, ToolCall, new_id, utcnow
from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


async def test_tail_is_the_newest_non_tool_message_and_the_tool_results_after_it(settings: Settings) -> None:
    store = await Store.open(settings.store_target)
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)

    def msg(seq: int, role: Role, **fields: object) -> Message:
        return Message(id=new_id("message"), agent_id=agent.id, seq=seq, role=role, created_at=now, **fields)

    calls = [ToolCall(id="c1", name="f", arguments="{}"), ToolCall(id="c2", name="f", arguments="{}")]
    try:
        with anyio.fail_after(20):
            async with store.write() as q:
                await q.agents.insert(agent)
                await q.messages.insert(
                    [
                        msg(0, Role.system, content="s"),
                        msg(1, Role.user, content="hi"),
                        msg(2, Role.assistant, tool_calls=calls),
                        msg(3, Role.tool, content="r1", tool_call_id="c1", tool_name="f"),
                    ]
                )
            async with store.read() as q:
                assert [m.seq for m in await q.messages.tail(agent.id, limit=16)] == [3, 2]
                assert [m.seq for m in await q.messages.tail(agent.id, limit=1)] == [3]
            async with store.write() as q:
                await q.messages.insert([msg(4, Role.assistant, content="done")])
            async with store.read() as q:
                assert [m.seq for m in await q.messages.tail(agent.id, limit=16)] == [4]
    finally:
        await store.close()
