"""Agent isolation: two agents on one server never see each other's memory or conversation.

Checked where it matters: in what each agent's model is sent, and in everything a client can
read back (list_messages, search_messages, get_memory), including the agent's own recall tool.
"""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp_helpers import ok

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest

pytestmark = pytest.mark.anyio


def text_of(request: ModelRequest) -> str:
    return "\n".join(f"{m.content or ''} {[c.arguments for c in m.tool_calls]}" for m in request.messages)


async def test_two_agents_never_see_each_others_memory_or_messages(client: Client, scripted: ScriptedProvider) -> None:
    alice = ok(await client.call_tool("create_agent", {"human": "Name: Alice", "persona": "I am A-bot."}))["id"]
    bob = ok(await client.call_tool("create_agent", {"human": "Name: Bob", "persona": "I am B-bot."}))["id"]

    scripted.add(
        call("core_memory_append", {"label": "human", "content": "Fruit: pineapple"}), reply("Pineapple, noted.")
    )
    ok(await client.call_tool("send_message", {"agent_id": alice, "message": "my secret fruit is pineapple"}))
    scripted.add(call("core_memory_append", {"label": "human", "content": "Fruit: mango"}), reply("Mango, noted."))
    ok(await client.call_tool("send_message", {"agent_id": bob, "message": "my secret fruit is mango"}))
    # Each agent searches its recall memory for the other's words: nothing comes back.
    scripted.add(call("conversation_search", {"query": "mango"}), reply("Only your pineapple."))
    alice_turn = ok(await client.call_tool("send_message", {"agent_id": alice, "message": "any other fruit?"}))
    scripted.add(call("conversation_search", {"query": "pineapple secret"}), reply("Only your mango."))
    bob_turn = ok(await client.call_tool("send_message", {"agent_id": bob, "message": "any other fruit?"}))

    [alice_search] = [m["tool_return"] for m in alice_turn["messages"] if m["message_type"] == "tool_return_message"]
    assert json.loads(json.loads(alice_search)["message"]) == {"message": "No results found.", "results": []}
    [bob_search] = [m["tool_return"] for m in bob_turn["messages"] if m["message_type"] == "tool_return_message"]
    found = json.loads(json.loads(bob_search)["message"])["results"]
    # Its own message first (then what was said around it); never the other agent's words.
    assert found[0]["content"] == "my secret fruit is mango"
    assert not any("pineapple" in r["content"].lower() for r in found)

    # What each model was sent: own memory and messages only.
    assert len(scripted.requests) == 8
    for request in scripted.requests[:2] + scripted.requests[4:6]:
        sent = text_of(request)
        assert f"- AGENT_ID: {alice}" in sent and "Name: Alice" in sent
        assert bob not in sent and "Bob" not in sent and "B-bot" not in sent
        assert "Fruit: mango" not in sent and "my secret fruit is mango" not in sent
    for request in scripted.requests[2:4] + scripted.requests[6:8]:
        sent = text_of(request)
        assert f"- AGENT_ID: {bob}" in sent and "Name: Bob" in sent
        assert alice not in sent and "Alice" not in sent and "A-bot" not in sent
        assert "Fruit: pineapple" not in sent and "my secret fruit is pineapple" not in sent

    # What a client reads back.
    async def contents(agent_id: str) -> list[str]:
        page = ok(
            await client.call_tool(
                "list_messages", {"agent_id": agent_id, "order": "asc", "roles": ["user", "assistant"], "limit": 200}
            )
        )
        return [m["content"] for m in page["messages"] if m["content"]]

    assert await contents(alice) == [
        "my secret fruit is pineapple",
        "Pineapple, noted.",
        "any other fruit?",
        "Only your pineapple.",
    ]
    assert await contents(bob) == ["my secret fruit is mango", "Mango, noted.", "any other fruit?", "Only your mango."]

    async def search(agent_id: str, query: str) -> list[str]:
        out = ok(await client.call_tool("search_messages", {"agent_id": agent_id, "query": query}))
        return [r["content"] for r in out["results"]]  # best first, then the context around matches

    assert (await search(alice, "secret"))[0] == "my secret fruit is pineapple"
    assert (await search(bob, "secret"))[0] == "my secret fruit is mango"
    assert not any("mango" in c.lower() for c in await search(alice, "fruit mango secret noted"))
    assert not any("pineapple" in c.lower() for c in await search(bob, "fruit pineapple secret noted"))
    assert (await search(bob, "noted"))[0] == "Mango, noted."

    alice_memory = ok(await client.call_tool("get_memory", {"agent_id": alice}))
    bob_memory = ok(await client.call_tool("get_memory", {"agent_id": bob}))
    assert [(b["label"], b["value"]) for b in alice_memory["blocks"]] == [
        ("persona", "I am A-bot."),
        ("human", "Name: Alice\nFruit: pineapple"),
    ]
    assert [(b["label"], b["value"]) for b in bob_memory["blocks"]] == [
        ("persona", "I am B-bot."),
        ("human", "Name: Bob\nFruit: mango"),
    ]
    assert {b["id"] for b in alice_memory["blocks"]}.isdisjoint(b["id"] for b in bob_memory["blocks"])
    assert "Bob" not in alice_memory["rendered"] and bob not in alice_memory["rendered"]
    assert "Alice" not in bob_memory["rendered"] and alice not in bob_memory["rendered"]

    # A client edit of one agent's block leaves the same label of the other alone.
    ok(await client.call_tool("update_block", {"agent_id": alice, "label": "human", "value": "Name: Alice Smith"}))
    bob_memory = ok(await client.call_tool("get_memory", {"agent_id": bob}))
    assert bob_memory["blocks"][1]["value"] == "Name: Bob\nFruit: mango"
