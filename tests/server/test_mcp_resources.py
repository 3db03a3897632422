"""The MCP resources: letta://agents, letta://agents/{id}, …/memory and …/blocks/{label}."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError
from mcp_helpers import ok

from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

INVALID_PARAMS = -32602
RECOMPILED = "- System prompt last recompiled: "
OUR_TEMPLATES = {
    "letta://agents/{agent_id}": "application/json",
    "letta://agents/{agent_id}/memory": "text/plain",
    "letta://agents/{agent_id}/blocks/{label}": "text/plain",
}


async def read(client: Client, uri: str) -> tuple[str, str | None]:
    result = await client.read_resource(uri)
    [content] = result.contents
    assert str(content.uri) == uri
    return content.text, content.mime_type


def without_timestamp(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(RECOMPILED))


async def test_resources_are_listed(client: Client) -> None:
    # Other resources may be added beside these; these four must be there with these types.
    resources = {r.uri: r.mime_type for r in (await client.list_resources()).resources}
    assert resources["letta://agents"] == "application/json"
    templates = {t.uri_template: t.mime_type for t in (await client.list_resource_templates()).resource_templates}
    assert {uri: templates.get(uri) for uri in OUR_TEMPLATES} == OUR_TEMPLATES


async def test_agents_resource_lists_agents_newest_first(client: Client) -> None:
    assert await read(client, "letta://agents") == ("[]", "application/json")
    older = ok(await client.call_tool("create_agent", {"name": "older", "tags": ["a"]}))
    newer = ok(await client.call_tool("create_agent", {"name": "newer", "description": "new one"}))

    text, _ = await read(client, "letta://agents")
    summary = ("id", "name", "description", "model", "tags", "created_at")
    assert json.loads(text) == [{k: newer[k] for k in summary}, {k: older[k] for k in summary}]


async def test_agent_resource_matches_get_agent(client: Client) -> None:
    agent = ok(await client.call_tool("create_agent", {"name": "sam", "human": "Name: Sam"}))
    text, mime = await read(client, f"letta://agents/{agent['id']}")
    assert mime == "application/json"
    assert json.loads(text) == ok(await client.call_tool("get_agent", {"agent_id": agent["id"]})) == agent


async def test_memory_and_block_resources_follow_edits(client: Client) -> None:
    agent_id = ok(await client.call_tool("create_agent", {"human": "Name: Sam"}))["id"]
    base = f"letta://agents/{agent_id}"

    memory, mime = await read(client, f"{base}/memory")
    assert mime == "text/plain"
    assert memory.startswith("<memory_blocks>\n") and "\n</memory_blocks>\n\n<memory_metadata>\n" in memory
    assert memory.endswith("</memory_metadata>")
    rendered = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))["rendered"]
    assert without_timestamp(memory) == without_timestamp(rendered)

    assert await read(client, f"{base}/blocks/human") == ("Name: Sam", "text/plain")
    assert await read(client, f"{base}/blocks/persona") == (
        "I am a helpful assistant who remembers what matters.",
        "text/plain",
    )

    ok(await client.call_tool("update_block", {"agent_id": agent_id, "label": "human", "value": "Name: Sarah"}))
    assert await read(client, f"{base}/blocks/human") == ("Name: Sarah", "text/plain")
    memory, _ = await read(client, f"{base}/memory")
    assert "<value>\nName: Sarah\n</value>" in memory and "Name: Sam\n" not in memory
    agent = json.loads((await read(client, base))[0])
    assert [(b["label"], b["value"], b["version"]) for b in agent["blocks"]][1] == ("human", "Name: Sarah", 2)


async def test_empty_block_reads_as_empty_text(client: Client) -> None:
    agent_id = ok(await client.call_tool("create_agent", {}))["id"]
    assert await read(client, f"letta://agents/{agent_id}/blocks/human") == ("", "text/plain")


async def test_unknown_agent_or_label_is_a_not_found_error(client: Client, service: AgentService) -> None:
    agent_id = ok(await client.call_tool("create_agent", {}))["id"]
    missing = "agent-00000000-0000-4000-8000-000000000000"
    cases = {
        f"letta://agents/{missing}": f"No agent with id '{missing}'. Call list_agents to see the agents that exist.",
        f"letta://agents/{missing}/memory": f"No agent with id '{missing}'.",
        f"letta://agents/{missing}/blocks/human": f"No agent with id '{missing}'.",
        f"letta://agents/{agent_id}/blocks/zzz": (
            f"Agent '{agent_id}' has no block labelled 'zzz'. Its blocks are: persona, human."
        ),
    }
    for uri, message in cases.items():
        with pytest.raises(MCPError) as caught:
            await client.read_resource(uri)
        assert caught.value.error.code == INVALID_PARAMS, uri
        assert message in caught.value.error.message, uri
        assert caught.value.error.data == {"uri": uri}
