"""Ctrl-C stops ``letta-mcp serve`` (stdio) in a real terminal: a pseudo-terminal whose line
discipline turns Ctrl-C into SIGINT for the server, as a shell's terminal does.

The server speaks JSON-RPC lines on the terminal (echo off), like a person pasting them would.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pexpect
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, delay, text

DEADLINE_S = 30  # pexpect's timeout: every expected output must come within this


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    return {**env, "LETTA_MCP_LOG_LEVEL": "INFO", **extra}


@pytest.fixture
def terminal_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[pexpect.spawn]:
    """``letta-mcp serve`` on a pseudo-terminal, ready (it logged that it is serving)."""
    env = clean_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data")],
        env=env,
        encoding="utf-8",
        timeout=DEADLINE_S,
    )
    try:
        child.setecho(False)
        child.expect("serving .* over stdio")
        yield child
    finally:
        child.close(force=True)


def request(child: pexpect.spawn, request_id: int, method: str, params: dict[str, object]) -> None:
    child.sendline(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))


def call(child: pexpect.spawn, request_id: int, method: str, params: dict[str, object]) -> dict[str, object]:
    """Send a request and return its result (the JSON line answering ``request_id``)."""
    request(child, request_id, method, params)
    child.expect(rf'\{{[^\n]*"id":{request_id}[,}}][^\n]*\r\n')
    answer = json.loads(child.after.strip())
    assert "result" in answer, answer
    return answer["result"]


def handshake(child: pexpect.spawn) -> None:
    call(
        child,
        1,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "terminal", "version": "0"}},
    )
    child.sendline(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))


def stop_with_ctrl_c(child: pexpect.spawn) -> None:
    child.sendintr()  # the terminal's interrupt character: the line discipline sends SIGINT
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus is None, f"killed by signal {child.signalstatus}"
    assert child.exitstatus == 0, child.before


def test_ctrl_c_stops_an_idle_stdio_server(terminal_server: pexpect.spawn) -> None:
    handshake(terminal_server)
    stop_with_ctrl_c(terminal_server)
    assert "Traceback" not in terminal_server.before
    assert "stopped (Ctrl-C)" in terminal_server.before


def test_ctrl_c_during_a_turn_marks_it_interrupted_and_keeps_the_message(
    tmp_path: Path, fake_openai: FakeOpenAI, terminal_server: pexpect.spawn
) -> None:
    fake_openai.script(delay(DEADLINE_S * 4, text("too late")))  # a model slower than any deadline here
    handshake(terminal_server)
    created = call(terminal_server, 2, "tools/call", {"name": "create_agent", "arguments": {"name": "sam"}})
    agent_id = created["structuredContent"]["id"]
    request(
        terminal_server,
        3,
        "tools/call",
        {"name": "send_message", "arguments": {"agent_id": agent_id, "message": "My name is Sarah"}},
    )

    async def model_called() -> None:
        with anyio.fail_after(DEADLINE_S):
            await fake_openai.wait_for_requests(1)

    anyio.run(model_called)
    stop_with_ctrl_c(terminal_server)
    assert "Traceback" not in terminal_server.before
    assert not re.search(r'"id":3[,}]', terminal_server.before)  # the turn did not finish

    async def history() -> tuple[dict[str, object], dict[str, object]]:
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

    runs, messages = anyio.run(history)
    (run,) = runs["runs"]
    assert run["status"] == "interrupted"
    assert "My name is Sarah" in [m.get("content") for m in messages["messages"]]
