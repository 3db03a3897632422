"""The conversation tools over MCP: send_message, list_messages, search_messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import ok

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import ModelResponse, Role, ToolCall, Usage
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


async def create(client: Client, **args: Any) -> str:
    return ok(await client.call_tool("create_agent", args))["id"]


async def send(client: Client, agent_id: str, message: str, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": message, **args}))


async def converse(client: Client, scripted: ScriptedProvider, agent_id: str, *pairs: tuple[str, str]) -> None:
    for message, answer in pairs:
        scripted.add(reply(answer))
        await send(client, agent_id, message)


async def sql(service: AgentService, statement: str, params: dict[str, Any]) -> None:
    """Direct test setup in the database (backdating or evicting rows), committed like any write."""
    async with service.store.write() as q:
        await q.db.execute(statement, params)


# --- send_message --------------------------------------------------------------------------------


async def test_send_message_runs_a_tool_step_then_replies(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    scripted.add(
        ModelResponse(
            content="She told me her name; I should save it.",
            tool_calls=[
                ToolCall(
                    id="call_a", name="core_memory_append", arguments='{"label": "human", "content": "Name: Sarah"}'
                )
            ],
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120),
        ),
        reply("Nice to meet you, Sarah!", usage=Usage(prompt_tokens=150, completion_tokens=8, total_tokens=158)),
    )

    result = await send(client, agent_id, "My name is Sarah")

    assert result["agent_id"] == agent_id
    assert result["reply"] == "Nice to meet you, Sarah!"
    assert result["stop_reason"] == "end_turn"
    assert result["usage"] == {"prompt_tokens": 250, "completion_tokens": 28, "total_tokens": 278, "step_count": 2}
    messages = result["messages"]
    assert [m["message_type"] for m in messages] == [
        "user_message",
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert [m["seq"] for m in messages] == [1, 2, 2, 3, 4]
    assert {m["run_id"] for m in messages} == {result["run_id"]}
    user, reasoning, tool_call, tool_return, assistant = messages
    assert (user["content"], user["step_id"]) == ("My name is Sarah", None)
    assert reasoning["reasoning"] == "She told me her name; I should save it."
    assert tool_call["tool_call"] == {
        "name": "core_memory_append",
        "tool_call_id": "call_a",
        "arguments": '{"label": "human", "content": "Name: Sarah"}',
    }
    assert tool_return["status"] == "success"
    envelope = json.loads(tool_return["tool_return"])
    assert (envelope["status"], envelope["message"]) == ("OK", "Name: Sarah")
    assert assistant["content"] == "Nice to meet you, Sarah!"
    assert reasoning["step_id"] == tool_return["step_id"] != assistant["step_id"]

    run = await service.get_run(result["run_id"])
    assert (run.status.value, run.stop_reason.value, run.step_count, run.error) == ("completed", "end_turn", 2, None)
    assert run.usage.total_tokens == 278
    async with service.store.read() as q:
        assert len(await q.runs.steps(run.id)) == 2
        human = await q.blocks.by_label(agent_id, "human")
    assert (human.value, human.version) == ("Name: Sarah", 2)

    first, second = scripted.requests
    assert [(m.role, m.content) for m in first.messages[1:]] == [(Role.user, "My name is Sarah")]
    assert [m.role for m in second.messages] == [Role.system, Role.user, Role.assistant, Role.tool]
    assert second.messages[2].tool_calls[0].id == "call_a"
    assert (second.messages[3].tool_call_id, json.loads(second.messages[3].content)["status"]) == ("call_a", "OK")
    assert "<value>\nName: Sarah\n</value>" in second.messages[0].content
    assert "<value>\n\n</value>\n</human>" in first.messages[0].content

    page = ok(await client.call_tool("list_messages", {"agent_id": agent_id, "order": "asc", "after": 0}))
    assert page["messages"] == messages  # what the turn returned is what history holds


async def test_send_message_reasoning_field_and_system_role(client: Client, scripted: ScriptedProvider) -> None:
    agent_id = await create(client)
    scripted.add(
        ModelResponse(
            content="Noted.",
            reasoning="The app says it is Monday.",
            finish_reason="stop",
            usage=Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10),
        )
    )
    result = await send(client, agent_id, "Today is Monday.", role="system")
    assert [(m["message_type"], m["content"] or m["reasoning"]) for m in result["messages"]] == [
        ("system_message", "Today is Monday."),
        ("reasoning_message", "The app says it is Monday."),
        ("assistant_message", "Noted."),
    ]
    assert result["reply"] == "Noted."
    assert result["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "step_count": 1}
    assert [(m.role, m.content) for m in scripted.requests[0].messages[1:]] == [(Role.system, "Today is Monday.")]


async def test_send_message_continues_one_conversation(client: Client, scripted: ScriptedProvider) -> None:
    agent_id = await create(client)
    await converse(client, scripted, agent_id, ("I like jazz", "Noted."), ("What do I like?", "Jazz."))
    assert [(m.role, m.content) for m in scripted.requests[1].messages[1:]] == [
        (Role.user, "I like jazz"),
        (Role.assistant, "Noted."),
        (Role.user, "What do I like?"),
    ]


# --- list_messages -------------------------------------------------------------------------------


async def test_list_messages_pages_with_cursors_both_ways(client: Client, scripted: ScriptedProvider) -> None:
    agent_id = await create(client)
    await converse(client, scripted, agent_id, ("m1", "r1"), ("m2", "r2"), ("m3", "r3"))

    async def page(**args: Any) -> tuple[list[tuple[int, str, str | None]], int | None]:
        out = ok(await client.call_tool("list_messages", {"agent_id": agent_id, **args}))
        return [(m["seq"], m["message_type"], m["content"]) for m in out["messages"]], out["next_cursor"]

    assert await page(limit=2) == ([(6, "assistant_message", "r3"), (5, "user_message", "m3")], 5)
    assert await page(limit=2, before=5) == ([(4, "assistant_message", "r2"), (3, "user_message", "m2")], 3)
    assert await page(limit=2, before=3) == ([(2, "assistant_message", "r1"), (1, "user_message", "m1")], 1)
    [(seq, kind, content)], cursor = await page(limit=2, before=1)
    assert (seq, kind, cursor) == (0, "system_message", None)
    assert content.startswith("You are a stateful agent")

    first, cursor = await page(limit=4, order="asc")
    assert [s for s, _, _ in first] == [0, 1, 2, 3] and cursor == 3
    assert await page(limit=4, order="asc", after=3) == (
        [(4, "assistant_message", "r2"), (5, "user_message", "m3"), (6, "assistant_message", "r3")],
        None,
    )

    assert await page(roles=["user"]) == (
        [(5, "user_message", "m3"), (3, "user_message", "m2"), (1, "user_message", "m1")],
        None,
    )
    assert await page(roles=["assistant", "user"], order="asc", after=2, limit=2) == (
        [(3, "user_message", "m2"), (4, "assistant_message", "r2")],
        4,
    )
    assert await page(after=2, before=5, order="asc") == (
        [(3, "user_message", "m2"), (4, "assistant_message", "r2")],
        None,
    )


async def test_list_messages_includes_messages_evicted_from_context(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    await converse(client, scripted, agent_id, ("old question", "old answer"))
    await sql(service, "UPDATE messages SET in_context = 0 WHERE agent_id = :a AND seq IN (1, 2)", {"a": agent_id})
    await converse(client, scripted, agent_id, ("new question", "new answer"))

    out = ok(await client.call_tool("list_messages", {"agent_id": agent_id, "roles": ["user", "assistant"]}))
    assert [m["content"] for m in out["messages"]] == ["new answer", "new question", "old answer", "old question"]
    # ...but the model no longer sees them.
    assert [m.content for m in scripted.requests[1].messages[1:]] == ["new question"]
    agent = ok(await client.call_tool("get_agent", {"agent_id": agent_id}))
    assert (agent["messages_in_history"], agent["messages_in_context"]) == (5, 3)


# --- search_messages -----------------------------------------------------------------------------


@pytest.fixture
async def chatty_agent(client: Client, scripted: ScriptedProvider) -> str:
    agent_id = await create(client)
    await converse(
        client,
        scripted,
        agent_id,
        ("I adopted a cat named Whiskers", "Whiskers is a lovely name"),
        ("The weather is rainy today", "Take an umbrella"),
        ("What should I cook tonight", "Try a curry"),
    )
    return agent_id


async def search(client: Client, agent_id: str, **args: Any) -> list[tuple[int, str]]:
    out = ok(await client.call_tool("search_messages", {"agent_id": agent_id, **args}))
    return [(r["seq"], r["role"]) for r in out["results"]]


async def test_search_messages_by_words_and_roles(client: Client, chatty_agent: str) -> None:
    whiskers = await search(client, chatty_agent, query="whiskers")
    # The matches first, then the messages said just after them (their context), never seq 0 (system).
    assert sorted(whiskers[:2]) == [(1, "user"), (2, "assistant")] and sorted(whiskers[2:]) == [
        (3, "user"),
        (4, "assistant"),
    ]
    assert (await search(client, chatty_agent, query="cats"))[0] == (1, "user")  # stemmed
    umbrella = await search(client, chatty_agent, query="umbrella weather")
    assert sorted(umbrella[:2]) == [(3, "user"), (4, "assistant")]
    assert await search(client, chatty_agent, query="whiskers", roles=["assistant"]) == [
        (2, "assistant"),
        (4, "assistant"),
    ]
    # The question just before the answer that matched: found by the answer's words.
    assert await search(client, chatty_agent, query="umbrella", roles=["user"]) == [(5, "user"), (3, "user")]
    assert await search(client, chatty_agent, query="spaceship") == []
    # FTS syntax in a query is searched as plain words, never parsed.
    assert await search(client, chatty_agent, query='whiskers" OR * NEAR(') == whiskers
    # No query: newest first; system and tool messages are not searched by default.
    assert await search(client, chatty_agent) == [
        (6, "assistant"),
        (5, "user"),
        (4, "assistant"),
        (3, "user"),
        (2, "assistant"),
        (1, "user"),
    ]
    assert await search(client, chatty_agent, limit=2) == [(6, "assistant"), (5, "user")]
    assert await search(client, chatty_agent, query="stateful") == []
    assert await search(client, chatty_agent, query="stateful", roles=["system"]) == [(0, "system")]

    out = ok(await client.call_tool("search_messages", {"agent_id": chatty_agent, "query": "curry"}))
    hit = out["results"][0]
    assert (hit["content"], hit["role"], hit["seq"]) == ("Try a curry", "assistant", 6)


async def test_search_messages_by_date(client: Client, service: AgentService, chatty_agent: str) -> None:
    await sql(
        service,
        "UPDATE messages SET created_at = '2024-05-01T10:00:00.000000+00:00' WHERE agent_id = :a AND seq IN (1, 2)",
        {"a": chatty_agent},
    )
    whiskers = [(1, "user"), (2, "assistant")]

    def q(**args: Any) -> Any:
        return search(client, chatty_agent, query="whiskers", **args)

    assert sorted(await q(start_date="2024-05-01", end_date="2024-05-01")) == whiskers
    assert await q(end_date="2024-04-30") == []
    assert await q(start_date="2024-05-02") == [(4, "assistant"), (3, "user")]  # only context: the next turn
    assert sorted(await q(end_date="2024-05-01T10:00:00Z")) == whiskers  # bounds are inclusive
    assert await q(end_date="2024-05-01T09:59:59Z") == []
    assert await q(start_date="2024-05-01T10:00:01+00:00") == [(4, "assistant"), (3, "user")]
    assert await search(client, chatty_agent, start_date="2024-05-02") == [
        (6, "assistant"),
        (5, "user"),
        (4, "assistant"),
        (3, "user"),
    ]
    today = datetime.now(UTC).date()
    assert await search(
        client,
        chatty_agent,
        query="curry",
        start_date=str(today - timedelta(days=1)),
        end_date=str(today + timedelta(days=1)),
    ) == [(6, "assistant"), (5, "user"), (4, "assistant")]  # the match, then the turns before it


async def test_search_messages_finds_messages_evicted_from_context(
    client: Client, service: AgentService, chatty_agent: str
) -> None:
    await sql(
        service, "UPDATE messages SET in_context = 0 WHERE agent_id = :a AND seq BETWEEN 1 AND 4", {"a": chatty_agent}
    )
    assert sorted((await search(client, chatty_agent, query="whiskers"))[:2]) == [(1, "user"), (2, "assistant")]
