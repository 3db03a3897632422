"""Export → import into another data directory: the same memory, history, tools and passages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import BlockSpec, ModelRequest, ModelResponse, Role, ToolCall
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


@pytest.fixture
async def elsewhere(tmp_path: Path) -> AsyncIterator[tuple[AgentService, ScriptedProvider]]:
    """A second service on its own data directory (another machine)."""
    scripted = ScriptedProvider()
    settings = load_settings(overrides={"data_dir": str(tmp_path / "elsewhere")}, environ={})
    service = await AgentService.open(settings, providers={"openai": scripted})
    try:
        yield service, scripted
    finally:
        await service.close()


def _history(messages: list) -> list[tuple]:
    return [
        (m.seq, m.role, m.content, m.reasoning, [(c.id, c.name, c.arguments) for c in m.tool_calls], m.tool_call_id,
         m.tool_name, m.in_context, m.kind)
        for m in messages
        if m.seq > 0  # the system message is compiled afresh (it names the new agent id)
    ]  # fmt: skip


async def _everything(service: AgentService, agent_id: str) -> dict:
    details = await service.get_agent(agent_id)
    async with service.store.read() as q:
        history = await q.messages.page(agent_id, after_seq=-1, limit=10_000, newest_first=False)
    page = await service.archival.list(agent_id, limit=200, newest_first=False)
    return {
        "agent": details.agent.model_dump(include={"name", "system", "model", "tools", "tags", "description",
                                                   "max_steps", "context_window", "tool_rules", "metadata"}),
        "blocks": [b.model_dump(include={"label", "value", "limit", "description", "read_only", "metadata"})
                   for b in details.blocks],
        "history": _history(history),
        "passages": [(p.text, p.tags, p.created_at) for p in page.passages],
    }  # fmt: skip


async def test_round_trip_keeps_memory_history_context_tools_and_passages(
    service: AgentService, scripted: ScriptedProvider, elsewhere: tuple[AgentService, ScriptedProvider]
) -> None:
    other, other_model = elsewhere
    with anyio.fail_after(30):
        created = await service.create_agent(
            name="sam",
            blocks=[
                BlockSpec(label="human", value="Sarah, likes sailing.", limit=300, description="Who I talk to."),
                BlockSpec(label="rules", value="Be brief.", limit=50, read_only=True, description="House rules."),
            ],
            tags=["travel", "demo"],
            max_steps=7,
            context_window=20_000,
        )
        agent_id = created.agent.id
        call = ToolCall(id="call-1", name="core_memory_append", arguments='{"label": "human", "content": "Cat: Tom."}')
        scripted.add(ModelResponse(content=None, reasoning="note the cat", tool_calls=[call]))
        scripted.add(ModelResponse(content="Noted your cat Tom."))
        await service.send_message(agent_id, "My cat is called Tom.")
        for n in range(4):
            scripted.add(ModelResponse(content=f"Answer {n}."))
            await service.send_message(agent_id, f"Question {n} about sailing in the bay")
        scripted.add(ModelResponse(content="Sarah has a cat named Tom and asked about sailing."))
        assert await service.compact_context(agent_id) is not None  # some history leaves the window
        await service.archival.insert(agent_id, "Sarah's boat is called Wavedancer.", tags=["boat", "sarah"])
        await service.archival.insert(agent_id, "Sarah sails on Lake Geneva every June.", tags=["sarah"])
        before = await _everything(service, agent_id)
        document = json.dumps(await service.export_agent(agent_id))

        result = await other.import_agent(document)
        new_id = result.agents[0].agent.id
        after = await _everything(other, new_id)
    assert new_id != agent_id
    assert after == before
    assert [m for m in before["history"] if not m[7]], "the test needs history outside the window"
    assert any(m[8] == "summary" for m in before["history"])

    with anyio.fail_after(30):
        hits = await other.archival.search(new_id, "what is the boat called", top_k=1)
        assert hits[0].passage.text == "Sarah's boat is called Wavedancer."

        def answer(request: ModelRequest) -> ModelResponse:
            system = request.messages[0].content or ""
            assert "Cat: Tom." in system and "Sarah, likes sailing." in system
            assert "Sarah has a cat named Tom" in (request.messages[1].content or "")  # the summary stays second
            return ModelResponse(content="Your cat is Tom.")

        other_model.add(answer)
        turn = await other.send_message(new_id, "What is my cat called?")
    assert turn.reply == "Your cat is Tom."


async def test_export_scopes_and_letta_shape(service: AgentService, scripted: ScriptedProvider) -> None:
    with anyio.fail_after(10):
        agent_id = (await service.create_agent(name="ana")).agent.id
        scripted.add(ModelResponse(content="Hello Ana."))
        await service.send_message(agent_id, "Hi, I'm Ana.")
        await service.archival.insert(agent_id, "Ana's birthday is 3 March.")
        full = await service.export_agent(agent_id)
        window = await service.export_agent(agent_id, messages="in_context", archival=False)
        bare = await service.export_agent(agent_id, messages="none")
    (agent,) = full["agents"]
    assert set(full) >= {"agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "metadata"}
    assert agent["id"] == "agent-0" and agent["block_ids"] == ["block-0", "block-1"]
    assert [m["role"] for m in agent["messages"]] == ["system", "user", "assistant"]
    assert agent["in_context_message_ids"] == ["message-0", "message-1", "message-2"]
    assert agent["messages"][1]["content"] == [{"type": "text", "text": "Hi, I'm Ana.", "signature": None}]
    assert agent_tool_names(full) == set((await service.get_agent(agent_id)).agent.tools)
    assert full["letta_mcp"]["agents"]["agent-0"]["passages"][0]["text"] == "Ana's birthday is 3 March."
    assert window["letta_mcp"]["agents"]["agent-0"]["passages"] == []
    assert len(window["agents"][0]["messages"]) == 3
    assert bare["agents"][0]["messages"] == [] and bare["agents"][0]["in_context_message_ids"] == []


def agent_tool_names(document: dict) -> set[str]:
    by_id = {t["id"]: t["name"] for t in document["tools"]}
    return {by_id[i] for i in document["agents"][0]["tool_ids"]}


async def test_strip_messages_and_name_override(service: AgentService, scripted: ScriptedProvider) -> None:
    with anyio.fail_after(10):
        agent_id = (await service.create_agent(name="ana")).agent.id
        scripted.add(ModelResponse(content="Hello."))
        await service.send_message(agent_id, "Hi.")
        document = json.dumps(await service.export_agent(agent_id))
        result = await service.import_agent(document, name="ana-copy", strip_messages=True)
        copy = await service.get_agent(result.agents[0].agent.id)
        async with service.store.read() as q:
            history = await q.messages.page(copy.agent.id, after_seq=-1, limit=100, newest_first=False)
    assert copy.agent.name == "ana-copy"
    assert [m.role for m in history] == [Role.system]
