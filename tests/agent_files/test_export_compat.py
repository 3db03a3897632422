"""What export writes, Letta reads: only fields real Letta exports have, groups and tools round-tripped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from af_helpers import document, fixture, read

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import ModelResponse, ToolCall
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

# Letta's agent, block and message schemas forbid extra fields: every key we write must be one
# that real exports (Letta 0.16.x, letta-ai/agent-file) carry.
REAL = ("letta_test_agent.af", "evie.af", "co-3.af", "loop.af", "ezra.af")


async def _keys(names: tuple[str, ...]) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {k: set() for k in ("top", "agent", "block", "tool", "message", "group")}
    for name in names:
        doc = await document(fixture(name))
        _collect(doc, keys)
    return keys


def _collect(doc: dict[str, Any], keys: dict[str, set[str]]) -> None:
    keys["top"] |= set(doc)
    for agent in doc["agents"]:
        keys["agent"] |= set(agent)
        for message in agent["messages"]:
            keys["message"] |= set(message)
    for kind, section in (("block", "blocks"), ("tool", "tools"), ("group", "groups")):
        for item in doc[section]:
            keys[kind] |= set(item)


@pytest.fixture
async def elsewhere(tmp_path: Path) -> AsyncIterator[AgentService]:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "elsewhere")}, environ={})
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    try:
        yield service
    finally:
        await service.close()


async def test_export_writes_only_fields_letta_knows(service: AgentService, scripted: ScriptedProvider) -> None:
    with anyio.fail_after(20):
        imported = await service.import_agent(await read(fixture("evie.af")))  # a group, inactive tools
        main_id = imported.agents[0].agent.id
        call = ToolCall(id="c1", name="memory_insert", arguments='{"label": "human", "new_str": "x"}')
        scripted.add(ModelResponse(content=None, reasoning="noting", tool_calls=[call]), ModelResponse(content="ok"))
        await service.send_message(main_id, "Remember x.")
        ours: dict[str, set[str]] = {k: set() for k in ("top", "agent", "block", "tool", "message", "group")}
        _collect(await service.export_agent(main_id), ours)
        real = await _keys(REAL)
    assert ours["top"] - real["top"] == {"letta_mcp"}  # the extension, where Letta ignores unknown keys
    for kind in ("agent", "block", "tool", "message", "group"):
        assert ours[kind] <= real[kind], (kind, ours[kind] - real[kind])


async def test_sleeptime_pair_and_inactive_tools_survive_export_and_import(
    service: AgentService, elsewhere: AgentService
) -> None:
    with anyio.fail_after(20):
        first = await service.import_agent(await read(fixture("evie.af")))
        main, sleeper = first.agents
        exported = await service.export_agent(main.agent.id)
        again = await elsewhere.import_agent(json.dumps(exported))
        main2, sleeper2 = again.agents
        blocks = [{b.label for b in (await elsewhere.get_agent(a.agent.id)).blocks} for a in again.agents]
        shared = [{b.id for b in (await elsewhere.get_agent(a.agent.id)).blocks} for a in again.agents]
    original = await document(fixture("evie.af"))
    assert len(exported["agents"]) == 2 and exported["groups"][0]["manager_config"] == {
        "manager_type": "sleeptime",
        "sleeptime_agent_frequency": 5,
        "manager_agent_id": "agent-0",
    }
    assert len(exported["groups"][0]["shared_block_ids"]) == 12
    (group,) = again.groups
    assert (group.manager_agent_id, group.agent_ids) == (main2.agent.id, [sleeper2.agent.id])
    assert len(shared[0] & shared[1]) == 12
    assert blocks[0] == {b["label"] for b in original["blocks"] if b["id"] in original["agents"][0]["block_ids"]}
    assert sorted((t.name, t.tool_type, t.source_code) for t in main2.inactive_tools) == sorted(
        (t.name, t.tool_type, t.source_code) for t in main.inactive_tools
    )
    assert main2.agent.tools == main.agent.tools and main2.agent.tool_rules == main.agent.tool_rules
    assert sleeper2.agent.name == sleeper.agent.name


async def test_custom_and_mcp_tools_are_exported_as_they_came(service: AgentService) -> None:
    original = await document(fixture("co-3.af"))
    with anyio.fail_after(20):
        imported = await service.import_agent(await read(fixture("co-3.af")))
        exported = await service.export_agent(imported.agents[0].agent.id)
    before = {t["name"]: t for t in original["tools"] if t["tool_type"] in ("custom", "external_mcp")}
    after = {t["name"]: t for t in exported["tools"] if t["name"] in before}
    assert after.keys() == before.keys()
    for name, tool in after.items():
        for key in ("tool_type", "source_code", "json_schema", "metadata_", "tags"):
            assert tool[key] == before[name][key], (name, key)
