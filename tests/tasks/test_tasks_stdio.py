"""The Tasks extension over stdio: real ``letta-mcp serve`` subprocesses sharing one data directory."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from task_client import (
    AGENT_FILE,
    TASKS,
    CreateTaskResult,
    TasksClient,
    cancel_task,
    ended,
    get_task,
    listen_tasks,
    poll,
)

from fake_openai import FakeOpenAI, delay, text, tool_call

pytestmark = pytest.mark.anyio


def stdio_server(data_dir: Path, base_url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir)],
        env={
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": base_url,
            "LETTA_MCP_LOG_LEVEL": "WARNING",
            "LETTA_MCP_TASKS__THRESHOLD_S": "0.2",
            "LETTA_MCP_TASKS__POLL_INTERVAL_MS": "20",
        },
    )


async def new_agent(client: Client) -> str:
    created = await client.call_tool("create_agent", {"name": "tasker"})
    assert created.structured_content is not None, created.content
    return str(created.structured_content["id"])


async def start_task(client: Client, agent_id: str, message: str) -> CreateTaskResult:
    created = await client.session.call_tool(
        "send_message", {"agent_id": agent_id, "message": message}, allow_claimed=True
    )
    assert isinstance(created, CreateTaskResult), created
    return created


async def test_slow_turn_becomes_a_task_and_a_plain_client_waits(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(delay(1.0, text("slow over stdio")), delay(1.0, text("plain over stdio")))
    server = stdio_server(tmp_path / "data", fake_openai.base_url)
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with Client(server, extensions=[tasks]) as client:
            capabilities = client.session.server_capabilities
            assert capabilities is not None and TASKS in (capabilities.extensions or {})
            agent_id = await new_agent(client)
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "one"})
            assert result.structured_content is not None
            assert result.structured_content["reply"] == "slow over stdio"
            assert [t.task_id for t in tasks.created] == [result.structured_content["run_id"]]
        async with Client(server) as client:
            plain = await client.call_tool("send_message", {"agent_id": agent_id, "message": "two"})
            assert plain.structured_content is not None
            assert plain.structured_content["reply"] == "plain over stdio"


async def test_cancel_over_stdio(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(delay(1.5, tool_call("conversation_search", {"query": "x"})), text("never sent"))
    with anyio.fail_after(60):
        async with Client(stdio_server(tmp_path / "data", fake_openai.base_url), extensions=[TasksClient()]) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "long")
            await cancel_task(client.session, created.task_id)
            state = await poll(client.session, created.task_id, ended)
            assert state.status == "cancelled"
            assert fake_openai.remaining == 1


async def test_another_process_and_a_restarted_one_answer_the_task(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """Polling moves from the process running the turn to another one on the same data directory,
    then to a fresh process after both stopped: every one answers the same task."""
    fake_openai.script(delay(1.0, text("from the shared store")))
    server = stdio_server(tmp_path / "data", fake_openai.base_url)
    with anyio.fail_after(90):
        async with Client(server, extensions=[TasksClient()]) as runner:
            agent_id = await new_agent(runner)
            created = await start_task(runner, agent_id, "who answers?")
            async with Client(server, extensions=[TasksClient()]) as other:
                state = await poll(other.session, created.task_id, ended)
                assert state.status == "completed"
        async with Client(server, extensions=[TasksClient()]) as restarted:
            state = await get_task(restarted.session, created.task_id)
            assert state.status == "completed"
            assert state.result is not None
            assert state.result["structuredContent"]["reply"] == "from the shared store"


async def test_a_turn_under_the_threshold_answers_plainly(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text("quick"))
    server = stdio_server(tmp_path / "data", fake_openai.base_url)
    server.env = {**(server.env or {}), "LETTA_MCP_TASKS__THRESHOLD_S": "60"}
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with Client(server, extensions=[tasks]) as client:
            agent_id = await new_agent(client)
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": "fast"})
            compacted = await client.call_tool("compact_context", {"agent_id": agent_id})
    assert result.structured_content is not None and result.structured_content["reply"] == "quick"
    assert compacted.structured_content is not None and compacted.structured_content["compacted"] is False
    assert tasks.created == []
    with sqlite3.connect(tmp_path / "data" / "letta.db") as db:  # a quick tool call leaves no task row
        assert db.execute("SELECT count(*) FROM tool_tasks").fetchone() == (0,)


async def test_task_notifications_over_stdio(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(delay(1.0, tool_call("conversation_search", {"query": "x"})), delay(1.0, text("heard")))
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with Client(stdio_server(tmp_path / "data", fake_openai.base_url), extensions=[tasks]) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "tell me when you are done")
            async with listen_tasks(client.session, [created.task_id]):
                notified = await tasks.wait_notified(created.task_id, ended)
    assert [n.status for n in notified][-1] == "completed"
    assert {n.status for n in notified[:-1]} == {"working"}
    assert any(n.status_message == "Step 1 of at most 50; last tool called: conversation_search." for n in notified)
    assert notified[-1].result is not None and notified[-1].result["structuredContent"]["reply"] == "heard"


async def test_import_agent_as_a_task_over_stdio(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    server = stdio_server(tmp_path / "data", fake_openai.base_url)
    server.env = {**(server.env or {}), "LETTA_MCP_TASKS__THRESHOLD_S": "0"}  # always a task
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with Client(server, extensions=[tasks]) as client:
            result = await client.call_tool("import_agent", {"document": AGENT_FILE.read_text(encoding="utf-8")})
            assert result.structured_content is not None, result.content
            agent = await client.call_tool("get_agent", {"agent_id": result.structured_content["agent_id"]})
    [created] = tasks.created
    assert created.task_id.startswith("tooltask-")
    assert tasks.seen[-1].status == "completed"
    assert not agent.is_error, agent.content
