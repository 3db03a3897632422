"""Shared blocks through MCP: one block, several agents, every edit seen by all, history and undo."""

from __future__ import annotations

import re

import anyio
import pytest
from mcp import Client

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest
from letta_mcp.service import AgentService, Change, ConflictError, NotFoundError, Principal, acting_as
from server.mcp_helpers import err, ok, snapshot

pytestmark = pytest.mark.anyio


async def _agent(client: Client, name: str) -> str:
    return ok(await client.call_tool("create_agent", {"name": name}))["id"]


async def _shared(client: Client, *agent_ids: str, value: str = "Team goal: ship v1.", limit: int = 200) -> str:
    block = ok(await client.call_tool("create_block", {"block": {"label": "team", "value": value, "limit": limit}}))
    for agent_id in agent_ids:
        ok(await client.call_tool("attach_block", {"agent_id": agent_id, "block_id": block["id"]}))
    return block["id"]


def _system_text(request: ModelRequest) -> str:
    return request.messages[0].content or ""


async def test_an_edit_by_one_agent_is_in_the_others_next_prompt_and_notifies_it(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    alice, bob = await _agent(client, "alice"), await _agent(client, "bob")
    await _shared(client, alice, bob)
    heard: list[Change] = []

    async def listen(change: Change) -> None:
        heard.append(change)

    unsubscribe = service.on_change(listen)
    scripted.add(call("core_memory_append", {"label": "team", "content": "Deadline: Friday."}), reply("noted"))
    ok(await client.call_tool("send_message", {"agent_id": alice, "message": "The deadline is Friday."}))
    unsubscribe()
    assert any(c.agent_id == bob and c.blocks == ("team",) for c in heard), heard

    scripted.add(reply("Friday."))
    ok(await client.call_tool("send_message", {"agent_id": bob, "message": "When is the deadline?"}))
    assert "Deadline: Friday." in _system_text(scripted.requests[-1])
    memory = ok(await client.call_tool("get_memory", {"agent_id": bob}))
    assert "Deadline: Friday." in next(b["value"] for b in memory["blocks"] if b["label"] == "team")


async def test_history_names_the_agent_and_run_or_the_client_and_undo_restores(
    client: Client, scripted: ScriptedProvider
) -> None:
    alice = await _agent(client, "alice")
    await _shared(client, alice, value="v1")
    scripted.add(call("memory_replace", {"label": "team", "old_string": "v1", "new_string": "v2"}), reply("ok"))
    sent = ok(await client.call_tool("send_message", {"agent_id": alice, "message": "bump it"}))
    ok(await client.call_tool("update_block", {"agent_id": alice, "label": "team", "value": "v3"}))

    history = ok(await client.call_tool("block_history", {"agent_id": alice, "label": "team"}))["versions"]
    assert [(v["version"], v["value"]) for v in history] == [(3, "v3"), (2, "v2"), (1, "v1")]
    assert history[0]["actor"] == "principal:local" and history[0]["run_id"] is None
    assert history[1]["actor"] == f"agent:{alice}" and history[1]["run_id"] == sent["run_id"]

    undone = ok(await client.call_tool("undo_block", {"agent_id": alice, "label": "team"}))
    assert (undone["value"], undone["version"]) == ("v2", 4)
    first = ok(await client.call_tool("undo_block", {"agent_id": alice, "label": "team", "version": 1}))
    assert (first["value"], first["version"]) == ("v1", 5)
    history = ok(await client.call_tool("block_history", {"agent_id": alice, "label": "team", "limit": 2}))
    assert [v["reason"] for v in history["versions"]] == ["undo_block to version 1", "undo_block to version 2"]
    older = ok(await client.call_tool("block_history", {"agent_id": alice, "label": "team", "before_version": 2}))
    assert [v["version"] for v in older["versions"]] == [1]


async def test_undo_respects_the_limit_and_refuses_what_cannot_be_undone(client: Client, service: AgentService) -> None:
    alice = await _agent(client, "alice")
    await _shared(client, alice, value="a much longer first value")
    assert "nothing to undo" in err(await client.call_tool("undo_block", {"agent_id": alice, "label": "team"}))
    ok(await client.call_tool("update_block", {"agent_id": alice, "label": "team", "value": "short", "limit": 10}))
    before = await snapshot(service)
    message = err(await client.call_tool("undo_block", {"agent_id": alice, "label": "team", "version": 1}))
    assert "limit" in message and "update_block" in message
    assert "between 1 and 1" in err(
        await client.call_tool("undo_block", {"agent_id": alice, "label": "team", "version": 2})
    )
    assert await snapshot(service) == before


async def test_deleting_an_agent_keeps_a_block_another_agent_uses(client: Client) -> None:
    alice, bob = await _agent(client, "alice"), await _agent(client, "bob")
    block_id = await _shared(client, alice, bob)
    ok(await client.call_tool("update_block", {"agent_id": alice, "label": "team", "value": "kept"}))
    ok(await client.call_tool("delete_agent", {"agent_id": alice}))
    memory = ok(await client.call_tool("get_memory", {"agent_id": bob}))
    assert next(b["value"] for b in memory["blocks"] if b["label"] == "team") == "kept"
    ok(await client.call_tool("delete_agent", {"agent_id": bob}))
    # A standalone block outlives every agent it was attached to.
    listed = ok(await client.call_tool("list_blocks", {"label": "team"}))["blocks"]
    assert [(b["id"], b["value"], b["agent_ids"]) for b in listed] == [(block_id, "kept", [])]


async def test_an_agents_own_block_shared_elsewhere_survives_its_deletion(client: Client) -> None:
    alice, bob = await _agent(client, "alice"), await _agent(client, "bob")
    human = next(
        b for b in ok(await client.call_tool("get_memory", {"agent_id": alice}))["blocks"] if b["label"] == "human"
    )
    ok(await client.call_tool("detach_block", {"agent_id": bob, "label": "human"}))
    ok(await client.call_tool("attach_block", {"agent_id": bob, "block_id": human["id"]}))
    ok(await client.call_tool("delete_agent", {"agent_id": alice}))
    memory = ok(await client.call_tool("get_memory", {"agent_id": bob}))
    assert next(b["id"] for b in memory["blocks"] if b["label"] == "human") == human["id"]


async def test_delete_block_in_use_needs_force(client: Client, service: AgentService) -> None:
    alice, bob = await _agent(client, "alice"), await _agent(client, "bob")
    block_id = await _shared(client, alice, bob)
    before = await snapshot(service)
    message = err(await client.call_tool("delete_block", {"block_id": block_id}))
    assert "attached to 2 agent(s)" in message and "force=true" in message
    assert await snapshot(service) == before
    deleted = ok(await client.call_tool("delete_block", {"block_id": block_id, "force": True}))
    assert sorted(deleted["detached_from"]) == sorted([alice, bob])
    for agent_id in (alice, bob):
        memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
        assert "team" not in [b["label"] for b in memory["blocks"]]
        assert "<team>" not in memory["rendered"]
    assert ok(await client.call_tool("list_blocks", {"label": "team"}))["blocks"] == []


async def test_labels_stay_unique_per_agent(client: Client, service: AgentService) -> None:
    alice = await _agent(client, "alice")
    block_id = await _shared(client, alice)
    other = ok(await client.call_tool("create_block", {"block": {"label": "team", "value": "x"}}))["id"]
    before = await snapshot(service)
    assert "already attached" in err(await client.call_tool("attach_block", {"agent_id": alice, "block_id": block_id}))
    message = err(await client.call_tool("attach_block", {"agent_id": alice, "block_id": other}))
    assert f"detach its block {block_id} first" in message
    assert await snapshot(service) == before


async def test_detached_blocks_are_kept_and_listed(client: Client) -> None:
    alice = await _agent(client, "alice")
    ok(await client.call_tool("update_block", {"agent_id": alice, "label": "human", "value": "Sarah"}))
    ok(await client.call_tool("detach_block", {"agent_id": alice, "label": "human"}))
    memory = ok(await client.call_tool("get_memory", {"agent_id": alice}))
    assert "human" not in [b["label"] for b in memory["blocks"]]
    listed = ok(await client.call_tool("list_blocks", {"label": "human"}))["blocks"]
    assert [(b["value"], b["agent_ids"]) for b in listed] == [("Sarah", [])]


async def test_another_principals_blocks_look_unknown(service: AgentService) -> None:
    with acting_as(Principal("alice")):
        alice = (await service.create_agent(name="a")).agent.id
        block = await service.create_block("team", value="alice's")
        await service.attach_block(alice, block.id)
    with acting_as(Principal("bob")):
        bob = (await service.create_agent(name="b")).agent.id
        before = await snapshot(service)
        unknown = f"No block with id {block.id!r}. Call list_blocks to see your blocks."
        with pytest.raises(NotFoundError, match=re.escape(unknown)):
            await service.attach_block(bob, block.id)
        with pytest.raises(NotFoundError, match=re.escape(unknown)):
            await service.delete_block(block.id, force=True)
        with pytest.raises(NotFoundError, match="No agent"):
            await service.block_history(alice, "team")
        with pytest.raises(NotFoundError, match="No agent"):
            await service.undo_block(alice, "team")
        assert {s.block.label for s in await service.list_blocks()} == {"human", "persona"}  # bob's own agent's
        assert await snapshot(service) == before
    with acting_as(Principal("ops", full_access=True)):
        assert [s.agent_ids for s in await service.list_blocks(label="team")] == [[alice]]


async def test_concurrent_edits_of_one_shared_block_by_two_agents_are_all_kept(
    client: Client, scripted: ScriptedProvider
) -> None:
    alice, bob = await _agent(client, "alice"), await _agent(client, "bob")
    await _shared(client, alice, bob, value="", limit=5_000)

    def append(request: ModelRequest):  # one tool call per user message, then a reply
        last = request.messages[-1]
        if last.role.value == "user":
            return call("core_memory_append", {"label": "team", "content": last.content})
        return reply("ok")

    scripted.default = append
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(10):
                for agent_id, who in ((alice, "alice"), (bob, "bob")):
                    tg.start_soon(client.call_tool, "send_message", {"agent_id": agent_id, "message": f"{who}-{i}"})
    memory = ok(await client.call_tool("get_memory", {"agent_id": alice}))
    lines = next(b["value"] for b in memory["blocks"] if b["label"] == "team").split("\n")
    assert sorted(line for line in lines if line) == sorted(f"{w}-{i}" for i in range(10) for w in ("alice", "bob"))


async def test_a_block_lists_only_the_agents_its_owner_may_see(service: AgentService) -> None:
    with acting_as(Principal("alice")):
        block = await service.create_block("team", value="shared by an admin")
    with acting_as(Principal("bob")):
        bob = (await service.create_agent(name="b")).agent.id
    with acting_as(Principal("ops", full_access=True)):
        await service.attach_block(bob, block.id)
        assert [s.agent_ids for s in await service.list_blocks(label="team")] == [[bob]]
    with acting_as(Principal("alice")):
        assert [s.agent_ids for s in await service.list_blocks(label="team")] == [[]]  # bob's agent stays unnamed
        with pytest.raises(ConflictError, match=r"attached to 1 agent\(s\) \(not yours\)"):
            await service.delete_block(block.id)
