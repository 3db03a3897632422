"""No network call under the write lock: an agent's archival search embeds its query before the
step's write transaction opens, so a slow embedding endpoint never stalls other agents' writes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import pytest
from archival_embedders import Stalling

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, ModelResponse, Role
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stalling() -> Stalling:
    return Stalling()


@pytest.fixture
async def slow(settings: Settings, scripted: ScriptedProvider, stalling: Stalling) -> AsyncIterator[AgentService]:
    svc = await AgentService.open(settings, providers={"openai": scripted}, embedder=stalling)
    try:
        yield svc
    finally:
        stalling.release()
        await svc.close()


def model(request: ModelRequest) -> ModelResponse:
    """Searches archival memory when asked to, answers the search's result, chats otherwise."""
    last = request.messages[-1]
    if last.role is Role.tool:
        return reply("Found it.")
    if (last.content or "").startswith("Look up"):
        return call("archival_memory_search", {"query": "what does the owl eat"})
    return reply("Hello!")


async def test_other_agents_commit_while_a_search_query_is_being_embedded(
    slow: AgentService, scripted: ScriptedProvider, stalling: Stalling
) -> None:
    scripted.default = model
    assert slow.archival is not None
    searcher = (await slow.create_agent(name="searcher", tools=["archival_memory_search"])).agent.id
    chatter = (await slow.create_agent(name="chatter", tools=[])).agent.id
    with anyio.fail_after(20):
        await slow.archival.insert(searcher, "The owl eats mice at night.")
        await slow.archival.wait_indexed()  # embedded now, so the only call left is the query's
    stalling.stall()
    searched = anyio.Event()
    replies: list[str | None] = []

    async def search() -> None:
        replies.append((await slow.send_message(searcher, "Look up the owl's food")).reply)
        searched.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(search)
        with anyio.fail_after(10):
            await stalling.started.wait()  # the searcher's step is embedding its query now
        with anyio.fail_after(10):  # ...and the other agent's turns still commit meanwhile
            for i in range(3):
                assert (await slow.send_message(chatter, f"hi {i}")).reply == "Hello!"
        assert not searched.is_set()
        stalling.release()
        with anyio.fail_after(10):
            await searched.wait()
    assert replies == ["Found it."]
    [tool_message] = [m for m in (await slow.list_messages(searcher, limit=10)) if m.role is Role.tool]
    [hit] = json.loads(json.loads(tool_message.content or "")["message"])
    assert hit["content"] == "The owl eats mice at night."


async def test_embedding_inside_a_write_transaction_is_refused(slow: AgentService, stalling: Stalling) -> None:
    """The rule is enforced, not just followed: a violation fails loudly instead of stalling writers."""
    assert slow.archival is not None
    engine = slow.archival.memory
    with anyio.fail_after(10):
        async with slow.store.write():
            with pytest.raises(RuntimeError, match="inside a write transaction"):
                await engine.embed(["anything"])
        assert await engine.embed(["anything"])  # outside it, fine
    assert stalling.calls == 1
