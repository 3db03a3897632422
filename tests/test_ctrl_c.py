"""Ctrl-C stops ``letta-mcp serve`` (stdio) in a real terminal, cleanly: exit 0, and a turn in
flight is marked interrupted with its input message kept (see tests/terminal.py)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pexpect
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, delay, text
from terminal import DEADLINE_S, call, handshake, request, spawn_server, stop_with_ctrl_c


@pytest.fixture
def terminal_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[pexpect.spawn]:
    """``letta-mcp serve`` on a pseudo-terminal, ready (it logged that it is serving)."""
    child = spawn_server(tmp_path / "data", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url)
    try:
        child.expect("serving .* over stdio")
        yield child
    finally:
        child.close(force=True)


def test_a_person_in_a_terminal_is_told_what_the_server_waits_for(terminal_server: pexpect.spawn) -> None:
    terminal_server.expect_exact("(waiting for an MCP client on stdin; Ctrl-C stops)")
    stop_with_ctrl_c(terminal_server)


def test_ctrl_c_stops_an_idle_stdio_server(terminal_server: pexpect.spawn) -> None:
    handshake(terminal_server)
    output = stop_with_ctrl_c(terminal_server)
    assert "Traceback" not in output
    assert "stopped (Ctrl-C)" in output


def test_ctrl_c_during_a_turn_marks_it_interrupted_and_keeps_the_message(
    tmp_path: Path, fake_openai: FakeOpenAI, terminal_server: pexpect.spawn
) -> None:
    fake_openai.script(delay(DEADLINE_S * 4, text("too late")))  # a model slower than any deadline here
    handshake(terminal_server)
    created = call(terminal_server, 2, "tools/call", {"name": "create_agent", "arguments": {"name": "sam"}})
    agent_id = created["structuredContent"]["id"]
    arguments = {"agent_id": agent_id, "message": "My name is Sarah"}
    request(terminal_server, 3, "tools/call", {"name": "send_message", "arguments": arguments})

    async def model_called() -> None:
        with anyio.fail_after(DEADLINE_S):
            await fake_openai.wait_for_requests(1)

    anyio.run(model_called)
    output = stop_with_ctrl_c(terminal_server)
    assert "Traceback" not in output
    assert not re.search(r'"id":3,"result"', output)  # the turn did not finish (an error answer may come)

    async def runs_and_history() -> tuple[dict[str, object], dict[str, object]]:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data")],
            env={"LETTA_MCP_LOG_LEVEL": "WARNING"},
        )
        with anyio.fail_after(DEADLINE_S):
            async with Client(params) as client:
                runs = await client.call_tool("list_runs", {"agent_id": agent_id})
                messages = await client.call_tool("list_messages", {"agent_id": agent_id})
        return runs.structured_content, messages.structured_content

    runs, messages = anyio.run(runs_and_history)
    (run,) = runs["runs"]
    assert run["status"] == "interrupted"
    assert "My name is Sarah" in [m.get("content") for m in messages["messages"]]
