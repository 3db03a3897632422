"""Principals over real HTTP: malformed JWT claims are 401s, and names cannot cross sources.

The server here takes static tokens (alice, the admin ops) and HS256 JWTs. A JWT acts as
``jwt:<iss>:<sub>``, so a JWT whose subject is ``local``, ``alice`` or ``ops`` gains nothing of
theirs; ``auth.jwt_subject_map`` is how an operator hands a JWT subject an existing owner's agents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import jwt
import pytest
from http_harness import JWT_AUDIENCE, JWT_ISSUER, ServerProcess, Tokens, connect, ok, start_server

from fake_openai import FakeOpenAI
from letta_mcp.config import load_settings
from letta_mcp.server.auth import hash_token
from letta_mcp.service import AgentService
from letta_mcp.service.access import Principal, acting_as

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MIGRATED = "dave-before-migration"  # the owner name dave's agents were created under


@dataclass(frozen=True)
class World:
    server: ServerProcess
    data_dir: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, tokens: Tokens) -> Iterator[World]:
    root = tmp_path_factory.mktemp("principals")
    key_file = root / "jwt.key"
    key_file.write_text(tokens.jwt_secret, encoding="utf-8")
    config = f"""
[auth]
admins = ["ops", "jwt:{JWT_ISSUER}:root"]
jwt_key_file = "{key_file.as_posix()}"
jwt_issuer = "{JWT_ISSUER}"
jwt_audience = "{JWT_AUDIENCE}"
jwt_algorithms = ["HS256"]

[auth.tokens]
"{hash_token(tokens.alice)}" = "alice"
"{hash_token(tokens.ops)}" = "ops"

[auth.jwt_subject_map]
"jwt:{JWT_ISSUER}:dave" = "{MIGRATED}"
"""
    server = start_server(root / "data", model.base_url, config=config)
    yield World(server, root / "data")
    server.stop()


def make_jwt(secret: str, **claims: object) -> str:
    now = int(time.time())
    payload = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": "carol", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def raw_jwt(secret: str, payload: str) -> str:
    """An HS256 JWT over a payload given as JSON text (for values pyjwt would not encode)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signed = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload.encode())
    signature = b64(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return (signed + b"." + signature).decode()


def post_initialize(server: ServerProcess, token: str) -> httpx2.Response:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    return httpx2.post(server.mcp_url, json=INITIALIZE, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"scope": 7}, "the 'scope' claim must be a string or a list of strings, got int"),
        ({"scp": 7}, "the 'scp' claim must be a string or a list of strings, got int"),
        ({"scp": ["tools", 7]}, "the 'scp' claim must be a string or a list of strings, got list"),
        ({"scope": {"a": "b"}}, "the 'scope' claim must be a string or a list of strings, got dict"),
        ({"sub": 42}, "Subject must be a string"),
        ({"sub": ""}, "the 'sub' claim must be a non-empty string, got str"),
        ({"sub": "   "}, "the 'sub' claim must be a non-empty string, got str"),
        ({"sub": ["carol"]}, "Subject must be a string"),
        ({"sub": None}, "the 'sub' claim must be a non-empty string, got nothing"),
        ({"exp": "soon"}, "Expiration Time claim (exp) must be an integer."),
        ({"iat": "yesterday"}, "Issued At claim (iat) must be an integer."),
        ({"nbf": [1]}, "Not Before claim (nbf) must be an integer."),
        ({"exp": 1}, "Signature has expired"),
    ],
    ids=lambda v: "-".join(f"{k}={v!r}" for k, v in v.items()) if isinstance(v, dict) else "",
)
def test_malformed_claims_get_401_saying_why(
    world: World, tokens: Tokens, claims: dict[str, object], reason: str
) -> None:
    response = post_initialize(world.server, make_jwt(tokens.jwt_secret, **claims))
    assert response.status_code == 401, response.text
    explained = f"The JWT was rejected: {reason}".replace('"', "'")
    assert response.headers["www-authenticate"] == f'Bearer error="invalid_token", error_description="{explained}"'
    assert response.json() == {"error": "invalid_token", "error_description": explained}


