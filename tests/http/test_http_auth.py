"""Authentication over real HTTP: bearer tokens (stored as hashes) and JWTs, on both transports."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import httpx2
import jwt
import pytest
from http_harness import JWT_AUDIENCE, JWT_ISSUER, ServerProcess, Tokens, connect, connect_sse, ok

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def post_initialize(server: ServerProcess, **headers: str) -> httpx2.Response:
    return httpx2.post(server.mcp_url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10)


def make_jwt(secret: str, **claims: object) -> str:
    now = int(time.time())
    payload = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": "carol", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def test_no_token_gets_401_with_a_bearer_challenge(auth_server: ServerProcess) -> None:
    response = post_initialize(auth_server)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer {alice}x", "{alice}", "Basic YWxpY2U6cHc=", "Bearer x.y.z"],
    ids=["unknown", "almost-alices", "no-scheme", "basic", "not-a-jwt"],
)
def test_wrong_token_gets_401(auth_server: ServerProcess, tokens: Tokens, header: str) -> None:
    assert post_initialize(auth_server, Authorization=header.format(alice=tokens.alice)).status_code == 401


def test_sse_endpoints_need_a_token_too(auth_server: ServerProcess) -> None:
    assert httpx2.get(auth_server.sse_url, timeout=10).status_code == 401
    assert httpx2.post(f"{auth_server.url}/messages/?session_id=x", json={}, timeout=10).status_code == 401


def test_healthz_needs_no_token(auth_server: ServerProcess) -> None:
    response = httpx2.get(f"{auth_server.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_valid_token_is_accepted(auth_server: ServerProcess, tokens: Tokens) -> None:
    response = post_initialize(auth_server, Authorization=f"Bearer {tokens.alice}")
    assert response.status_code == 200, response.text


async def test_client_with_token_works_over_streamable_http_and_sse(auth_server: ServerProcess, tokens: Tokens) -> None:
    async with connect(auth_server.mcp_url, tokens.alice) as client:
        created = ok(await client.call_tool("create_agent", {"name": "alice-http"}))
    async with connect_sse(auth_server.sse_url, tokens.alice) as client:
        listed = ok(await client.call_tool("list_agents", {"name": "alice-http"}))
    assert [a["id"] for a in listed["agents"]] == [created["id"]]


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 1},  # expired
        {"aud": "someone-else"},
        {"iss": "https://evil.example.test"},
        {"sub": None},  # no principal claim
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-subject"],
)
def test_bad_jwts_get_401(auth_server: ServerProcess, tokens: Tokens, claims: dict[str, object]) -> None:
    token = make_jwt(tokens.jwt_secret, **claims)
    assert post_initialize(auth_server, Authorization=f"Bearer {token}").status_code == 401


def test_jwt_signed_with_another_key_gets_401(auth_server: ServerProcess) -> None:
    token = make_jwt("x" * 64)
    assert post_initialize(auth_server, Authorization=f"Bearer {token}").status_code == 401


async def test_valid_jwt_runs_as_its_subject(auth_server: ServerProcess, tokens: Tokens) -> None:
    carol = make_jwt(tokens.jwt_secret)
    async with connect(auth_server.mcp_url, carol) as client:
        created = ok(await client.call_tool("create_agent", {"name": "carols"}))
        mine = ok(await client.call_tool("list_agents", {}))
    assert [a["id"] for a in mine["agents"]] == [created["id"]]
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        theirs = ok(await client.call_tool("list_agents", {}))
    assert created["id"] not in [a["id"] for a in theirs["agents"]]


def test_hash_token_prints_the_sha256_of_stdin() -> None:
    token = "a-long-enough-secret-token"
    done = subprocess.run(
        [sys.executable, "-m", "letta_mcp", "hash-token"],
        input=token + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == hashlib.sha256(token.encode()).hexdigest()


def test_hash_token_refuses_short_tokens() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "letta_mcp", "hash-token"], input="short\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "at least 16 characters" in done.stderr
