"""``letta-mcp serve`` in a real pseudo-terminal, as a person starts it from a shell.

The terminal's line discipline turns Ctrl-C into SIGINT for the server, exactly as a shell's
terminal does. The helpers speak JSON-RPC lines on the terminal (echo off), like a person pasting
them would; stdout and stderr both come back through the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect

DEADLINE_S = 30  # pexpect's timeout: every expected output must come within this


def spawn_server(data_dir: Path, *args: str, **env: str) -> pexpect.spawn:
    """``letta-mcp serve`` on a pseudo-terminal, with no letta-mcp/OpenAI settings but ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "letta_mcp", "serve", "--data-dir", str(data_dir), *args],
        env={**base, "LETTA_MCP_LOG_LEVEL": "INFO", **env},
        encoding="utf-8",
        timeout=DEADLINE_S,
    )
    child.setecho(False)
    return child


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


def stop_with_ctrl_c(child: pexpect.spawn) -> str:
    """Press Ctrl-C; the server must exit 0 (not die of the signal). Returns its last output."""
    child.sendintr()  # the terminal's interrupt character: the line discipline sends SIGINT
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus is None, f"killed by signal {child.signalstatus}"
    assert child.exitstatus == 0, child.before
    return child.before
