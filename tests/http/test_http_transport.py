"""The HTTP transports over real sockets: endpoints, shared state, security checks, live resources."""

from __future__ import annotations

import socket
import subprocess
import sys
import warnings
from pathlib import Path

import anyio
import httpx2
import pytest
from http_harness import ServerProcess, Tokens, connect, connect_sse, ok, serve_command, server_env
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from fake_openai import FakeOpenAI, text, tool_call
from letta_mcp.config import load_settings
from letta_mcp.server.http import BindRefusedError, check_bind, transport_security

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


# --- endpoints ------------------------------------------------------------------------------------


def test_healthz_reports_database_and_index_reachability(open_server: ServerProcess) -> None:
    from letta_mcp import __version__

    response = httpx2.get(f"{open_server.url}/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "checks": {"database": True, "index": True}}


def test_readyz_reports_a_serving_process(open_server: ServerProcess) -> None:
    from letta_mcp import __version__

    response = httpx2.get(f"{open_server.url}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "checks": {"serving": True, "accepting": True}}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http_serves_both_protocol_eras(open_server: ServerProcess, mode: str) -> None:
    async with connect(open_server.mcp_url, mode=mode) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        assert {"create_agent", "send_message"} <= {t.name for t in (await client.list_tools()).tools}


async def test_state_is_shared_across_sse_connections_and_http_sessions(open_server: ServerProcess) -> None:
    async with connect_sse(open_server.sse_url) as first:
        created = ok(await first.call_tool("create_agent", {"name": "shared-by-all"}))
        async with connect_sse(open_server.sse_url) as second:  # a second SSE connection, open at once
            ok(await second.call_tool("update_block", {"agent_id": created["id"], "label": "human", "value": "Sam"}))
        memory = ok(await first.call_tool("get_memory", {"agent_id": created["id"]}))
    assert "Sam" in memory["rendered"]
    for mode in ("legacy", "auto"):  # two more sessions, one per protocol era
        async with connect(open_server.mcp_url, mode=mode) as client:
            block = await client.read_resource(f"letta://agents/{created['id']}/blocks/human")
            assert block.contents[0].text == "Sam"


async def test_messages_over_http_reach_the_model_and_persist(open_server: ServerProcess, model: FakeOpenAI) -> None:
    async with connect(open_server.mcp_url) as client:
        agent = ok(await client.call_tool("create_agent", {"name": "talker"}))
        model.script(text("Hello over HTTP."))
        sent = ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "Hi"}))
    assert sent["reply"] == "Hello over HTTP."
    async with connect_sse(open_server.sse_url) as client:
        page = ok(await client.call_tool("list_messages", {"agent_id": agent["id"], "roles": ["user", "assistant"]}))
    assert [m["content"] for m in page["messages"]][:2] == ["Hello over HTTP.", "Hi"]


# --- security checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_foreign_host_header_gets_421(auth_server: ServerProcess, tokens: Tokens, path: str) -> None:
    headers = {**MCP_HEADERS, "Host": "attacker.example", "Authorization": f"Bearer {tokens.alice}"}
    if path == "/mcp":
        response = httpx2.post(auth_server.url + path, json=INITIALIZE, headers=headers, timeout=10)
    else:
        response = httpx2.get(auth_server.url + path, headers=headers, timeout=10)
    assert response.status_code == 421


def test_foreign_host_header_gets_421_without_auth_too(open_server: ServerProcess) -> None:
    headers = {**MCP_HEADERS, "Host": "rebound.attacker.example:80"}
    assert httpx2.post(open_server.mcp_url, json=INITIALIZE, headers=headers, timeout=10).status_code == 421


def test_foreign_origin_gets_403(open_server: ServerProcess) -> None:
    headers = {**MCP_HEADERS, "Origin": "https://attacker.example"}
    assert httpx2.post(open_server.mcp_url, json=INITIALIZE, headers=headers, timeout=10).status_code == 403
    local = {**MCP_HEADERS, "Origin": "http://localhost:3000"}
    assert httpx2.post(open_server.mcp_url, json=INITIALIZE, headers=local, timeout=10).status_code == 200


def test_body_over_the_limit_gets_413(auth_server: ServerProcess, tokens: Tokens) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "' + b"x" * 70_000 + b'"}}'
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {tokens.alice}"}
    assert httpx2.post(auth_server.mcp_url, content=body, headers=headers, timeout=10).status_code == 413

    def chunks():  # no Content-Length: the limit also holds for streamed bodies
        yield body[:40_000]
        yield body[40_000:]

    assert httpx2.post(auth_server.mcp_url, content=chunks(), headers=headers, timeout=10).status_code == 413


