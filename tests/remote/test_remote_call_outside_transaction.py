"""A call to another MCP server never happens inside the step's write transaction: while it is in
flight, other writers go on. The servers here are an in-process `RemoteTools` whose tool waits
until the test opens its gate (the boundary the runtime talks to, implemented for real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import Role, ToolRule
from letta_mcp.runtime.remote_tools import RemoteTool
from letta_mcp.service import AgentService
from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


class GatedServers:
    """One server, ``gate``, whose tools ``wait``, ``note`` and ``big`` (60,000 characters) answer once
    `release` is set, recording whether the calling task held the write transaction."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.held_write: list[bool] = []
        self.calls: list[str] = []

    def servers(self) -> list[str]:
        return ["gate"]

    async def list_tools(self, server: str) -> list[RemoteTool]:
        schema = {"type": "object", "properties": {}}
        return [RemoteTool(server, name, f"{name} at the gate", schema) for name in ("wait", "note", "big")]

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        assert self.store is not None
        self.held_write.append(self.store.in_write())
        self.calls.append(tool)
        self.entered.set()
        await self.release.wait()
        return True, "x" * 60_000 if tool == "big" else f"{tool} done"

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def gated(tmp_path: Path, scripted: ScriptedProvider) -> Any:
    gate = GatedServers()
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})
    service = await AgentService.open(settings, providers={"openai": scripted}, remote_tools=gate)
    gate.store = service.store
    try:
        yield service, gate
    finally:
        await service.close()


async def test_other_writers_go_on_while_an_agent_waits_on_another_server(
    gated: tuple[AgentService, GatedServers], scripted: ScriptedProvider
) -> None:
    service, gate = gated
    scripted.add(call("mcp__gate__wait", {}), reply("through"))
    agent = (await service.create_agent(name="waiter", tools=["mcp:gate/wait"])).agent
    replies: list[str | None] = []

    async def turn() -> None:
        replies.append((await service.send_message(agent.id, "go")).reply)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(turn)
            await gate.entered.wait()
            other = await service.create_agent(name="meanwhile")  # a write transaction, mid-call
            gate.release.set()
    assert other.agent.name == "meanwhile"
    assert replies == ["through"]
    assert gate.held_write == [False]
    tool_message = json.loads(scripted.requests[-1].messages[-1].content or "{}")
    assert scripted.requests[-1].messages[-1].role is Role.tool
    assert tool_message["status"] == "OK" and tool_message["message"] == "wait done"


async def test_tool_rules_naming_a_remote_tool_apply_to_it(
    gated: tuple[AgentService, GatedServers], scripted: ScriptedProvider
) -> None:
    service, gate = gated
    gate.release.set()
    scripted.add(call("mcp__gate__note", {}), reply("never shown"))
    agent = (
        await service.create_agent(
            tools=["memory_insert", "mcp:gate/note"],
            tool_rules=[
                ToolRule(type="run_first", tool_name="mcp:gate/note"),
                ToolRule(type="exit_loop", tool_name="mcp:gate/note"),
            ],
        )
    ).agent
    with anyio.fail_after(30):
        result = await service.send_message(agent.id, "note it")
    # run_first: the first step offers only the remote tool, by the name the model sees.
    assert [t.name for t in scripted.requests[0].tools] == ["mcp__gate__note"]
    assert result.run.stop_reason == "tool_rule"  # exit_loop ended the turn after the call
    assert gate.calls == ["note"] and len(scripted.requests) == 1


async def test_a_long_result_is_truncated_as_letta_does(
    gated: tuple[AgentService, GatedServers], scripted: ScriptedProvider
) -> None:
    service, gate = gated
    gate.release.set()
    scripted.add(call("mcp__gate__big", {}), reply("read it"))
    agent = (await service.create_agent(tools=["mcp:gate/big"])).agent
    with anyio.fail_after(30):
        await service.send_message(agent.id, "fetch")
    message = json.loads(scripted.requests[-1].messages[-1].content or "{}")["message"]
    assert message.startswith("x" * 50_000) and message.endswith("exceeded the character limit (60000 > 50000)]")


async def test_an_agent_file_records_a_remote_tool_as_letta_does(gated: tuple[AgentService, GatedServers]) -> None:
    service, _ = gated
    agent = (await service.create_agent(tools=["memory_insert", "mcp:gate/note"])).agent
    with anyio.fail_after(30):
        document = await service.export_agent(agent.id)
        imported = (await service.import_agent(json.dumps(document))).agents[0]
    exported = next(t for t in document["tools"] if t["tool_type"] == "external_mcp")
    assert exported["name"] == "note" and exported["metadata_"] == {"mcp": {"server_name": "gate"}}
    assert exported["tags"] == ["mcp:gate"]
    assert exported["id"] in document["agents"][0]["tool_ids"]
    # Imported back, it is recorded (inactive, like any other server's tool in a file), never dropped.
    [inactive] = imported.inactive_tools
    assert inactive.name == "note" and "MCP server 'gate'" in inactive.reason


async def test_a_remote_call_waiting_for_approval_runs_once_approved(
    gated: tuple[AgentService, GatedServers], scripted: ScriptedProvider
) -> None:
    service, gate = gated
    gate.release.set()
    scripted.add(call("mcp__gate__note", {}), reply("noted"))
    agent = (
        await service.create_agent(
            tools=["mcp:gate/note"], tool_rules=[ToolRule(type="requires_approval", tool_name="mcp:gate/note")]
        )
    ).agent
    with anyio.fail_after(30):
        paused = await service.send_message(agent.id, "note it")
        calls_while_paused = list(gate.calls)
        resumed = await service.approve_run(paused.run.id, approve=True)
    assert paused.run.stop_reason == "requires_approval" and calls_while_paused == []
    assert resumed.reply == "noted" and gate.calls == ["note"] and gate.held_write == [False]


async def test_get_context_counts_the_schemas_of_remote_tools(gated: tuple[AgentService, GatedServers]) -> None:
    service, _ = gated
    plain = (await service.create_agent(tools=["memory_insert"])).agent
    remote = (await service.create_agent(tools=["memory_insert", "mcp:gate/note"])).agent
    with anyio.fail_after(30):
        sections = [{s.name: s.tokens for s in (await service.get_context(a.id)).sections} for a in (plain, remote)]
    assert sections[1]["tool_schemas"] > sections[0]["tool_schemas"]
