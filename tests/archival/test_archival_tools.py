"""The agent's archival tools (Letta's names, parameters and result shape) and the MCP archival tools."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import Agent, ToolCall
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.runtime.tools import ToolContext, ToolOutcome, execute_tool
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

ARCHIVAL_TOOLS = ["archival_memory_insert", "archival_memory_search"]


async def archival_agent(service: AgentService) -> Agent:
    return (await service.create_agent(name="a", tools=["memory_insert", *ARCHIVAL_TOOLS])).agent


@asynccontextmanager
async def step(service: AgentService, agent: Agent) -> AsyncIterator[ToolContext]:
    """A tool context inside one write transaction, as the agent loop runs a step's tool calls."""
    assert service.archival is not None
    async with service.store.write() as q:
        yield ToolContext(
            agent=agent, q=q, run_id="run-test", default_block_limit=5000, archival=service.archival.memory
        )


async def run(ctx: ToolContext, name: str, **arguments: Any) -> ToolOutcome:
    return await execute_tool(ctx, ToolCall(id="call-1", name=name, arguments=json.dumps(arguments)))


async def test_agent_inserts_then_finds_with_lettas_result_shape(service: AgentService) -> None:
    agent = await archival_agent(service)
    async with step(service, agent) as ctx:
        inserted = await run(ctx, "archival_memory_insert", content="Emma moves to Lisbon in June.", tags=["emma"])
        assert (inserted.ok, inserted.message) == (True, "None")  # Letta's tool returns None
        assert ctx.blocks_changed  # the system message is recompiled with the new count
        await refresh_system_message(ctx.q, agent, ctx.agent.created_at)
    async with step(service, agent) as ctx:  # a later step
        found = await run(ctx, "archival_memory_search", query="where is Emma moving?")

    assert found.ok
    (result,) = json.loads(found.message)
    assert set(result) == {"id", "timestamp", "content", "tags", "relevance"}
    assert (result["content"], result["tags"]) == ("Emma moves to Lisbon in June.", ["emma"])
    assert result["id"].startswith("passage-") and result["relevance"] > 0
    memory = (await service.get_memory(agent.id)).rendered
    assert "- 1 total memories you created are stored in archival memory" in memory
    assert "- Available archival memory tags: emma" in memory


async def test_a_passage_is_searchable_within_the_step_that_inserted_it(service: AgentService) -> None:
    agent = await archival_agent(service)
    async with step(service, agent) as ctx:  # parallel tool calls: insert, then search, one transaction
        await run(ctx, "archival_memory_insert", content="The gate code is 2468.")
        found = await run(ctx, "archival_memory_search", query="gate code")
    assert [r["content"] for r in json.loads(found.message)] == ["The gate code is 2468."]


async def test_search_arguments_filter_and_limit(service: AgentService) -> None:
    agent = await archival_agent(service)
    async with step(service, agent) as ctx:
        for i in range(8):
            await run(ctx, "archival_memory_insert", content=f"travel note {i}", tags=["travel", f"n{i % 2}"])
    async with step(service, agent) as ctx:
        default = json.loads((await run(ctx, "archival_memory_search", query="travel note")).message)
        tagged = await run(ctx, "archival_memory_search", query="travel", tags=["n1", "travel"], tag_match_mode="all")
        future = await run(ctx, "archival_memory_search", query="travel", start_datetime="2999-01-01")
        everything = await run(ctx, "archival_memory_search", query="travel", top_k=50, end_datetime="2999-12-31")
    assert len(default) == 5  # Letta's default page
    assert sorted(r["content"] for r in json.loads(tagged.message)) == [f"travel note {i}" for i in (1, 3, 5, 7)]
    assert json.loads(future.message) == []
    assert len(json.loads(everything.message)) == 8


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("archival_memory_insert", {"content": "  "}, "The text is empty"),
        ("archival_memory_insert", {"content": "x", "tags": [""]}, "Tags must not be empty"),
        ("archival_memory_search", {"query": ""}, "The query is empty"),
        ("archival_memory_search", {"query": "x", "start_datetime": "last week"}, "Invalid date 'last week'"),
        ("archival_memory_search", {"query": "x", "tag_match_mode": "some"}, "must be 'any' or 'all'"),
        ("archival_memory_search", {"query": "x", "top_k": "many"}, "Error executing function"),
    ],
)
async def test_bad_tool_calls_fail_with_a_message_the_model_can_act_on(
    service: AgentService, name: str, arguments: dict[str, Any], message: str
) -> None:
    agent = await archival_agent(service)
    async with step(service, agent) as ctx:
        outcome = await run(ctx, name, **arguments)
    assert not outcome.ok and message in outcome.message
    assert service.archival is not None and (await service.archival.status()).passages == 0