def test_non_loopback_bind_without_auth_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [*serve_command(tmp_path / "data", "--transport", "streamable-http", "--host", "0.0.0.0", "--port", "0")],
        env=server_env("http://127.0.0.1:9/v1"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before touching the data directory


def test_port_in_use_is_a_clear_startup_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            serve_command(tmp_path / "data", "--transport", "sse", "--port", port),
            env=server_env("http://127.0.0.1:9/v1"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "data").exists()


def test_bind_rules(tmp_path: Path) -> None:
    def settings(**http: object) -> object:
        return load_settings(overrides={"data_dir": str(tmp_path), "http": http}, environ={})

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_bind(settings(host=host))
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.com"):
        with pytest.raises(BindRefusedError):
            check_bind(settings(host=host))
    check_bind(settings(host="0.0.0.0", insecure=True))
    with_auth = load_settings(
        overrides={"data_dir": str(tmp_path), "http": {"host": "0.0.0.0"}, "auth": {"tokens": {"a" * 64: "alice"}}},
        environ={},
    )
    check_bind(with_auth)


def test_host_allow_list_is_explicit_for_every_bind(tmp_path: Path) -> None:
    """The SDK would switch the Host check off for 0.0.0.0; ours stays on, with the names given."""
    for host in ("0.0.0.0", "192.168.1.5", "127.0.0.1"):
        http = load_settings(
            overrides={"data_dir": str(tmp_path), "http": {"host": host, "allowed_hosts": ["mcp.example.com"]}},
            environ={},
        ).http
        security = transport_security(http)
        assert security.enable_dns_rebinding_protection
        assert "mcp.example.com" in security.allowed_hosts and "127.0.0.1:*" in security.allowed_hosts
        assert ("192.168.1.5:*" in security.allowed_hosts) == (host == "192.168.1.5")
        assert "0.0.0.0:*" not in security.allowed_hosts


# --- live resources -------------------------------------------------------------------------------


async def test_block_edit_notifies_2026_listeners(open_server: ServerProcess) -> None:
    async with connect(open_server.mcp_url) as client:
        agent = ok(await client.call_tool("create_agent", {"name": "watched"}))
        base = f"letta://agents/{agent['id']}"
        watched = [f"{base}/blocks/human", f"{base}/memory", base]
        async with client.listen(resource_subscriptions=watched) as events:
            async with connect(open_server.mcp_url) as editor:  # another session edits
                ok(await editor.call_tool("update_block", {"agent_id": agent["id"], "label": "human", "value": "Ann"}))
            heard: set[str] = set()
            with anyio.fail_after(10):
                async for event in events:
                    heard.add(event.uri)
                    if heard >= set(watched):
                        break


async def test_block_edit_and_new_messages_notify_legacy_subscribers(
    open_server: ServerProcess, model: FakeOpenAI
) -> None:
    updates: list[str] = []
    arrived = anyio.Event()
    wanted: set[str] = set()

    async def on_message(message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(message.params.uri)
            if wanted <= set(updates):
                arrived.set()

    async with connect_sse(open_server.sse_url, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources and client.server_capabilities.resources.subscribe
        agent = ok(await client.call_tool("create_agent", {"name": "legacy-watched"}))
        base = f"letta://agents/{agent['id']}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # legacy-era API, on purpose
            for uri in (f"{base}/blocks/persona", f"{base}/memory", f"{base}/messages"):
                await client.subscribe_resource(uri)
        # The agent edits its own persona block during a turn, then replies.
        model.script(
            tool_call("core_memory_append", {"label": "persona", "content": "I like haiku."}),
            text("Noted."),
        )
        wanted.update({f"{base}/blocks/persona", f"{base}/memory", f"{base}/messages"})
        async with connect(open_server.mcp_url) as other:
            ok(await other.call_tool("send_message", {"agent_id": agent["id"], "message": "Be poetic."}))
        with anyio.fail_after(10):
            await arrived.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.unsubscribe_resource(f"{base}/memory")
    assert f"{base}/blocks/human" not in updates  # only what changed, only what was asked for


async def test_logging_level_and_completion_are_served(open_server: ServerProcess) -> None:
    from mcp.types import PromptReference, ResourceTemplateReference

    async with connect(open_server.mcp_url, mode="legacy") as client:
        assert client.server_capabilities.logging is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.set_logging_level("warning")
        agent = ok(await client.call_tool("create_agent", {"name": "completable"}))
        ids = await client.complete(
            PromptReference(type="ref/prompt", name="recall"), {"name": "agent_id", "value": agent["id"][:12]}
        )
        labels = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="letta://agents/{agent_id}/blocks/{label}"),
            {"name": "label", "value": "h"},
            context_arguments={"agent_id": agent["id"]},
        )
    assert agent["id"] in ids.completion.values
    assert labels.completion.values == ["human"]


def test_stdio_is_still_the_default_transport(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "letta_mcp", "serve", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "streamable-http" in done.stdout and "default stdio" in done.stdout


async def test_in_process_server_serves_one_service_and_stops_gracefully(tmp_path: Path) -> None:
    """`serve_http` as a library (what benchmarks/load.py does): bound socket in, stop event out."""
    from letta_mcp.llm.scripted import ScriptedProvider, reply
    from letta_mcp.server.http import bind, serve_http
    from letta_mcp.service import AgentService

    settings = load_settings(overrides={"data_dir": str(tmp_path), "http": {"port": 0}}, environ={})
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider(default=reply("hi"))})
    sock = bind(settings.http)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop = anyio.Event()
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(lambda: serve_http(service, settings, sock=sock, stop=stop))
                async with connect(f"{url}/mcp") as client:
                    agent = ok(await client.call_tool("create_agent", {"name": "in-process"}))
                    sent = ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "yo"}))
                assert sent["reply"] == "hi"
                assert (await service.get_agent(agent["id"])).messages_in_history >= 3  # same service
                stop.set()
    finally:
        await service.close()
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"{url}/healthz", timeout=2)
