"""The Tasks extension over Streamable HTTP, against real ``letta-mcp serve`` subprocesses
(`task_http` says how the turns are made slower than the task threshold)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from http_harness import ServerProcess, start_server
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from task_client import TasksClient, TaskState, cancel_task, ended, get_task, poll, update_task
from task_http import TASK_CONFIG, connect, new_agent, start_task

from fake_openai import FakeOpenAI, delay, error, text, tool_call

pytestmark = pytest.mark.anyio


async def test_slow_turn_becomes_a_task_and_completes(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(delay(1.0, text("a considered answer")))
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, tasks) as client:
            agent_id = await new_agent(client)
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "think hard"})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["reply"] == "a considered answer"
            assert result.structured_content["status"] == "completed"
            [created] = tasks.created
            assert created.task_id == result.structured_content["run_id"]  # the task is the run
            assert created.status == "working"
            assert created.ttl_ms == 3_600_000 and created.poll_interval_ms == 20
            # The task row was committed before the answer: the first poll already resolves.
            assert tasks.seen[-1].status == "completed"
            run = await client.call_tool("get_run", {"run_id": created.task_id})
            assert run.structured_content is not None and run.structured_content["reply"] == "a considered answer"


async def test_working_task_reports_its_step_and_last_tool(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(
        tool_call("conversation_search", {"query": "tea"}),
        delay(1.0, text("found nothing")),
    )
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "what did I say about tea?")
            working = await poll(
                client.session, created.task_id, lambda s: "conversation_search" in (s.status_message or "")
            )
            assert working.status == "working"
            assert working.status_message == "Step 1 of at most 50; last tool called: conversation_search."
            done = await poll(client.session, created.task_id, ended)
            assert done.status == "completed"
            assert done.result is not None and done.result["structuredContent"]["reply"] == "found nothing"


async def test_client_without_the_extension_gets_the_plain_result(
    task_server: ServerProcess, model: FakeOpenAI
) -> None:
    model.reset()
    model.script(delay(1.0, text("plain and slow")))
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url) as client:
            agent_id = await new_agent(client)
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "hello"})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["reply"] == "plain and slow"
            assert result.structured_content["status"] == "completed"
            # background=true keeps today's answer too: the run, not a task.
            model.script(text("later"))
            queued = await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi", "background": True})
            assert queued.structured_content is not None and queued.structured_content["reply"] is None
            await model.wait_for_requests(2)  # the queued turn took its answer before the next test scripts
            # tasks/* are refused to a client that did not declare the extension.
            with pytest.raises(MCPError) as refused:
                await get_task(client.session, queued.structured_content["run_id"])
            assert refused.value.error.code == -32021


async def test_task_result_is_what_send_message_returns(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(delay(0.5, text("same either way")), text("same either way"))
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            agent_id = await new_agent(client)
            via_task = await client.call_tool("send_message", {"agent_id": agent_id, "message": "one"})
        async with connect(task_server.mcp_url) as client:
            plain = await client.call_tool("send_message", {"agent_id": agent_id, "message": "two"})
    assert via_task.structured_content is not None and plain.structured_content is not None
    assert via_task.structured_content.keys() == plain.structured_content.keys()
    assert [m["message_type"] for m in via_task.structured_content["messages"]] == [
        m["message_type"] for m in plain.structured_content["messages"]
    ]
    assert via_task.content[0].type == plain.content[0].type == "text"


async def test_cancel_a_task(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(delay(1.5, tool_call("conversation_search", {"query": "x"})), text("never sent"))
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "start something long")
            await cancel_task(client.session, created.task_id)
            state = await poll(client.session, created.task_id, ended)
            assert state.status == "cancelled"
            assert state.status_message
            assert model.remaining == 1  # stopped at the step boundary: the second model call never came


async def test_unknown_task_is_invalid_params(task_server: ServerProcess) -> None:
    with anyio.fail_after(30):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            with pytest.raises(MCPError) as unknown:
                await get_task(client.session, "run-does-not-exist")
            assert unknown.value.error.code == INVALID_PARAMS
            assert "Task not found" in unknown.value.error.message


async def test_approval_through_input_required(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}), text("Noted."))
    asked: list[TaskState] = []

    async def approve(state: TaskState) -> dict[str, Any]:
        asked.append(state)
        [key] = state.input_requests or {}
        return {key: {"action": "accept", "content": {"approve": True}}}

    tasks = TasksClient(answer=approve)
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, tasks) as client:
            agent_id = await new_agent(
                client, tool_rules=[{"type": "requires_approval", "tool_name": "core_memory_append"}]
            )
            # Not background: the turn pauses within the threshold and still becomes a task.
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "I like tea"})
            assert result.structured_content is not None
            assert result.structured_content["reply"] == "Noted."
            [state] = asked
            assert state.status == "input_required"
            [request] = (state.input_requests or {}).values()
            assert request["method"] == "elicitation/create"
            assert "core_memory_append" in request["params"]["message"]
            assert request["params"]["requestedSchema"]["required"] == ["approve"]
            memory = await client.call_tool("get_memory", {"agent_id": agent_id})
            assert "Likes tea." in str(memory.structured_content)


async def test_denied_approval_tells_the_agent(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(tool_call("core_memory_append", {"label": "human", "content": "Secret."}), text("Understood."))

    async def deny(state: TaskState) -> dict[str, Any]:
        [key] = state.input_requests or {}
        return {key: {"action": "decline"}}

    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient(answer=deny)) as client:
            agent_id = await new_agent(
                client, tool_rules=[{"type": "requires_approval", "tool_name": "core_memory_append"}]
            )
            result = await client.call_tool(
                "send_message", {"agent_id": agent_id, "message": "remember this", "background": True}
            )
            assert result.structured_content is not None and result.structured_content["reply"] == "Understood."
            memory = await client.call_tool("get_memory", {"agent_id": agent_id})
            assert "Secret." not in str(memory.structured_content)


async def test_another_principals_task_reads_as_unknown(
    auth_server: ServerProcess, model: FakeOpenAI, tokens: Any
) -> None:
    model.reset()
    model.script(delay(1.0, text("for alice only")))
    with anyio.fail_after(60):
        async with connect(auth_server.mcp_url, TasksClient(), token=tokens.alice) as alice:
            agent_id = await new_agent(alice)
            created = await start_task(alice, agent_id, "private", background=True)
            async with connect(auth_server.mcp_url, TasksClient(), token=tokens.bob) as bob:
                for call in (get_task, cancel_task):
                    with pytest.raises(MCPError) as unknown:
                        await call(bob.session, created.task_id)
                    assert unknown.value.error.code == INVALID_PARAMS
            state = await poll(alice.session, created.task_id, ended)
            assert state.status == "completed"  # bob's cancel changed nothing


async def test_restart_in_the_middle_of_polling(tmp_path: Path, model: FakeOpenAI) -> None:
    """A finished task's result outlives the server; a turn the restart cut short reads cancelled."""
    model.reset()
    model.script(delay(0.5, text("kept on disk")), delay(30, text("cut short")))
    data_dir = tmp_path / "data"
    server = start_server(data_dir, model.base_url, config=TASK_CONFIG)
    try:
        with anyio.fail_after(60):
            async with connect(server.mcp_url, TasksClient()) as client:
                agent_id = await new_agent(client)
                done = await start_task(client, agent_id, "first")
                assert (await poll(client.session, done.task_id, ended)).status == "completed"
                cut = await start_task(client, agent_id, "second")
                await model.wait_for_requests(2)  # the second turn is waiting for its model
                assert (await get_task(client.session, cut.task_id)).status == "working"
    finally:
        server.stop()
    server = start_server(data_dir, model.base_url, config=TASK_CONFIG)
    try:
        with anyio.fail_after(60):
            async with connect(server.mcp_url, TasksClient()) as client:
                state = await get_task(client.session, done.task_id)
                assert state.status == "completed"
                assert state.result is not None and state.result["structuredContent"]["reply"] == "kept on disk"
                interrupted = await get_task(client.session, cut.task_id)
                assert interrupted.status == "cancelled"
                assert interrupted.status_message is not None and interrupted.status_message.startswith("Interrupted")
    finally:
        server.stop()


