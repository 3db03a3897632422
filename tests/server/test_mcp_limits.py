"""Per-principal limits on agents, through MCP: over a limit → an error naming the limit and its
setting, and nothing written.

In-process requests run as the local user, so ``[limits.principals.local]`` overrides apply here;
tests/http/test_http_limits.py covers other principals, sessions and SSE streams over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_helpers import err, ok, snapshot

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

LIMITS: dict[str, Any] = {
    "allowed_models": ["openai/*"],
    "max_tags": 5,
    "max_tag_chars": 12,
    "context_window": 64_000,
    "max_steps": 20,
    "max_name_chars": 50,
    "max_description_chars": 500,
    "max_system_chars": 10_000,
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        overrides={
            "data_dir": str(tmp_path / "data"),
            "providers": {"other": {"base_url": "http://127.0.0.1:9/v1"}},
            "limits": LIMITS,
        },
        environ={},
    )


@pytest.fixture
async def service(settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[AgentService]:
    svc = await AgentService.open(settings, providers={"openai": scripted, "other": ScriptedProvider()})
    try:
        yield svc
    finally:
        await svc.close()


async def durable(service: AgentService) -> dict[str, list[tuple[Any, ...]]]:
    """The database without the lease's bookkeeping (heartbeats move on their own)."""
    return {t: rows for t, rows in (await snapshot(service)).items() if "lease" not in t and "process" not in t}


async def refused(client: Client, service: AgentService, tool: str, arguments: dict[str, Any]) -> str:
    """Call ``tool``, which must fail without writing anything; its error text."""
    with anyio.fail_after(30):
        before = await durable(service)
        message = err(await client.call_tool(tool, arguments))
        assert await durable(service) == before
    return message


@pytest.mark.parametrize(
    ("arguments", "setting", "detail"),
    [
        ({"tags": [f"t{i}" for i in range(6)]}, "limits.max_tags", "6 tags given, over the limit of 5"),
        ({"tags": ["x" * 13]}, "limits.max_tag_chars", "has 13 characters, over the limit of 12"),
        ({"name": "n" * 51}, "limits.max_name_chars", "the name has 51 characters, over the limit of 50"),
        ({"description": "d" * 501}, "limits.max_description_chars", "over the limit of 500"),
        ({"system": "s" * 10_001}, "limits.max_system_chars", "over the limit of 10000"),
        ({"max_steps": 21}, "limits.max_steps", "max_steps 21 is above the limit of 20"),
        ({"context_window": 64_001}, "limits.context_window", "above the limit of 64000 tokens"),
        ({"model": "other/llama3.1"}, "limits.allowed_models", "model 'other/llama3.1' is not allowed"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("limits.") else "",
)
async def test_create_agent_over_a_limit_is_refused(
    client: Client, service: AgentService, arguments: dict[str, Any], setting: str, detail: str
) -> None:
    message = await refused(client, service, "create_agent", {"name": "a", **arguments})
    assert detail in message
    assert f"(setting `{setting}`)" in message
    assert "principal 'local'" in message


async def test_update_agent_over_a_limit_is_refused_and_changes_nothing(client: Client, service: AgentService) -> None:
    with anyio.fail_after(30):
        agent_id = ok(await client.call_tool("create_agent", {"name": "a", "tags": ["one"]}))["id"]
    message = await refused(
        client, service, "update_agent", {"agent_id": agent_id, "tags": [f"t{i}" for i in range(6)]}
    )
    assert "6 tags given, over the limit of 5 (setting `limits.max_tags`)" in message
    message = await refused(client, service, "update_agent", {"agent_id": agent_id, "model": "other/llama3.1"})
    assert "(setting `limits.allowed_models`)" in message
    message = await refused(client, service, "update_agent", {"agent_id": agent_id, "max_steps": 500})
    assert "(setting `limits.max_steps`)" in message


async def test_send_message_asking_for_more_steps_than_allowed_is_refused(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    with anyio.fail_after(30):
        agent_id = ok(await client.call_tool("create_agent", {"name": "a"}))["id"]
    message = await refused(client, service, "send_message", {"agent_id": agent_id, "message": "hi", "max_steps": 21})
    assert "max_steps 21 is above the limit of 20 (setting `limits.max_steps`)" in message
    assert scripted.requests == []


async def test_within_the_limits_everything_works(client: Client) -> None:
    with anyio.fail_after(30):
        created = ok(
            await client.call_tool(
                "create_agent",
                {"name": "a", "tags": ["a", "b", "c", "d", "e"], "max_steps": 20, "context_window": 64_000},
            )
        )
        updated = ok(await client.call_tool("update_agent", {"agent_id": created["id"], "tags": ["x" * 12]}))
    assert created["model"] == "openai/gpt-4o-mini"
    assert updated["tags"] == ["x" * 12]


async def test_a_principal_override_wins_and_is_named(tmp_path: Path, scripted: ScriptedProvider) -> None:
    """[limits.principals.local] holds the local user to another provider: even the default model is refused."""
    settings = load_settings(
        overrides={
            "data_dir": str(tmp_path / "data"),
            "providers": {"other": {"base_url": "http://127.0.0.1:9/v1"}},
            "limits": {**LIMITS, "principals": {"local": {"allowed_models": ["other/*"], "max_tags": 1}}},
        },
        environ={},
    )
    from letta_mcp.server import create_server

    service = await AgentService.open(settings, providers={"openai": scripted, "other": ScriptedProvider()})
    try:
        with anyio.fail_after(30):
            async with Client(create_server(service)) as client:
                message = await refused(client, service, "create_agent", {"name": "a"})
                assert "model 'openai/gpt-4o-mini' is not allowed; allowed: other/*" in message
                assert "(setting `limits.principals.local.allowed_models`)" in message
                message = await refused(client, service, "create_agent", {"model": "other/x", "tags": ["a", "b"]})
                assert "(setting `limits.principals.local.max_tags`)" in message
                ok(await client.call_tool("create_agent", {"model": "other/x", "tags": ["a"]}))
    finally:
        await service.close()


async def test_import_agent_over_a_limit_is_refused(client: Client, service: AgentService) -> None:
    """An Agent File may ask for no more than create_agent could: here, one tag too many."""
    with anyio.fail_after(30):
        agent_id = ok(
            await client.call_tool("create_agent", {"name": "a", "tags": ["a", "b", "c", "d", "e"], "max_steps": 20})
        )["id"]
        document = json.loads(ok(await client.call_tool("export_agent", {"agent_id": agent_id}))["document"])
    document["agents"][0]["tags"].append("f")
    message = await refused(client, service, "import_agent", {"document": json.dumps(document)})
    assert "6 tags given, over the limit of 5 (setting `limits.max_tags`)" in message
