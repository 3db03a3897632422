"""The service's browsing use-cases behind the inspector: agent summaries and block history."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.service import AgentService
from letta_mcp.service.access import Principal, acting_as
from letta_mcp.service.errors import InvalidRequestError, NotFoundError

pytestmark = pytest.mark.anyio


async def test_summaries_count_messages_sort_and_page(service: AgentService, scripted: ScriptedProvider) -> None:
    with anyio.fail_after(10):
        quiet = (await service.create_agent(name="b-quiet", tags=["x"])).agent
        chatty = (await service.create_agent(name="A-chatty", tags=["support"])).agent
        scripted.add(reply("hi"), reply("again"))
        await service.send_message(chatty.id, "hello")
        await service.send_message(chatty.id, "more")

        by_messages = await service.agent_summaries(sort="messages")
        assert [s.agent.id for s in by_messages.agents] == [chatty.id, quiet.id]
        assert by_messages.agents[0].messages_in_history == 5  # system + 2 × (user, assistant)
        assert by_messages.agents[1].messages_in_history == 1
        assert by_messages.agents[0].last_active is not None

        by_name = await service.agent_summaries(sort="name", descending=False)
        assert [s.agent.name for s in by_name.agents] == ["A-chatty", "b-quiet"]  # case-insensitive

        page = await service.agent_summaries(sort="name", descending=False, limit=1, offset=1)
        assert [s.agent.name for s in page.agents] == ["b-quiet"] and page.total == 2


async def test_summaries_search_name_tag_and_id_without_wildcards(service: AgentService) -> None:
    with anyio.fail_after(10):
        a = (await service.create_agent(name="alpha", tags=["billing"])).agent
        b = (await service.create_agent(name="50%_off")).agent
        assert [s.agent.id for s in (await service.agent_summaries(query="bill")).agents] == [a.id]
        assert [s.agent.id for s in (await service.agent_summaries(query=a.id)).agents] == [a.id]
        # LIKE wildcards in the search text are literal characters
        assert [s.agent.id for s in (await service.agent_summaries(query="%_")).agents] == [b.id]
        assert (await service.agent_summaries(query="nothing-like-this")).total == 0


async def test_summaries_are_per_principal(service: AgentService) -> None:
    with anyio.fail_after(10):
        with acting_as(Principal("alice")):
            await service.create_agent(name="alices")
        with acting_as(Principal("bob")):
            page = await service.agent_summaries()
            assert page.total == 0 and page.agents == []


async def test_summaries_reject_bad_arguments(service: AgentService) -> None:
    with pytest.raises(InvalidRequestError, match="sort must be one of"):
        await service.agent_summaries(sort="owner")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="limit must be between"):
        await service.agent_summaries(limit=0)


async def test_block_history_newest_first(service: AgentService) -> None:
    with anyio.fail_after(10):
        agent = (await service.create_agent(name="h", human="v1")).agent
        await service.update_block(agent.id, "human", value="v2")
        history = await service.block_history(agent.id, "human")
        assert [(h.version, h.value) for h in history] == [(2, "v2"), (1, "v1")]
        with pytest.raises(NotFoundError, match="no block labelled 'nope'"):
            await service.block_history(agent.id, "nope")
        with acting_as(Principal("bob")), pytest.raises(NotFoundError, match="No agent"):
            await service.block_history(agent.id, "human")
