"""Templates over MCP: create_template, list_templates, create_agent(template=...).

A template snapshots an agent's configuration; each agent made from it gets its own copy of the
blocks, so no edit (by a client or by the agent itself) leaks between the source agent, the
template and the agents made from it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import err, ok

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

CONFIG = ("system", "model", "tools", "tags", "max_steps")


def blocks_of(agent: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(b["label"], b["value"], b["limit"], b["description"], b["read_only"]) for b in agent["blocks"]]


async def block_values(client: Client, agent_id: str) -> dict[str, str]:
    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
    return {b["label"]: b["value"] for b in memory["blocks"]}


@pytest.fixture
async def source(client: Client, scripted: ScriptedProvider) -> dict[str, Any]:
    agent = ok(
        await client.call_tool(
            "create_agent",
            {
                "name": "desk",
                "persona": "I am the support desk.",
                "human": "Unknown caller",
                "blocks": [
                    {"label": "notes", "value": "- be kind", "limit": 300, "description": "Desk notes"},
                    {"label": "policy", "value": "No refunds.", "read_only": True},
                ],
                "system": "You answer support calls.",
                "model": "openai/gpt-4.1",
                "tools": ["core_memory_append"],
                "tags": ["support"],
                "description": "The desk",
                "max_steps": 9,
            },
        )
    )
    scripted.add(reply("Hello caller"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hi"}))
    return agent


async def test_template_round_trip(client: Client, scripted: ScriptedProvider, source: dict[str, Any]) -> None:
    template = ok(
        await client.call_tool(
            "create_template", {"name": "support", "agent_id": source["id"], "description": "Support desk"}
        )
    )
    assert re.fullmatch(r"template-[0-9a-f-]{36}", template["id"])
    assert {k: template[k] for k in ("name", "description", "model", "tools", "tags", "blocks")} == {
        "name": "support",
        "description": "Support desk",
        "model": "openai/gpt-4.1",
        "tools": ["core_memory_append"],
        "tags": ["support"],
        "blocks": ["persona", "human", "notes", "policy"],
    }
    assert ok(await client.call_tool("list_templates", {})) == {"templates": [template]}

    copy = ok(await client.call_tool("create_agent", {"template": "support"}))
    assert re.fullmatch(r"support-\d{14}", copy["name"])
    assert {k: copy[k] for k in CONFIG} == {k: source[k] for k in CONFIG}
    assert blocks_of(copy) == blocks_of(source)
    assert {b["id"] for b in copy["blocks"]}.isdisjoint(b["id"] for b in source["blocks"])
    assert copy["description"] is None  # the template's description describes the template
    assert (copy["messages_in_history"], copy["messages_in_context"]) == (1, 1)  # history is not copied

    by_id = ok(await client.call_tool("create_agent", {"template": template["id"], "name": "by-id"}))
    assert blocks_of(by_id) == blocks_of(source)

    scripted.add(reply("Support here."))
    ok(await client.call_tool("send_message", {"agent_id": copy["id"], "message": "hello"}))
    request = scripted.requests[-1]
    assert request.model == "gpt-4.1"
    assert request.messages[0].content.startswith("You answer support calls.\n\n<memory_blocks>")
    assert f"- AGENT_ID: {copy['id']}" in request.messages[0].content
    assert [m.content for m in request.messages[1:]] == ["hello"]  # none of the source's conversation


async def test_agents_from_a_template_get_copies_of_the_blocks(
    client: Client, scripted: ScriptedProvider, source: dict[str, Any]
) -> None:
    ok(await client.call_tool("create_template", {"name": "support", "agent_id": source["id"]}))
    original = await block_values(client, source["id"])
    first = ok(await client.call_tool("create_agent", {"template": "support", "name": "first"}))["id"]

    # A client edit of the new agent's block...
    ok(await client.call_tool("update_block", {"agent_id": first, "label": "notes", "value": "- be brief"}))
    # ...and the new agent's own edit.
    scripted.add(call("core_memory_append", {"label": "human", "content": "Caller: Dana"}), reply("Hi Dana"))
    ok(await client.call_tool("send_message", {"agent_id": first, "message": "I'm Dana"}))

    assert await block_values(client, first) == {
        **original,
        "notes": "- be brief",
        "human": "Unknown caller\nCaller: Dana",
    }
    assert await block_values(client, source["id"]) == original

    # Editing the source afterwards does not change the template either.
    ok(await client.call_tool("update_block", {"agent_id": source["id"], "label": "notes", "value": "- changed"}))
    second = ok(await client.call_tool("create_agent", {"template": "support", "name": "second"}))["id"]
    assert await block_values(client, second) == original


async def test_create_agent_arguments_override_the_template(client: Client, source: dict[str, Any]) -> None:
    ok(await client.call_tool("create_template", {"name": "support", "agent_id": source["id"]}))
    agent = ok(
        await client.call_tool(
            "create_agent",
            {
                "template": "support",
                "persona": "I am the night desk.",
                "tags": ["night"],
                "max_steps": 2,
                "blocks": [{"label": "notes", "value": "- be quiet", "limit": 50}, {"label": "extra", "value": "x"}],
            },
        )
    )
    assert [(b["label"], b["value"], b["limit"]) for b in agent["blocks"]] == [
        ("persona", "I am the night desk.", 5000),
        ("human", "Unknown caller", 5000),
        ("notes", "- be quiet", 50),
        ("policy", "No refunds.", 5000),
        ("extra", "x", 5000),
    ]
    assert (agent["tags"], agent["max_steps"], agent["system"], agent["tools"]) == (
        ["night"],
        2,
        "You answer support calls.",
        ["core_memory_append"],
    )


async def test_duplicate_template_name_is_refused(
    client: Client, service: AgentService, source: dict[str, Any]
) -> None:
    first = ok(await client.call_tool("create_template", {"name": "support", "agent_id": source["id"]}))
    other = ok(await client.call_tool("create_agent", {"name": "other", "persona": "Other persona"}))

    text = err(await client.call_tool("create_template", {"name": "support", "agent_id": other["id"]}))

    assert text == (
        "Error executing tool create_template: A template named 'support' already exists. Choose "
        "another name, or call list_templates to see existing ones."
    )
    assert ok(await client.call_tool("list_templates", {})) == {"templates": [first]}
    copy = ok(await client.call_tool("create_agent", {"template": "support"}))
    assert copy["blocks"][0]["value"] == "I am the support desk."
