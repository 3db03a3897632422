"""``letta-mcp chat`` in a real pseudo-terminal, as a person uses it, against the fake
OpenAI-compatible server (real ``openai`` client, real HTTP) and beside a running ``letta-mcp serve``
on the same data directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pexpect
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, delay, remember, text
from terminal import DEADLINE_S, call, handshake, spawn_server, stop_with_ctrl_c


def spawn_chat(data_dir: Path, *args: str, **env: str) -> pexpect.spawn:
    """``letta-mcp chat`` on a pseudo-terminal, with no letta-mcp/OpenAI settings but ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    return pexpect.spawn(
        sys.executable,
        ["-m", "letta_mcp", "chat", *args, "--data-dir", str(data_dir)],
        env={**base, **env},
        encoding="utf-8",
        timeout=DEADLINE_S,
    )


def quit_with(child: pexpect.spawn, keys: str) -> str:
    """Send ``keys`` (a command line, or Ctrl-D); the chat must exit 0. Returns its last output."""
    child.send(keys)
    child.expect(pexpect.EOF)
    child.close()
    assert (child.signalstatus, child.exitstatus) == (None, 0), child.before
    assert "Traceback" not in child.before
    return child.before


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[pexpect.spawn]:
    """``letta-mcp serve`` (stdio) running on the data directory the chat will use, MCP-initialized."""
    child = spawn_server(tmp_path / "data", OPENAI_BASE_URL=fake_openai.base_url)
    try:
        child.expect("serving .* over stdio")
        handshake(child)
        yield child
    finally:
        child.close(force=True)


def test_a_chat_shows_tool_calls_memory_edits_and_replies_while_a_server_runs(
    tmp_path: Path, fake_openai: FakeOpenAI, server: pexpect.spawn
) -> None:
    created = call(
        server, 2, "tools/call", {"name": "create_agent", "arguments": {"name": "sam", "context_window": 8192}}
    )
    agent_id = created["structuredContent"]["id"]
    fake_openai.script(remember(label="human"))  # appends each message to [human], then replies "ok: ..."

    chat = spawn_chat(tmp_path / "data", "sam", OPENAI_BASE_URL=fake_openai.base_url)
    chat.expect_exact(f"Chatting with sam ({agent_id}")
    chat.expect_exact("you> ")
    chat.sendline("I like green tea")
    # As the turn runs: the tool call, its result, the block it changed; then the reply.
    chat.expect_exact('→ core_memory_append({"label": "human", "content": "I like green tea"})')
    chat.expect_exact("← core_memory_append:")
    chat.expect(r"✎ memory \[human\] now: .*I like green tea")
    chat.expect_exact("sam> ok: I like green tea")

    chat.expect_exact("you> ")
    chat.sendline("/memory")
    chat.expect(r"\[human\] \(\d+/\d+ chars\)")
    chat.expect_exact("I like green tea")
    chat.sendline("/context")
    chat.expect(r"context: \d+/\d+ tokens")
    chat.expect(r"\[S+B+m+M+T+o\.+\]")
    chat.expect_exact("T tool_schemas")
    chat.sendline("/history")
    chat.expect(r"#\d+ you> I like green tea")
    chat.expect(r"#\d+ sam> ok: I like green tea")
    chat.sendline("/search green")
    chat.expect(r"#\d+ you> I like green tea")
    chat.expect_exact("you> ")
    quit_with(chat, "/quit\r")

    # The server on the same directory sees what the chat's agent remembered.
    memory = call(server, 3, "tools/call", {"name": "get_memory", "arguments": {"agent_id": agent_id}})
    human = next(b for b in memory["structuredContent"]["blocks"] if b["label"] == "human")
    assert human["value"].endswith("I like green tea")
    stop_with_ctrl_c(server)


def test_without_a_model_the_chat_says_what_to_configure(tmp_path: Path) -> None:
    chat = spawn_chat(tmp_path / "data", "sam")
    chat.expect_exact("Created agent sam")
    chat.expect_exact("! No model is configured")
    chat.expect_exact("Set OPENAI_API_KEY, or OPENAI_BASE_URL")
    chat.expect_exact("you> ")
    chat.sendline("hello?")
    chat.expect_exact("! ")  # the turn's own error, not a traceback
    chat.expect_exact("you> ")
    quit_with(chat, "\x04")  # Ctrl-D


def test_an_agent_is_picked_from_the_list_and_ctrl_c_leaves_mid_turn(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text("hello there"), delay(DEADLINE_S * 4, text("too late")))
    first = spawn_chat(tmp_path / "data", "sam", OPENAI_BASE_URL=fake_openai.base_url)
    first.expect_exact("you> ")
    first.sendline("hi")
    first.expect_exact("sam> hello there")
    first.expect_exact("you> ")
    quit_with(first, "\x04")

    chat = spawn_chat(tmp_path / "data", OPENAI_BASE_URL=fake_openai.base_url)
    chat.expect(r"1\. sam  \(agent-")
    chat.expect_exact("Agent (a number, or a name for a new agent): ")
    chat.sendline("1")
    chat.expect(r"Chatting with sam \((agent-[0-9a-f-]+)")
    agent_id = chat.match.group(1)
    chat.expect_exact("you> ")
    chat.sendline("are you slow?")

    async def model_called() -> None:
        with anyio.fail_after(DEADLINE_S):
            await fake_openai.wait_for_requests(2)

    anyio.run(model_called)
    chat.sendintr()  # Ctrl-C during the turn
    chat.expect(pexpect.EOF)
    chat.close()
    assert (chat.signalstatus, chat.exitstatus) == (None, 0), chat.before
    assert "Traceback" not in chat.before

    async def runs_and_history() -> tuple[dict[str, Any], dict[str, Any]]:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data")],
            env={"LETTA_MCP_LOG_LEVEL": "WARNING"},
        )
        with anyio.fail_after(DEADLINE_S):
            async with Client(params) as client:
                runs = await client.call_tool("list_runs", {"agent_id": agent_id})
                messages = await client.call_tool("list_messages", {"agent_id": agent_id})
        assert runs.structured_content is not None and messages.structured_content is not None
        return runs.structured_content, messages.structured_content

    runs, messages = anyio.run(runs_and_history)
    assert [r["status"] for r in runs["runs"]] == ["interrupted", "completed"]  # newest first
    assert "are you slow?" in [m.get("content") for m in messages["messages"]]
