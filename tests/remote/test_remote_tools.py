"""Tools from other MCP servers, end to end: the operator's config declares a real stdio server and a
real Streamable HTTP server (`tool_servers.py`); clients list their tools and give them to agents;
an agent (scripted model) calls them like its own tools and reads the results, crashes, timeouts
and failures included; no configured secret ever comes back."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult
from remote_config import ENV_SECRET, HEADER_SECRET, server_settings

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, Role
from letta_mcp.remote import RemoteServers
from letta_mcp.runtime.remote_tools import RemoteToolError
from letta_mcp.server import create_server
from letta_mcp.service import AgentService, InvalidRequestError

pytestmark = pytest.mark.anyio


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


def err(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text


def tool_results(request: ModelRequest) -> list[dict[str, Any]]:
    """The tool-result envelopes the model was sent, in order."""
    return [json.loads(m.content or "{}") for m in request.messages if m.role is Role.tool]


async def test_list_mcp_tools_shows_each_servers_tools_and_no_secret(remote_client: Client) -> None:
    with anyio.fail_after(60):
        everything = ok(await remote_client.call_tool("list_mcp_tools", {}))
        web = ok(await remote_client.call_tool("list_mcp_tools", {"server": "web"}))
        unknown = err(await remote_client.call_tool("list_mcp_tools", {"server": "nowhere"}))
    handles = {t["tool"] for t in everything["tools"]}
    assert {"mcp:local/echo", "mcp:local/crash", "mcp:web/echo", "mcp:web/show_header"} <= handles
    echo = next(t for t in everything["tools"] if t["tool"] == "mcp:local/echo")
    assert echo["description"] == "Return the text unchanged."
    assert echo["input_schema"]["properties"]["text"]["type"] == "string"
    assert {t["server"] for t in web["tools"]} == {"web"}
    assert "No MCP server named 'nowhere'" in unknown and "local, web" in unknown
    listed = json.dumps(everything) + json.dumps(web) + unknown
    assert ENV_SECRET not in listed and HEADER_SECRET not in listed


async def test_an_agent_calls_a_stdio_tool_and_an_http_tool_and_reads_the_results(
    remote_client: Client, scripted: ScriptedProvider
) -> None:
    scripted.add(
        call("mcp__local__echo", {"text": "hello"}),
        call("mcp__web__show_header", {"name": "X-Api-Key"}),
        call("mcp__web__add", {"a": 2, "b": 40}),
        reply("done"),
    )
    with anyio.fail_after(60):
        agent = ok(
            await remote_client.call_tool(
                "create_agent",
                {
                    "name": "tooluser",
                    "tools": ["memory_insert", "mcp:local/echo", "mcp:web/show_header", "mcp:web/add"],
                },
            )
        )
        sent = ok(await remote_client.call_tool("send_message", {"agent_id": agent["id"], "message": "go"}))
    assert sent["reply"] == "done" and sent["stop_reason"] == "end_turn"
    offered = {t.name for t in scripted.requests[0].tools}
    assert {"memory_insert", "mcp__local__echo", "mcp__web__show_header", "mcp__web__add"} == offered
    results = tool_results(scripted.requests[-1])
    assert [r["status"] for r in results] == ["OK", "OK", "OK"]
    assert results[0]["message"] == "echo: hello"
    # The header reached the server (else "<unset>"); its value is masked on the way back.
    assert results[1]["message"] == "***"
    assert results[2]["message"] == "42"


async def test_a_configured_secret_echoed_by_a_tool_is_masked(
    remote_service: AgentService, scripted: ScriptedProvider
) -> None:
    scripted.add(call("mcp__local__show_env", {"name": "API_TOKEN"}), reply("ok"))
    with anyio.fail_after(60):
        agent = (await remote_service.create_agent(tools=["mcp:local/show_env"])).agent
        result = await remote_service.send_message(agent.id, "what is your token?")
    stored = " ".join(m.content or "" for m in result.messages)
    assert ENV_SECRET not in stored
    assert tool_results(scripted.requests[-1])[0] == {
        "status": "OK",
        "message": "***",
        "time": tool_results(scripted.requests[-1])[0]["time"],
    }


async def test_a_crash_mid_call_is_a_tool_error_and_the_next_call_restarts_the_server(
    remote_service: AgentService, scripted: ScriptedProvider
) -> None:
    scripted.add(
        call("mcp__local__started", {}),
        call("mcp__local__crash", {}),
        call("mcp__local__started", {}),
        reply("recovered"),
    )
    with anyio.fail_after(60):
        agent = (await remote_service.create_agent(tools=["mcp:local/crash", "mcp:local/started"])).agent
        result = await remote_service.send_message(agent.id, "crash it")
    assert result.reply == "recovered"
    first, crashed, after = tool_results(scripted.requests[-1])
    assert first == {**first, "status": "OK", "message": "1"}
    assert crashed["status"] == "Failed"
    assert "'crash' of MCP server 'local' failed" in crashed["message"] and "restarted" in crashed["message"]
    assert after == {**after, "status": "OK", "message": "2"}  # a second process answered


async def test_a_call_past_the_timeout_is_a_tool_error_and_the_server_stays_usable(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    settings = load_settings(
        overrides={"data_dir": str(tmp_path / "data"), "mcp_servers": server_settings(tmp_path, timeout_s=3.0)},
        environ={},
    )
    service = await AgentService.open(
        settings, providers={"openai": scripted}, remote_tools=RemoteServers(settings.mcp_servers)
    )
    scripted.add(call("mcp__local__hang", {}), call("mcp__local__echo", {"text": "still here"}), reply("fine"))
    try:
        with anyio.fail_after(60):
            agent = (await service.create_agent(tools=["mcp:local/hang", "mcp:local/echo"])).agent
            result = await service.send_message(agent.id, "wait for it")
    finally:
        await service.close()
    assert result.reply == "fine"
    hung, echoed = tool_results(scripted.requests[-1])
    assert hung["status"] == "Failed" and "did not finish within 3 s" in hung["message"]
    assert echoed["status"] == "OK" and echoed["message"] == "echo: still here"


async def test_tools_that_do_not_exist_are_refused_with_the_ones_that_do(remote_service: AgentService) -> None:
    with anyio.fail_after(60):
        with pytest.raises(InvalidRequestError, match=r"MCP server 'local' has no tool\(s\) 'nope'; it offers: "):
            await remote_service.create_agent(tools=["mcp:local/nope"])
        with pytest.raises(InvalidRequestError, match="No MCP server named 'elsewhere'; the configured servers"):
            await remote_service.create_agent(tools=["mcp:elsewhere/echo"])
        with pytest.raises(InvalidRequestError, match="named 'mcp:<server>/<tool>'"):
            await remote_service.create_agent(tools=["mcp:local"])
        agent = (await remote_service.create_agent(tools=["memory_insert"])).agent
        with pytest.raises(InvalidRequestError, match="has no tool"):
            await remote_service.update_agent(agent.id, tools=["mcp:web/nope"])
        updated = await remote_service.update_agent(agent.id, tools=["memory_insert", "mcp:web/echo"])
    assert updated.tools == ["memory_insert", "mcp:web/echo"]
    assert (await remote_service.get_agent(agent.id)).agent.tools == updated.tools


async def test_a_server_that_cannot_start_is_an_error_that_shows_no_secret(
    tmp_path: Path, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    servers = server_settings(tmp_path, command=str(tmp_path / "no-such-server"), args=[ENV_SECRET])
    servers["down"] = {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": HEADER_SECRET}, "timeout_s": 5}
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "mcp_servers": servers}, environ={})
    service = await AgentService.open(
        settings, providers={"openai": scripted}, remote_tools=RemoteServers(settings.mcp_servers)
    )
    try:
        with anyio.fail_after(60):
            async with Client(create_server(service)) as client:
                listing = ok(await client.call_tool("list_mcp_tools", {}))
                refused = err(await client.call_tool("create_agent", {"tools": ["mcp:local/echo"]}))
    finally:
        await service.close()
    assert listing["tools"] == []
    assert set(listing["unavailable"]) == {"local", "down"}
    assert "could not be started" in listing["unavailable"]["local"]
    shown = json.dumps(listing) + refused
    assert "MCP server 'local' could not be started" in refused
    assert ENV_SECRET not in shown and HEADER_SECRET not in shown
    assert ENV_SECRET not in caplog.text and HEADER_SECRET not in caplog.text


async def test_sse_servers_work_and_concurrent_first_calls_share_one_stdio_process(
    tmp_path: Path, sse_tools_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    servers = server_settings(tmp_path)
    servers["legacy"] = {"url": sse_tools_url, "transport": "sse", "headers": {"X-Api-Key": HEADER_SECRET}}
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "mcp_servers": servers}, environ={})
    remote = RemoteServers(settings.mcp_servers)
    answers: list[tuple[bool, str]] = []

    async def echo(n: int) -> None:
        answers.append(await remote.call("local", "echo", {"text": str(n)}))

    caplog.set_level(logging.DEBUG)
    try:
        with anyio.fail_after(60):
            listed = {t.name for t in await remote.list_tools("legacy")}
            added = await remote.call("legacy", "add", {"a": 1, "b": 2})
            header = await remote.call("legacy", "show_header", {"name": "X-Api-Key"})
            async with anyio.create_task_group() as tg:
                for n in range(4):
                    tg.start_soon(echo, n)
            starts = await remote.call("local", "started", {})
    finally:
        await remote.aclose()
    assert {"echo", "add", "show_header"} <= listed
    assert added == (True, "3") and header == (True, "***")
    assert sorted(answers) == [(True, f"echo: {n}") for n in range(4)]
    assert starts == (True, "1")  # four first calls at once started one process
    assert HEADER_SECRET not in caplog.text and ENV_SECRET not in caplog.text


async def test_a_failed_start_is_not_retried_by_every_step(tmp_path: Path) -> None:
    """A server that exits at once fails to start; the calls right after fail with the same reason
    without starting it again (each step of an agent would otherwise wait for a new start)."""
    log = tmp_path / "starts.log"
    script = f"open({str(log)!r}, 'a').write('started\\n')"
    settings = load_settings(
        overrides={
            "data_dir": str(tmp_path / "data"),
            "mcp_servers": {"gone": {"command": sys.executable, "args": ["-c", script]}},
        },
        environ={},
    )
    remote = RemoteServers(settings.mcp_servers)
    try:
        with anyio.fail_after(60):
            with pytest.raises(RemoteToolError, match="MCP server 'gone' could not be started") as first:
                await remote.list_tools("gone")
            with pytest.raises(RemoteToolError, match="MCP server 'gone' could not be started") as second:
                await remote.list_tools("gone")
            called = await remote.call("gone", "echo", {"text": "x"})
    finally:
        await remote.aclose()
    assert str(second.value) == str(first.value)
    assert called == (False, str(first.value))
    assert log.read_text().splitlines() == ["started"]
