"""The whole path as a user runs it: ``letta-mcp serve`` (a real stdio subprocess) reads
``[mcp_servers]`` from its config file, and an agent thinking with a real OpenAI-compatible model
(the fake server) calls a tool of the configured stdio server through it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from remote_config import ENV_SECRET, SERVERS

from fake_openai import FakeOpenAI, text, tool_call

pytestmark = pytest.mark.anyio


async def test_an_agent_of_a_served_process_calls_a_tool_of_a_server_from_the_config_file(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = tmp_path / "letta.toml"
    config.write_text(
        f"""
[mcp_servers.local]
command = {json.dumps(sys.executable)}
args = [{json.dumps(str(SERVERS))}, "stdio"]
env = {{ START_LOG = {json.dumps(str(tmp_path / "starts.log"))}, API_TOKEN = "{ENV_SECRET}" }}
""",
        encoding="utf-8",
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(tmp_path / "data"), "--config", str(config)],
        env={"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "test-key", "LETTA_MCP_LOG_LEVEL": "WARNING"},
    )
    fake_openai.script(
        tool_call("mcp__local__echo", {"text": "from the model"}),
        tool_call("mcp__local__show_env", {"name": "API_TOKEN"}),
        text("all done"),
    )
    with anyio.fail_after(120):
        async with Client(params) as client:
            listed = await client.call_tool("list_mcp_tools", {"server": "local"})
            created = await client.call_tool("create_agent", {"tools": ["mcp:local/echo", "mcp:local/show_env"]})
            assert not created.is_error, created.content[0].text
            sent = await client.call_tool(
                "send_message", {"agent_id": created.structured_content["id"], "message": "use your tools"}
            )
    assert not listed.is_error and "mcp:local/echo" in {t["tool"] for t in listed.structured_content["tools"]}
    assert not sent.is_error, sent.content[0].text
    assert sent.structured_content["reply"] == "all done"
    offered = {t["function"]["name"] for t in fake_openai.requests[0]["tools"]}
    assert offered == {"mcp__local__echo", "mcp__local__show_env"}
    results = [json.loads(m["content"])["message"] for m in fake_openai.requests[-1]["messages"] if m["role"] == "tool"]
    assert results == ["echo: from the model", "***"]
    assert ENV_SECRET not in json.dumps(sent.structured_content)