async def test_tools_report_when_archival_memory_is_unavailable(service: AgentService) -> None:
    agent = await archival_agent(service)
    async with service.store.write() as q:
        ctx = ToolContext(agent=agent, q=q, run_id="run-test", default_block_limit=5000)
        outcome = await run(ctx, "archival_memory_insert", content="x")
    assert not outcome.ok and "not available" in outcome.message


# --- MCP tools ------------------------------------------------------------------------------------


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


async def test_mcp_insert_search_list_delete(client: Client, service: AgentService) -> None:
    agent = (await service.create_agent(name="kb")).agent.id
    text = "\n\n".join(f"Section {i}. " + "lorem ipsum " * 120 + f"marker{i}" for i in range(3))

    inserted = ok(await client.call_tool("archival_insert", {"agent_id": agent, "text": text, "tags": ["doc"]}))
    found = ok(await client.call_tool("archival_search", {"agent_id": agent, "query": "marker2", "top_k": 1}))
    listed = ok(await client.call_tool("archival_list", {"agent_id": agent, "limit": 2, "order": "asc"}))
    deleted = ok(
        await client.call_tool("archival_delete", {"agent_id": agent, "passage_id": inserted["passage_ids"][0]})
    )
    after = ok(await client.call_tool("archival_list", {"agent_id": agent, "limit": 50}))

    ids = inserted["passage_ids"]
    assert len(ids) >= 2 and inserted["archive_id"].startswith("archive-")
    (hit,) = found["results"]
    assert hit["id"] == ids[-1] and "marker2" in hit["content"] and hit["tags"] == ["doc"] and hit["fts_rank"] == 1
    assert [p["id"] for p in listed["passages"]] == ids[:2] and listed["next_cursor"]
    assert deleted == {"id": ids[0], "deleted": True}
    assert [p["id"] for p in after["passages"]] == ids[:0:-1]


async def test_mcp_errors_are_actionable(client: Client, service: AgentService) -> None:
    agent = (await service.create_agent(name="kb")).agent.id
    unknown = await client.call_tool("archival_search", {"agent_id": "agent-nope", "query": "x"})
    empty = await client.call_tool("archival_insert", {"agent_id": agent, "text": ""})
    vector = await client.call_tool("archival_search", {"agent_id": agent, "query": "x", "mode": "vector"})
    missing = await client.call_tool("archival_delete", {"agent_id": agent, "passage_id": "passage-nope"})
    assert unknown.is_error and "list_agents" in unknown.content[0].text
    assert empty.is_error  # rejected by the input schema before any work
    assert vector.is_error and "needs an embedder" in vector.content[0].text
    assert missing.is_error and "no archival passage" in missing.content[0].text


async def test_an_agent_remembers_through_archival_memory_across_turns(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent = (await service.create_agent(name="sam")).agent
    assert "archival_memory_insert" in agent.tools and "archival_memory_search" in agent.tools  # on by default
    scripted.add(
        call("archival_memory_insert", {"content": "Sarah's sister Emma moves to Lisbon in June.", "tags": ["sarah"]}),
        reply("Noted."),
    )
    await service.send_message(agent.id, "My sister Emma moves to Lisbon in June.")
    scripted.add(call("archival_memory_search", {"query": "where does Emma move"}), reply("To Lisbon."))

    result = await service.send_message(agent.id, "Where is my sister moving?")

    assert result.reply == "To Lisbon."
    envelope = json.loads(result.messages[-2].content or "")
    assert envelope["status"] == "OK"
    assert [r["content"] for r in json.loads(envelope["message"])] == ["Sarah's sister Emma moves to Lisbon in June."]
    system = scripted.requests[-1].messages[0].content or ""
    assert "- 1 total memories you created are stored in archival memory" in system
    assert "- Available archival memory tags: sarah" in system


async def test_mcp_insert_takes_a_list_of_texts_in_one_call(client: Client, service: AgentService) -> None:
    agent = (await service.create_agent(name="kb")).agent.id
    texts = [f"Fact {i}: the lighthouse keeper's cat number {i} is called Tom{i}." for i in range(50)]
    with anyio.fail_after(30):
        refused = await client.call_tool("archival_insert", {"agent_id": agent, "text": [*texts[:3], ""]})
        nothing = ok(await client.call_tool("archival_list", {"agent_id": agent, "limit": 10}))
        inserted = ok(await client.call_tool("archival_insert", {"agent_id": agent, "text": texts, "tags": ["cats"]}))
        found = ok(await client.call_tool("archival_search", {"agent_id": agent, "query": "Tom37", "top_k": 1}))
        listed = ok(await client.call_tool("archival_list", {"agent_id": agent, "limit": 100, "order": "asc"}))

    assert refused.is_error and nothing["passages"] == []  # one bad text: none of them is stored
    assert [p["content"] for p in listed["passages"]] == texts  # one passage each, in order
    assert [p["id"] for p in listed["passages"]] == inserted["passage_ids"]
    (hit,) = found["results"]
    assert hit["content"] == texts[37] and hit["tags"] == ["cats"]
