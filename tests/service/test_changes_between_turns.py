"""Client changes to an agent wait for its turn in flight, and never reveal another principal's busy agent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import reply
from letta_mcp.models import ModelRequest, ModelResponse
from letta_mcp.service import AgentService, NotFoundError
from letta_mcp.service.access import Principal, acting_as

pytestmark = pytest.mark.anyio

ALICE, BOB = Principal("alice"), Principal("bob")


class SlowModel:
    """A real provider whose one answer waits until the test opens the gate."""

    def __init__(self) -> None:
        self.called, self.gate = anyio.Event(), anyio.Event()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.called.set()
        await self.gate.wait()
        return reply("done")

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def slow() -> SlowModel:
    return SlowModel()


@pytest.fixture
async def busy_agent(settings: Settings, slow: SlowModel) -> AsyncIterator[tuple[AgentService, str]]:
    """Alice's agent, in the middle of a turn whose model call has not answered yet."""
    service = await AgentService.open(settings, providers={"openai": slow})
    try:
        with acting_as(ALICE):
            agent = (await service.create_agent(name="busy")).agent
            await service.send_message(agent.id, "think slowly", background=True)
        with anyio.fail_after(5):
            await slow.called.wait()
        yield service, agent.id
    finally:
        slow.gate.set()
        await service.close()


async def test_another_principal_changing_a_busy_agent_gets_not_found_at_once(
    busy_agent: tuple[AgentService, str],
) -> None:
    service, agent_id = busy_agent
    with acting_as(BOB), anyio.fail_after(5):  # waiting for Alice's turn would show the agent exists
        with pytest.raises(NotFoundError, match="No agent with id"):
            await service.update_agent(agent_id, name="mine now")
        with pytest.raises(NotFoundError, match="No agent with id"):
            await service.delete_agent(agent_id)
        with pytest.raises(NotFoundError, match="No agent with id"):
            await service.update_block(agent_id, "human", value="bob was here")


async def test_a_block_update_waits_for_the_turn_in_flight(
    busy_agent: tuple[AgentService, str], slow: SlowModel
) -> None:
    service, agent_id = busy_agent
    with acting_as(ALICE), anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: service.update_block(agent_id, "human", value="Alice, between turns"))
            slow.gate.set()
        [turn] = await service.list_runs(agent_id)
        block = await service.get_block(agent_id, "human")
    assert block.value == "Alice, between turns"
    assert turn.completed_at is not None and block.updated_at >= turn.completed_at
