"""Per-principal limits over real HTTP: sessions, legacy SSE streams and models, per principal.

alice holds at most 2 Streamable HTTP sessions and 1 SSE stream (the [limits] defaults of this
server); bob's overrides give him 3 sessions and any model, where alice may only use openai/*.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import httpx2
import pytest
from http_harness import ServerProcess, Tokens, connect, error_text, ok, start_server
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from fake_openai import FakeOpenAI
from letta_mcp.server.auth import hash_token

pytestmark = pytest.mark.anyio

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, tokens: Tokens) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("limits")
    config = f"""
[providers.other]
base_url = "http://127.0.0.1:9/v1"

[auth.tokens]
"{hash_token(tokens.alice)}" = "alice"
"{hash_token(tokens.bob)}" = "bob"
"{hash_token(tokens.ops)}" = "carol"

[limits]
allowed_models = ["openai/*"]
sessions_per_principal = 2
sse_streams_per_principal = 1

[limits.principals.bob]
sessions_per_principal = 3
allowed_models = []
"""
    process = start_server(root / "data", model.base_url, config=config)
    yield process
    process.stop()


def open_session(server: ServerProcess, token: str) -> httpx2.Response:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    return httpx2.post(server.mcp_url, json=INITIALIZE, headers=headers, timeout=10)


def close_session(server: ServerProcess, token: str, session_id: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    assert httpx2.delete(server.mcp_url, headers=headers, timeout=10).status_code == 200


def test_sessions_per_principal_are_capped_and_freed_by_delete(server: ServerProcess, tokens: Tokens) -> None:
    opened = [open_session(server, tokens.alice) for _ in range(2)]
    assert [r.status_code for r in opened] == [200, 200]
    over = open_session(server, tokens.alice)
    assert over.status_code == 429
    message = over.json()["error"]["message"]
    assert "Too many open sessions for principal 'alice': 2 of 2 (setting `limits.sessions_per_principal`)" in message
    assert [open_session(server, tokens.bob).status_code for _ in range(3)] == [200, 200, 200]  # his own count
    over = open_session(server, tokens.bob)
    assert over.status_code == 429
    assert "(setting `limits.principals.bob.sessions_per_principal`)" in over.json()["error"]["message"]
    close_session(server, tokens.alice, opened[0].headers["mcp-session-id"])
    assert open_session(server, tokens.alice).status_code == 200


def test_requests_within_a_session_are_not_counted(server: ServerProcess, tokens: Tokens) -> None:
    """carol fills her sessions; requests in them still work, and the 2026 (sessionless) era is never refused."""
    sessions = [open_session(server, tokens.ops) for _ in range(2)]
    assert all(r.status_code == 200 for r in sessions)
    headers = {
        **MCP_HEADERS,
        "Authorization": f"Bearer {tokens.ops}",
        "Mcp-Session-Id": sessions[0].headers["mcp-session-id"],
        "MCP-Protocol-Version": "2025-11-25",
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert httpx2.post(server.mcp_url, json=initialized, headers=headers, timeout=10).status_code == 202
    modern = {**MCP_HEADERS, "Authorization": f"Bearer {tokens.ops}", "MCP-Protocol-Version": "2026-07-28"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert httpx2.post(server.mcp_url, json=ping, headers=modern, timeout=10).status_code != 429


async def test_sse_streams_per_principal_are_capped(server: ServerProcess, tokens: Tokens) -> None:
    with anyio.fail_after(30):
        async with httpx2.AsyncClient(timeout=10) as http:
            alice = {"Authorization": f"Bearer {tokens.alice}"}
            async with http.stream("GET", server.sse_url, headers=alice) as first:
                assert first.status_code == 200
                second = await http.get(server.sse_url, headers=alice)
                assert second.status_code == 429
                assert "Too many open SSE streams for principal 'alice': 1 of 1" in second.json()["error"]["message"]
                assert "(setting `limits.sse_streams_per_principal`)" in second.json()["error"]["message"]
                bob = {"Authorization": f"Bearer {tokens.bob}"}
                async with http.stream("GET", server.sse_url, headers=bob) as bobs:
                    assert bobs.status_code == 200


async def test_allowed_models_differ_per_principal(server: ServerProcess, tokens: Tokens) -> None:
    with anyio.fail_after(60):
        async with connect(server.mcp_url, tokens.alice) as client:
            message = error_text(await client.call_tool("create_agent", {"name": "a", "model": "other/llama3.1"}))
            assert "Limit exceeded for principal 'alice': model 'other/llama3.1' is not allowed" in message
            assert "(setting `limits.allowed_models`)" in message
        async with connect(server.mcp_url, tokens.bob) as client:
            ok(await client.call_tool("create_agent", {"name": "b", "model": "other/llama3.1"}))


def test_unauthenticated_requests_get_401_not_a_limit(server: ServerProcess) -> None:
    assert httpx2.post(server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS, timeout=10).status_code == 401
    assert httpx2.get(server.sse_url, timeout=10).status_code == 401


def test_the_sdk_session_manager_still_tracks_sessions_where_http_limits_reads_them() -> None:
    """`http_limits._live_session_ids` reads this private attribute: fail loudly if the SDK moves it."""
    manager = StreamableHTTPSessionManager(app=MCPServer("t")._lowlevel_server)
    assert isinstance(manager._server_instances, dict)
