"""export_agent / import_agent through MCP (in-process client)."""

from __future__ import annotations

import json

import anyio
import pytest
from af_helpers import fixture, read
from mcp import Client
from mcp_helpers import err, ok, snapshot

from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import ModelResponse
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


async def test_export_then_import_through_mcp(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    with anyio.fail_after(20):
        agent_id = (await service.create_agent(name="sam", human="Sarah, a sailor.")).agent.id
        scripted.add(ModelResponse(content="Hi Sarah."))
        await service.send_message(agent_id, "Hello!")
        await service.archival.insert(agent_id, "Sarah's boat is the Wavedancer.")
        exported = ok(await client.call_tool("export_agent", {"agent_id": agent_id}))
        assert (exported["agents"], exported["messages"], exported["passages"]) == (1, 3, 1)
        imported = ok(await client.call_tool("import_agent", {"document": exported["document"], "name": "sam-2"}))
        new_id = imported["agent_id"]
        assert new_id != agent_id and imported["agents"][0]["name"] == "sam-2"
        memory = ok(await client.call_tool("get_memory", {"agent_id": new_id}))
    assert "Sarah, a sailor." in json.dumps(memory)
    assert imported["agents"][0]["messages"] == 3 and imported["agents"][0]["passages"] == 1


async def test_import_real_file_lists_inactive_tools_and_groups(client: Client) -> None:
    with anyio.fail_after(20):
        result = ok(await client.call_tool("import_agent", {"document": (await read(fixture("evie.af"))).decode()}))
    main, sleeper = result["agents"]
    assert result["agent_id"] == main["id"]
    assert result["groups"] == [
        {
            "id": result["groups"][0]["id"],
            "manager_type": "sleeptime",
            "manager_agent_id": main["id"],
            "agent_ids": [sleeper["id"]],
            "enabled": True,
        }
    ]
    assert all(t["reason"] for t in main["inactive_tools"])
    assert {"web_search", "fetch_webpage"} <= {t["name"] for t in main["inactive_tools"]}


async def test_bad_document_is_a_tool_error_and_writes_nothing(client: Client, service: AgentService) -> None:
    with anyio.fail_after(10):
        before = await snapshot(service)
        message = err(await client.call_tool("import_agent", {"document": '{"agents": [{"name": "x"}]}'}))
        assert await snapshot(service) == before
    assert "agents.0.id" in message


async def test_export_unknown_agent(client: Client) -> None:
    with anyio.fail_after(10):
        message = err(await client.call_tool("export_agent", {"agent_id": "agent-nope"}))
    assert "list_agents" in message