def test_an_unknown_token_or_none_gets_401_saying_so(world: World) -> None:
    unknown = post_initialize(world.server, "not-a-configured-token")
    assert unknown.status_code == 401
    assert unknown.json()["error_description"] == "The token is not a configured token nor a JWT"
    missing = httpx2.post(world.server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["error_description"] == "Authentication required"  # the SDK's own, untouched


@pytest.mark.parametrize("exp", ["Infinity", "NaN", "1e999", '"1"'])
def test_unrepresentable_expiry_gets_401(world: World, tokens: Tokens, exp: str) -> None:
    payload = f'{{"iss": "{JWT_ISSUER}", "aud": "{JWT_AUDIENCE}", "sub": "carol", "exp": {exp}}}'
    assert post_initialize(world.server, raw_jwt(tokens.jwt_secret, payload)).status_code == 401


def test_the_server_keeps_serving_after_malformed_claims(world: World, tokens: Tokens) -> None:
    post_initialize(world.server, make_jwt(tokens.jwt_secret, scope=7))
    assert post_initialize(world.server, make_jwt(tokens.jwt_secret, scope="read write")).status_code == 200
    assert not any("Traceback" in line for line in world.server.log), "".join(world.server.log)


@pytest.fixture
async def here(world: World) -> AsyncIterator[AgentService]:
    """The same data directory opened in this process, as the local user (like a stdio server would)."""
    service = await AgentService.open(load_settings(overrides={"data_dir": str(world.data_dir)}, environ={}))
    try:
        yield service
    finally:
        await service.close()


async def agent_ids(world: World, token: str) -> set[str]:
    async with connect(world.server.mcp_url, token) as client:
        return {a["id"] for a in ok(await client.call_tool("list_agents", {"limit": 200}))["agents"]}


async def create(world: World, token: str, name: str) -> str:
    async with connect(world.server.mcp_url, token) as client:
        agent_id: str = ok(await client.call_tool("create_agent", {"name": name}))["id"]
        return agent_id


async def test_a_jwt_whose_subject_is_local_gets_nothing_of_the_local_user(
    world: World, tokens: Tokens, here: AgentService
) -> None:
    with anyio.fail_after(60):
        local_agent = (await here.create_agent(name="made-over-stdio")).agent.id
        assert local_agent not in await agent_ids(world, make_jwt(tokens.jwt_secret, sub="local"))
        async with connect(world.server.mcp_url, make_jwt(tokens.jwt_secret, sub="local")) as client:
            result = await client.call_tool("get_agent", {"agent_id": local_agent})
    assert result.is_error


async def test_a_jwt_named_like_a_static_token_principal_is_someone_else(world: World, tokens: Tokens) -> None:
    with anyio.fail_after(60):
        alices = await create(world, tokens.alice, "alices-own")
        impostor = make_jwt(tokens.jwt_secret, sub="alice")
        impostors = await create(world, impostor, "impostors-own")
        assert alices not in await agent_ids(world, impostor)
        assert impostors not in await agent_ids(world, tokens.alice)


async def test_a_jwt_named_like_an_admin_is_not_an_admin(world: World, tokens: Tokens) -> None:
    with anyio.fail_after(60):
        alices = await create(world, tokens.alice, "seen-by-admins-only")
        assert alices not in await agent_ids(world, make_jwt(tokens.jwt_secret, sub="ops"))
        assert alices in await agent_ids(world, tokens.ops)
        assert alices in await agent_ids(world, make_jwt(tokens.jwt_secret, sub="root"))  # admin by full name


async def test_agents_a_jwt_creates_are_owned_by_its_namespaced_name(
    world: World, tokens: Tokens, here: AgentService
) -> None:
    with anyio.fail_after(60):
        agent_id = await create(world, make_jwt(tokens.jwt_secret, sub="erin"), "erins")
        details = await here.get_agent(agent_id)
    assert details.agent.owner == f"jwt:{JWT_ISSUER}:erin"


async def test_the_subject_map_hands_a_jwt_subject_an_existing_owners_agents(
    world: World, tokens: Tokens, here: AgentService
) -> None:
    with anyio.fail_after(60):
        with acting_as(Principal(MIGRATED)):
            old = (await here.create_agent(name="daves-from-before")).agent.id
        dave = make_jwt(tokens.jwt_secret, sub="dave")
        assert old in await agent_ids(world, dave)
        new = await create(world, dave, "daves-new")
        assert (await here.get_agent(new)).agent.owner == MIGRATED
        assert old not in await agent_ids(world, make_jwt(tokens.jwt_secret, sub=MIGRATED))
