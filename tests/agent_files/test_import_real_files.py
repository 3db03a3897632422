"""Every real Agent File imports, and the imported agent answers from its memory."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from af_helpers import REAL_FILES, document, fixture, read

from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import ModelRequest, ModelResponse, Role
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
async def test_real_file_imports_and_agent_answers_from_memory(
    path: Path, service: AgentService, scripted: ScriptedProvider
) -> None:
    with anyio.fail_after(30):
        result = await service.import_agent(await read(path))
        main = result.agents[0]
        details = await service.get_agent(main.agent.id)
        assert details.blocks, "real agents have memory blocks"
        marker = max(details.blocks, key=lambda b: len(b.value)).value.strip()[:80]
        seen: list[ModelRequest] = []

        def answer(request: ModelRequest) -> ModelResponse:
            seen.append(request)
            system = request.messages[0]
            assert system.role is Role.system
            return ModelResponse(content="from memory: " + ("yes" if marker in (system.content or "") else "no"))

        scripted.add(answer)
        turn = await service.send_message(main.agent.id, "What do you remember?")
    assert turn.reply == "from memory: yes"
    assert seen[0].messages[-1].content == "What do you remember?"


async def test_unordered_v1_context_keeps_the_window_and_drops_lettas_system_prompt(service: AgentService) -> None:
    path = fixture("letta_memgpt_agent_with_convo.af")
    raw = await document(path)
    with anyio.fail_after(10):
        result = await service.import_agent(await read(path))
        agent_id = result.agents[0].agent.id
        async with service.store.read() as q:
            history = await q.messages.page(agent_id, after_seq=-1, limit=1000, newest_first=False)
    # indices [89, 81, 80, …, 88, 90]: 89 is Letta's compiled system prompt, replaced by ours (seq 0)
    assert len(history) == len(raw["messages"])
    in_context = [m for m in history if m.in_context]
    assert [m.seq for m in in_context] == [0, *range(81, 90), 90]
    assert in_context[0].role is Role.system and "BigChungus" in (in_context[0].content or "")


async def test_sleeptime_pair_shares_blocks_and_runs(service: AgentService) -> None:
    path = fixture("evie.af")
    with anyio.fail_after(10):
        result = await service.import_agent(await read(path))
        main, sleeper = result.agents
        main_blocks = {b.id for b in (await service.get_agent(main.agent.id)).blocks}
        sleeper_blocks = {b.id for b in (await service.get_agent(sleeper.agent.id)).blocks}
    assert len(main_blocks & sleeper_blocks) == 12  # the file shares 12 of its 13 blocks
    (group,) = result.groups
    assert group.manager_type == "sleeptime" and group.enabled
    assert group.manager_agent_id == main.agent.id and group.agent_ids == [sleeper.agent.id]
    assert group.config == {"sleeptime_agent_frequency": 5}
    assert any("runs in the background every few turns" in note for note in result.notes)
    assert (await service.get_agent(main.agent.id)).sleeptime_agent_id == sleeper.agent.id


async def test_tools_are_mapped_or_recorded_inactive_with_a_reason(service: AgentService) -> None:
    path = fixture("co-3.af")
    with anyio.fail_after(10):
        result = await service.import_agent(await read(path))
    main = result.agents[0]
    reasons = {t.name: (t.tool_type, t.reason) for t in main.inactive_tools}
    by_type = {t: [n for n, (tt, _) in reasons.items() if tt == t] for t in ("custom", "external_mcp", "letta_builtin")}
    assert all(by_type.values()), reasons
    assert all("never executes" in reasons[n][1] for n in by_type["custom"])
    assert all("MCP server" in reasons[n][1] for n in by_type["external_mcp"])
    assert main.mapped_tools["memory"] == ["memory_insert", "memory_replace", "memory_rethink"]
    assert {"conversation_search", "memory_replace"} <= set(main.agent.tools)
    custom = next(t for t in main.inactive_tools if t.tool_type == "custom")
    assert custom.source_code  # kept as data, for a later export
    assert main.agent.tool_rules  # kept for the runtime to enforce


async def test_a_tool_listed_twice_is_recorded_once(service: AgentService) -> None:
    doc = await document(fixture("co-3.af"))
    custom = next(t for t in doc["tools"] if t["tool_type"] == "custom")
    doc["tools"].append({**custom, "id": "tool-900"})
    doc["agents"][0]["tool_ids"].append("tool-900")
    with anyio.fail_after(10):
        result = await service.import_agent(json.dumps(doc))
    assert [t.name for t in result.agents[0].inactive_tools].count(custom["name"]) == 1


async def test_block_limits_missing_meaningless_or_exceeded(service: AgentService) -> None:
    doc = await document(fixture("memgpt_agent.af"))
    first, second = doc["blocks"][0], doc["blocks"][1]
    first["limit"], second["limit"] = -5, 3
    with anyio.fail_after(10):
        result = await service.import_agent(json.dumps(doc))
        blocks = {b.label: b for b in (await service.get_agent(result.agents[0].agent.id)).blocks}
    assert blocks[first["label"]].limit == max(service.settings.default_block_limit, len(first["value"]))
    assert blocks[second["label"]].limit == len(second["value"])  # raised so nothing is lost, and said so
    assert any(second["label"] in note and "raised" in note for note in result.notes)
