"""``import_agent`` and ``compact_context`` as tasks over Streamable HTTP (tool tasks: no run, the
answer kept in its own row). The server's threshold is 0 s, so a call from a client that declared
the extension is a task whatever the machine's speed; clients without it get the plain answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from http_harness import ServerProcess, hash_token, start_server
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult
from task_client import AGENT_FILE, TasksClient, cancel_task, ended, get_task, listen_tasks
from task_http import connect, new_agent

from fake_openai import FakeOpenAI

pytestmark = pytest.mark.anyio

ALWAYS_A_TASK = """
[tasks]
threshold_s = 0
poll_interval_ms = 20
"""


@pytest.fixture
def eager_server(tmp_path: Path, model: FakeOpenAI) -> Iterator[ServerProcess]:
    server = start_server(tmp_path / "data", model.base_url, config=ALWAYS_A_TASK)
    yield server
    server.stop()


def without_ids(value: Any) -> Any:
    """``value`` with every id left out: two imports of one file differ only in the new ids."""
    if isinstance(value, dict):
        return {
            k: without_ids(v) for k, v in value.items() if k not in ("id", "agent_id", "agent_ids", "manager_agent_id")
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


async def test_import_agent_as_a_task_answers_as_the_plain_call_and_outlives_a_restart(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    document = AGENT_FILE.read_text(encoding="utf-8")
    tasks = TasksClient()
    server = start_server(tmp_path / "data", model.base_url, config=ALWAYS_A_TASK)
    try:
        with anyio.fail_after(60):
            async with connect(server.mcp_url, tasks) as client:
                via_task = await client.call_tool("import_agent", {"document": document})
                agent = await client.call_tool("get_agent", {"agent_id": via_task.structured_content["agent_id"]})
            async with connect(server.mcp_url) as plain_client:
                plain = await plain_client.call_tool("import_agent", {"document": document})
    finally:
        server.stop()
    [created] = tasks.created
    assert created.task_id.startswith("tooltask-") and created.status == "working"
    assert not via_task.is_error and not agent.is_error, (via_task.content, agent.content)
    assert via_task.structured_content is not None and plain.structured_content is not None
    assert without_ids(via_task.structured_content) == without_ids(plain.structured_content)
    assert via_task.structured_content["agent_id"] != plain.structured_content["agent_id"]  # two imports
    # The answer was kept: a fresh process on the same data returns it unchanged.
    server = start_server(tmp_path / "data", model.base_url, config=ALWAYS_A_TASK)
    try:
        with anyio.fail_after(60):
            async with connect(server.mcp_url, TasksClient()) as client:
                state = await get_task(client.session, created.task_id)
    finally:
        server.stop()
    assert state.status == "completed"
    assert CallToolResult.model_validate(state.result) == via_task


async def test_compact_context_as_a_task_answers_as_the_plain_call(
    eager_server: ServerProcess, model: FakeOpenAI
) -> None:
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(eager_server.mcp_url, tasks) as client:
            agent_id = await new_agent(client)
            via_task = await client.call_tool("compact_context", {"agent_id": agent_id})
        async with connect(eager_server.mcp_url) as plain_client:
            plain = await plain_client.call_tool("compact_context", {"agent_id": agent_id})
    assert [t.task_id[: len("tooltask-")] for t in tasks.created] == ["tooltask-"]
    assert not via_task.is_error, via_task.content
    # Nothing to evict in a new agent, and nothing changed in between: the very same answer.
    assert via_task.structured_content == plain.structured_content
    assert via_task.structured_content is not None and via_task.structured_content["compacted"] is False


async def test_a_tool_task_is_heard_when_it_finishes_and_cancel_is_only_acknowledged(
    eager_server: ServerProcess,
) -> None:
    document = AGENT_FILE.read_text(encoding="utf-8")
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(eager_server.mcp_url, tasks) as client:
            created = await client.session.call_tool("import_agent", {"document": document}, allow_claimed=True)
            async with listen_tasks(client.session, [created.task_id]):
                notified = await tasks.wait_notified(created.task_id, ended)
            await cancel_task(client.session, created.task_id)  # one transaction: acknowledged, not honoured
            after = await get_task(client.session, created.task_id)
    assert notified[-1].status == "completed" and notified[-1].result is not None
    assert notified[-1].result["structuredContent"]["agents"][0]["name"]
    assert after.status == "completed" and after.result == notified[-1].result


async def test_another_principals_tool_task_reads_as_unknown(tmp_path: Path, model: FakeOpenAI, tokens: Any) -> None:
    document = AGENT_FILE.read_text(encoding="utf-8")
    users = f"""
[auth.tokens]
"{hash_token(tokens.alice)}" = "alice"
"{hash_token(tokens.bob)}" = "bob"
"""
    server = start_server(tmp_path / "data", model.base_url, config=ALWAYS_A_TASK + users)
    try:
        with anyio.fail_after(60):
            async with connect(server.mcp_url, TasksClient(), token=tokens.alice) as alice:
                created = await alice.session.call_tool("import_agent", {"document": document}, allow_claimed=True)
                async with connect(server.mcp_url, TasksClient(), token=tokens.bob) as bob:
                    for call in (get_task, cancel_task):
                        with pytest.raises(MCPError) as unknown:
                            await call(bob.session, created.task_id)
                        assert unknown.value.error.code == INVALID_PARAMS
                assert (await get_task(alice.session, created.task_id)).task_id == created.task_id
    finally:
        server.stop()