async def test_model_failure_completes_with_the_tool_error(task_server: ServerProcess, model: FakeOpenAI) -> None:
    """A turn whose model failed is an outcome the tool reports (is_error), so the task completes
    with that result; `failed` is kept for JSON-RPC faults."""
    model.reset()
    model.script(delay(1.0, error(400)))
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, tasks) as client:
            agent_id = await new_agent(client)
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "fail please"})
    assert tasks.created, "the turn should have become a task"
    assert result.is_error
    assert "could not reply because its model" in result.content[0].text


async def test_bad_approval_answer_is_refused_and_changes_nothing(
    task_server: ServerProcess, model: FakeOpenAI
) -> None:
    model.reset()
    model.script(tool_call("core_memory_append", {"label": "human", "content": "Maybe."}), text("Done."))
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            agent_id = await new_agent(
                client, tool_rules=[{"type": "requires_approval", "tool_name": "core_memory_append"}]
            )
            created = await start_task(client, agent_id, "remember maybe", background=True)
            paused = await poll(client.session, created.task_id, lambda s: s.status == "input_required")
            [key] = paused.input_requests or {}
            with pytest.raises(MCPError) as refused:
                await update_task(client.session, created.task_id, {key: {"action": "accept", "content": {}}})
            assert refused.value.error.code == INVALID_PARAMS
            assert "approve" in refused.value.error.message
            # An answer under a key that is not outstanding is ignored, as the spec asks.
            await update_task(client.session, created.task_id, {"approve:other": {"action": "decline"}})
            still = await get_task(client.session, created.task_id)
            assert still.status == "input_required" and still.input_requests == paused.input_requests
            await update_task(
                client.session, created.task_id, {key: {"action": "accept", "content": {"approve": True}}}
            )
            done = await poll(client.session, created.task_id, ended)
            assert done.status == "completed"
            assert done.result is not None and done.result["structuredContent"]["reply"] == "Done."


async def test_approve_run_becomes_a_task_too(task_server: ServerProcess, model: FakeOpenAI) -> None:
    model.reset()
    model.script(
        tool_call("core_memory_append", {"label": "human", "content": "Approved later."}),
        delay(1.0, text("Saved it.")),
    )
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url) as plain:
            agent_id = await new_agent(
                plain, tool_rules=[{"type": "requires_approval", "tool_name": "core_memory_append"}]
            )
            paused = await plain.call_tool("send_message", {"agent_id": agent_id, "message": "note this"})
            assert paused.structured_content is not None
            assert paused.structured_content["status"] == "requires_approval"
        async with connect(task_server.mcp_url, tasks) as client:
            run_id = paused.structured_content["run_id"]
            result = await client.call_tool("approve_run", {"run_id": run_id, "approve": True})
    assert [t.task_id for t in tasks.created] == [run_id]
    assert result.structured_content is not None and result.structured_content["reply"] == "Saved it."
