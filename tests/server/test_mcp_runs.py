"""Runs through MCP: background send_message, polling, cancellation, progress, surviving hang-ups."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from mcp import Client

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import call, reply
from letta_mcp.models import ModelRequest, ModelResponse, RunStatus
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


class GatedModel:
    """A real provider whose answers wait for the test to open a gate (one gate per call)."""

    def __init__(self, *responses: ModelResponse) -> None:
        self.responses = list(responses)
        self.calls = 0
        self.entered = anyio.Event()
        self.called: list[anyio.Event] = [anyio.Event() for _ in responses]  # call i has started
        self.gates: list[anyio.Event] = [anyio.Event() for _ in responses]

    async def complete(self, request: ModelRequest) -> ModelResponse:
        index = self.calls
        self.calls += 1
        self.entered.set()
        self.called[index].set()
        await self.gates[index].wait()
        return self.responses[index]

    def open(self, index: int) -> None:
        self.gates[index].set()

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def gated_service(settings: Settings) -> AsyncIterator[tuple[AgentService, GatedModel]]:
    model = GatedModel(
        call("conversation_search", {"query": "a"}),
        call("conversation_search", {"query": "b"}),
        reply("done"),
        reply("second turn"),
    )
    service = await AgentService.open(settings, providers={"openai": model})
    try:
        yield service, model
    finally:
        for gate in model.gates:
            gate.set()
        await service.close()


async def _wait_status(client: Client, run_id: str, *statuses: str) -> dict:
    """Wait, by subscribing to the run's resource (steps and finished runs notify it), for one of ``statuses``."""
    with anyio.fail_after(10):
        async with client.listen(resource_subscriptions=[f"letta://runs/{run_id}"]) as events:
            # Subscribed first, then read: a run that finished in between is seen by this read.
            run = (await client.call_tool("get_run", {"run_id": run_id})).structured_content
            while run["status"] not in statuses:
                await anext(aiter(events))
                run = (await client.call_tool("get_run", {"run_id": run_id})).structured_content
            return run


async def test_background_send_returns_at_once_and_get_run_reports_the_reply(
    gated_service: tuple[AgentService, GatedModel],
) -> None:
    service, model = gated_service
    async with Client(create_server(service)) as client:
        agent_id = (await client.call_tool("create_agent", {"name": "bg"})).structured_content["id"]
        sent = await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi", "background": True})
        assert sent.structured_content["status"] == "created"
        assert sent.structured_content["reply"] is None
        run_id = sent.structured_content["run_id"]
        await model.entered.wait()
        running = (await client.call_tool("get_run", {"run_id": run_id})).structured_content
        assert running["status"] == "running" and running["input"] == "hi"
        for i in range(3):
            model.open(i)
        done = await _wait_status(client, run_id, "completed")
        assert done["reply"] == "done" and done["stop_reason"] == "end_turn"
        assert [s["index"] for s in done["steps"]] == [0, 1, 2]
        assert done["messages"][0]["message_type"] == "user_message"
        listed = await client.call_tool("list_runs", {"agent_id": agent_id, "status": "completed"})
        assert [r["run_id"] for r in listed.structured_content["runs"]] == [run_id]
        resource = await client.read_resource(f"letta://runs/{run_id}")
        assert '"reply":"done"' in resource.contents[0].text


async def test_cancel_stops_at_the_next_step_boundary(gated_service: tuple[AgentService, GatedModel]) -> None:
    service, model = gated_service
    async with Client(create_server(service)) as client:
        agent_id = (await client.call_tool("create_agent", {"name": "c"})).structured_content["id"]
        sent = await client.call_tool("send_message", {"agent_id": agent_id, "message": "go", "background": True})
        run_id = sent.structured_content["run_id"]
        model.open(0)
        with anyio.fail_after(5):
            await model.called[1].wait()  # the second step's model call is in flight
        cancelled = await client.call_tool("cancel_run", {"run_id": run_id})
        assert cancelled.structured_content["status"] == "running"  # it stops at the boundary, not mid-step
        model.open(1)
        run = await _wait_status(client, run_id, "cancelled")
        assert run["stop_reason"] == "cancelled"
        assert len(run["steps"]) == 2  # the step in flight completed and was kept, whole
        assert model.calls == 2
        # The agent stays usable.
        model.open(3)
        model.responses[2] = reply("still here")
        model.open(2)
        after = await client.call_tool("send_message", {"agent_id": agent_id, "message": "still there?"})
        assert after.structured_content["reply"] == "still here"


async def test_a_queued_run_cancelled_before_it_starts_never_runs(
    gated_service: tuple[AgentService, GatedModel],
) -> None:
    service, model = gated_service
    async with Client(create_server(service)) as client:
        agent_id = (await client.call_tool("create_agent", {"name": "q"})).structured_content["id"]
        first = await client.call_tool("send_message", {"agent_id": agent_id, "message": "one", "background": True})
        second = await client.call_tool("send_message", {"agent_id": agent_id, "message": "two", "background": True})
        await model.entered.wait()
        await client.call_tool("cancel_run", {"run_id": second.structured_content["run_id"]})
        for i in range(3):
            model.open(i)
        await _wait_status(client, first.structured_content["run_id"], "completed")
        run = await _wait_status(client, second.structured_content["run_id"], "cancelled")
        assert run["steps"] == [] and run["input"] == "two"
        assert model.calls == 3


async def test_progress_is_reported_per_step(gated_service: tuple[AgentService, GatedModel]) -> None:
    service, model = gated_service
    for i in range(3):
        model.open(i)
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with Client(create_server(service)) as client:
        agent_id = (await client.call_tool("create_agent", {"name": "p", "max_steps": 10})).structured_content["id"]
        result = await client.call_tool(
            "send_message", {"agent_id": agent_id, "message": "go"}, progress_callback=on_progress
        )
    assert result.structured_content["reply"] == "done"
    assert seen == [(1, 10), (2, 10), (3, 10)]


async def test_a_caller_that_hangs_up_does_not_stop_the_run(gated_service: tuple[AgentService, GatedModel]) -> None:
    service, model = gated_service
    agent = (await service.create_agent(name="h")).agent
    with anyio.move_on_after(0.3):  # the caller gives up while the model is still thinking
        await service.send_message(agent.id, "are you there?")
    runs = await service.list_runs(agent.id)
    assert runs[0].status is RunStatus.running
    for i in range(3):
        model.open(i)
    with anyio.fail_after(5):
        await service.runs.wait(runs[0])
    details = await service.get_run_details(runs[0].id)
    assert details.run.status is RunStatus.completed and details.reply == "done"


async def test_run_subscribers_hear_when_it_finishes(gated_service: tuple[AgentService, GatedModel]) -> None:
    service, model = gated_service
    async with Client(create_server(service)) as client:
        agent_id = (await client.call_tool("create_agent", {"name": "w"})).structured_content["id"]
        sent = await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi", "background": True})
        uri = f"letta://runs/{sent.structured_content['run_id']}"
        async with client.listen(resource_subscriptions=[uri]) as events:
            for i in range(3):
                model.open(i)
            with anyio.fail_after(10):
                # Each committed step notifies the run too; the turn's end is the last notification.
                async for event in events:
                    assert event.uri == uri
                    run = await client.call_tool("get_run", {"run_id": sent.structured_content["run_id"]})
                    if run.structured_content["status"] == "completed":
                        break
