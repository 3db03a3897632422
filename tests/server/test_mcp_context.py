"""The context window as a person or a model reads it: the memory text's count of previous
messages, and get_context's numbers and their descriptions."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_helpers import ok

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Usage
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

PREVIOUS = " previous messages between you and the user are stored in recall memory (outside your context window;"


def previous_messages(rendered: str) -> int:
    (line,) = [line for line in rendered.splitlines() if PREVIOUS in line]
    return int(line.removeprefix("- ").split(" ", 1)[0])


async def chat(client: Client, scripted: ScriptedProvider, agent_id: str, turns: int, **usage: int) -> None:
    for i in range(turns):
        scripted.add(reply(f"Noted, thing {i}.", usage=Usage(**usage) if usage else None))
        ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": f"Remember thing {i}."}))


async def test_previous_messages_counts_only_those_that_left_the_window(
    service: AgentService, client: Client, scripted: ScriptedProvider
) -> None:
    with anyio.fail_after(30):
        agent_id = ok(await client.call_tool("create_agent", {"name": "sam"}))["id"]
        await chat(client, scripted, agent_id, turns=3)
        history = ok(await client.call_tool("list_messages", {"agent_id": agent_id}))["messages"]
        memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
        assert len(history) == 7  # the system message, three user messages, three replies: all in the window
        assert previous_messages(memory["rendered"]) == 0

        scripted.add(reply("The user asked me to remember things 0 to 2."))  # the summarizer
        compacted = await service.compact_context(agent_id)
        memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
        context = ok(await client.call_tool("get_context", {"agent_id": agent_id}))
    assert compacted is not None and compacted.evicted > 0
    assert previous_messages(memory["rendered"]) == compacted.evicted
    assert previous_messages(memory["rendered"]) == context["messages_in_history"] - context["messages_in_context"]


async def test_get_context_numbers_follow_from_each_other(client: Client, scripted: ScriptedProvider) -> None:
    with anyio.fail_after(30):
        agent_id = ok(await client.call_tool("create_agent", {"name": "sam", "context_window": 100_000}))["id"]
        # The provider counts twice what we estimate (as a real tokenizer may): calibration learns it.
        first = ok(await client.call_tool("get_context", {"agent_id": agent_id}))
        await chat(client, scripted, agent_id, turns=2, prompt_tokens=first["total_tokens"] * 2, completion_tokens=5)
        context = ok(await client.call_tool("get_context", {"agent_id": agent_id}))
    assert context["calibration_ratio"] > 1.5  # the 2× gap between the two totals…
    assert sum(s["tokens"] for s in context["sections"]) == context["total_tokens"]
    assert context["estimated_prompt_tokens"] == round(context["total_tokens"] * context["calibration_ratio"])
    # …and the percentage and compaction thresholds are in the calibrated unit.
    assert context["percent_used"] == round(100 * context["estimated_prompt_tokens"] / 100_000, 2)
    assert context["compaction_trigger_tokens"] == int(0.9 * 100_000)
    assert context["messages_in_context"] == 5  # the system message and four of the chat


async def test_get_context_fields_say_what_they_count(client: Client) -> None:
    (tool,) = [t for t in (await client.list_tools()).tools if t.name == "get_context"]
    assert tool.output_schema is not None
    fields: dict[str, Any] = tool.output_schema["properties"]
    described = {name: field.get("description", "") for name, field in fields.items()}
    assert "calibration" in described["total_tokens"]
    assert "calibration_ratio" in described["estimated_prompt_tokens"]
    assert "percent_used" in described["estimated_prompt_tokens"]
    assert "estimated_prompt_tokens" in described["percent_used"]
    assert "estimated_prompt_tokens" in described["compaction_trigger_tokens"]
    for name in ("calibration_ratio", "messages_in_context", "messages_in_history"):
        assert described[name], f"{name} has no description"
