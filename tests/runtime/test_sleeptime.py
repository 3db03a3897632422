"""Sleep-time agents: a memory agent that runs every N turns in the background, edits the blocks it
shares with the main agent, never delays it, and retries what a failed run left unseen."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import anyio
import pytest
from mcp import Client

from letta_mcp.config import Settings
from letta_mcp.llm.errors import LLMServerError
from letta_mcp.llm.scripted import call, reply
from letta_mcp.models import ModelRequest, ModelResponse, Role, RunStatus
from letta_mcp.server import create_server
from letta_mcp.service import AgentService, Change, InvalidRequestError
from server.mcp_helpers import ok

pytestmark = pytest.mark.anyio

_FACT = re.compile(r"user: (FACT-\d+)")


class Brains:
    """The model of both agents. The main agent just acknowledges; the sleep-time agent stores
    every FACT-n of its transcript in the shared 'human' block, then finishes. Its calls can be
    held at a gate or made to fail."""

    def __init__(self) -> None:
        self.gate: anyio.Event | None = None
        self.failures = 0
        self.transcripts: list[str] = []
        self.main_prompts: list[str] = []

    async def complete(self, request: ModelRequest) -> ModelResponse:
        system = request.messages[0].content or ""
        if "sleep-time memory agent" not in system:
            self.main_prompts.append(system)
            return reply("ok")
        last = request.messages[-1]
        if last.role is Role.tool:  # its edit is done
            return call("memory_finish_edits", {})
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise LLMServerError("the sleep-time model is down")
        self.transcripts.append(last.content or "")
        facts = _FACT.findall(last.content or "")
        return call("memory_insert", {"label": "human", "new_string": " ".join(facts)})

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def brains_service(settings: Settings) -> AsyncIterator[tuple[AgentService, Brains]]:
    brains = Brains()
    service = await AgentService.open(settings, providers={"openai": brains})
    try:
        yield service, brains
    finally:
        if brains.gate is not None:
            brains.gate.set()
        await service.close()


class SleeperRuns:
    """Counts finished runs of one agent, as change events (no polling)."""

    def __init__(self, service: AgentService) -> None:
        self.agent_id = ""
        self.finished = 0
        self._changed = anyio.Event()
        service.on_change(self._on_change)

    async def _on_change(self, change: Change) -> None:
        if change.agent_id == self.agent_id and change.run_id:
            self.finished += 1
            self._changed.set()

    async def wait_for(self, count: int) -> None:
        with anyio.fail_after(20):
            while self.finished < count:
                await self._changed.wait()
                self._changed = anyio.Event()


async def test_runs_every_n_turns_and_its_edit_reaches_the_main_agent(
    brains_service: tuple[AgentService, Brains],
) -> None:
    service, brains = brains_service
    sleeper_runs = SleeperRuns(service)
    main = await service.create_agent(name="sam", enable_sleeptime=True, sleeptime_agent_frequency=2)
    sleeper = main.sleeptime_agent_id
    assert sleeper is not None
    sleeper_runs.agent_id = sleeper
    sleeper_details = await service.get_agent(sleeper)
    assert sleeper_details.agent.name == "sam-sleeptime"
    shared = {b.id for b in main.blocks}
    assert shared <= {b.id for b in sleeper_details.blocks}  # the same blocks, not copies
    assert "memory_persona" in [b.label for b in sleeper_details.blocks]

    first = await service.send_message(main.agent.id, "FACT-1")
    assert await service.list_runs(sleeper) == []  # 1 turn of 2
    second = await service.send_message(main.agent.id, "FACT-2")
    await sleeper_runs.wait_for(1)
    [run] = await service.list_runs(sleeper)
    assert run.parent_run_id == second.run.id and run.background and run.status is RunStatus.completed
    assert "FACT-1" in brains.transcripts[0] and "FACT-2" in brains.transcripts[0]
    assert first.run.id != second.run.id

    await service.send_message(main.agent.id, "anything new?")
    assert "FACT-1 FACT-2" in brains.main_prompts[-1]  # the shared block, as the main agent sees it
    await service.send_message(main.agent.id, "FACT-3")
    await sleeper_runs.wait_for(2)
    assert "FACT-1" not in brains.transcripts[1] and "FACT-3" in brains.transcripts[1]  # only what is new


async def test_it_never_delays_the_main_agent(brains_service: tuple[AgentService, Brains]) -> None:
    service, brains = brains_service
    brains.gate = anyio.Event()
    main = await service.create_agent(name="sam", enable_sleeptime=True, sleeptime_agent_frequency=1)
    sleeper_runs = SleeperRuns(service)
    sleeper_runs.agent_id = main.sleeptime_agent_id or ""
    with anyio.fail_after(20):
        for i in range(3):  # each turn triggers a sleep-time run that stays blocked at the gate
            result = await service.send_message(main.agent.id, f"FACT-{i}")
            assert result.reply == "ok"
    runs = await service.list_runs(main.sleeptime_agent_id or "")
    assert sorted(r.status.value for r in runs) == ["created", "created", "running"]
    brains.gate.set()
    await sleeper_runs.wait_for(3)


async def test_a_failed_run_is_visible_and_its_transcript_is_retried(
    brains_service: tuple[AgentService, Brains],
) -> None:
    service, brains = brains_service
    brains.failures = 1
    main = await service.create_agent(name="sam", enable_sleeptime=True, sleeptime_agent_frequency=1)
    sleeper = main.sleeptime_agent_id or ""
    sleeper_runs = SleeperRuns(service)
    sleeper_runs.agent_id = sleeper
    await service.send_message(main.agent.id, "FACT-1")
    await sleeper_runs.wait_for(1)
    [failed] = await service.list_runs(sleeper)
    assert failed.status is RunStatus.failed and "down" in (failed.error or "")
    await service.send_message(main.agent.id, "FACT-2")
    await sleeper_runs.wait_for(2)
    assert "FACT-1" in brains.transcripts[0] and "FACT-2" in brains.transcripts[0]  # nothing went unseen


async def test_disable_and_delete(brains_service: tuple[AgentService, Brains]) -> None:
    service, _ = brains_service
    main = await service.create_agent(name="sam", enable_sleeptime=True, sleeptime_agent_frequency=1)
    sleeper = main.sleeptime_agent_id or ""
    await service.update_agent(main.agent.id, enable_sleeptime=False)
    assert (await service.get_agent(main.agent.id)).sleeptime_agent_id is None
    await service.send_message(main.agent.id, "FACT-1")
    assert await service.list_runs(sleeper) == []
    await service.update_agent(main.agent.id, enable_sleeptime=True)
    assert (await service.get_agent(main.agent.id)).sleeptime_agent_id == sleeper  # the same companion
    await service.delete_agent(main.agent.id)
    assert [a.id for a in await service.list_agents()] == []


async def test_enabled_through_mcp(brains_service: tuple[AgentService, Brains]) -> None:
    service, _ = brains_service
    async with Client(create_server(service)) as client:
        created = ok(await client.call_tool("create_agent", {"name": "sam", "enable_sleeptime": True}))
        assert created["sleeptime_agent_id"].startswith("agent-")
        plain = ok(await client.call_tool("create_agent", {"name": "plain"}))
        assert plain["sleeptime_agent_id"] is None
        ok(await client.call_tool("update_agent", {"agent_id": plain["id"], "enable_sleeptime": True}))
        assert ok(await client.call_tool("get_agent", {"agent_id": plain["id"]}))["sleeptime_agent_id"]


async def test_an_agent_thinking_with_the_clients_model_cannot_sleep(
    brains_service: tuple[AgentService, Brains],
) -> None:
    service, _ = brains_service
    with pytest.raises(InvalidRequestError, match="no MCP client can lend its model"):
        await service.create_agent(name="c", model="client", enable_sleeptime=True)
    assert await service.list_agents() == []
