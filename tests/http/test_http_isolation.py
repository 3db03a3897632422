"""Principal isolation over real HTTP: bob cannot see, read, message, search or change alice's things.

The tools and resource templates are discovered from the server itself, so a tool added later is
checked without editing this file. For each one, bob's request about alice's object must fail
exactly like a request about an id that never existed (no existence leak), and must change nothing.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from http_harness import ServerProcess, Tokens, connect, error_text, ok
from mcp import Client, MCPError
from mcp.types import ResourceTemplate, Tool

from fake_openai import FakeOpenAI, text
from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


def _surface() -> tuple[list[Tool], list[ResourceTemplate]]:
    """The server's tools and resource templates, listed from an in-process server at collection."""

    async def main() -> tuple[list[Tool], list[ResourceTemplate]]:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = load_settings(overrides={"data_dir": data_dir}, environ={})
            service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
            try:
                async with Client(create_server(service)) as client:
                    return (await client.list_tools()).tools, (
                        await client.list_resource_templates()
                    ).resource_templates
            finally:
                await service.close()

    return anyio.run(main)


TOOLS, TEMPLATES = _surface()
AGENT_TOOLS = [t for t in TOOLS if "agent_id" in t.input_schema.get("properties", {})]
RUN_TOOLS = [t for t in TOOLS if "run_id" in t.input_schema.get("properties", {})]
# Arguments that let a call get past argument checks to the ownership check.
OVERRIDES: dict[str, dict[str, Any]] = {"update_block": {"label": "human", "value": "bob was here"}}


def sample(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A small value valid for ``schema`` (enough for the tools' own argument checks)."""
    if "$ref" in schema:
        return sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return sample(options[0], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(max(1, schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if kind == "array":
        return [sample(schema.get("items", {"type": "string"}), defs) for _ in range(schema.get("minItems", 0))]
    if kind == "object":
        return {name: sample(schema["properties"][name], defs) for name in schema.get("required", [])}
    return "x"


def arguments(tool: Tool, **ids: str) -> dict[str, Any]:
    schema = tool.input_schema
    defs = schema.get("$defs", {})
    args = {name: sample(schema["properties"][name], defs) for name in schema.get("required", [])}
    args.update(OVERRIDES.get(tool.name, {}))
    args.update({k: v for k, v in ids.items() if k in schema["properties"]})
    return args


def unknown(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


@dataclass(frozen=True)
class AliceWorld:
    agent_id: str
    run_id: str
    template: str


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def alice(auth_server: ServerProcess, tokens: Tokens, model: FakeOpenAI) -> AsyncIterator[AliceWorld]:
    """Alice's agent (with a message exchanged, so it has a run) and her template."""
    template = f"alices-template-{uuid.uuid4().hex[:8]}"
    async with connect(auth_server.mcp_url, tokens.alice) as client:
        agent = ok(await client.call_tool("create_agent", {"name": "alices-agent", "human": "Alice likes tea."}))
        model.script(text("Hello Alice."))
        sent = ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "Hi, I am Alice."}))
        ok(await client.call_tool("create_template", {"name": template, "agent_id": agent["id"]}))
    yield AliceWorld(agent["id"], sent["run_id"], template)


async def alice_state(server: ServerProcess, tokens: Tokens, world: AliceWorld) -> dict[str, Any]:
    async with connect(server.mcp_url, tokens.alice) as client:
        agent = ok(await client.call_tool("get_agent", {"agent_id": world.agent_id}))
        messages = ok(await client.call_tool("list_messages", {"agent_id": world.agent_id, "limit": 200}))
    return {"agent": agent, "messages": messages}


async def assert_same_as_unknown(client: Client, tool: Tool, key: str, real_id: str, prefix: str) -> str:
    fake_id = unknown(prefix)
    theirs = error_text(await client.call_tool(tool.name, arguments(tool, **{key: real_id})))
    missing = error_text(await client.call_tool(tool.name, arguments(tool, **{key: fake_id})))
    assert theirs.replace(real_id, "<ID>") == missing.replace(fake_id, "<ID>")
    return theirs


@pytest.mark.parametrize("tool", AGENT_TOOLS, ids=lambda t: t.name)
async def test_bob_cannot_use_alices_agent_through_any_tool(
    auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld, tool: Tool
) -> None:
    before = await alice_state(auth_server, tokens, alice)
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        message = await assert_same_as_unknown(client, tool, "agent_id", alice.agent_id, "agent")
    assert f"No agent with id {alice.agent_id!r}" in message
    assert await alice_state(auth_server, tokens, alice) == before


@pytest.mark.parametrize("tool", RUN_TOOLS, ids=lambda t: t.name)
async def test_bob_cannot_use_alices_runs(
    auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld, tool: Tool
) -> None:
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        message = await assert_same_as_unknown(client, tool, "run_id", alice.run_id, "run")
    assert "No run" in message


def fill(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.uri_template)
async def test_bob_cannot_read_alices_resources(
    auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld, template: ResourceTemplate
) -> None:
    fake_agent, fake_run = unknown("agent"), unknown("run")
    real = fill(template.uri_template, agent_id=alice.agent_id, run_id=alice.run_id, label="human")
    missing = fill(template.uri_template, agent_id=fake_agent, run_id=fake_run, label="human")
    async with connect(auth_server.mcp_url, tokens.alice) as client:
        assert (await client.read_resource(real)).contents  # alice can
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        with pytest.raises(MCPError) as theirs:
            await client.read_resource(real)
        with pytest.raises(MCPError) as never:
            await client.read_resource(missing)
    assert theirs.value.error.code == never.value.error.code
    normalized = str(theirs.value).replace(alice.agent_id, "<A>").replace(alice.run_id, "<R>")
    assert normalized == str(never.value).replace(fake_agent, "<A>").replace(fake_run, "<R>")


async def test_listings_show_only_own_things(auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld) -> None:
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        bobs = ok(await client.call_tool("create_agent", {"name": "bobs-agent"}))
        agents = [a["id"] for a in ok(await client.call_tool("list_agents", {"limit": 200}))["agents"]]
        templates = [t["name"] for t in ok(await client.call_tool("list_templates", {}))["templates"]]
        resource = (await client.read_resource("letta://agents")).contents[0].text
    assert bobs["id"] in agents and alice.agent_id not in agents
    assert alice.template not in templates
    assert bobs["id"] in resource and alice.agent_id not in resource
    async with connect(auth_server.mcp_url, tokens.ops) as client:  # the admin sees everyone's
        everyone = [a["id"] for a in ok(await client.call_tool("list_agents", {"limit": 200}))["agents"]]
    assert {alice.agent_id, bobs["id"]} <= set(everyone)


async def test_template_names_are_per_principal(auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld) -> None:
    async with connect(auth_server.mcp_url, tokens.bob) as client:
        refused = error_text(await client.call_tool("create_agent", {"template": alice.template}))
        assert refused.endswith(f"No template named {alice.template!r}. Call list_templates to see the templates.")
        mine = ok(await client.call_tool("create_agent", {"name": "bob-src", "human": "Bob likes coffee."}))
        # The same name as alice's template: no clash, and no hint that hers exists.
        ok(await client.call_tool("create_template", {"name": alice.template, "agent_id": mine["id"]}))
        copy = ok(await client.call_tool("create_agent", {"template": alice.template}))
    assert "Bob likes coffee." in str(copy["blocks"])
    async with connect(auth_server.mcp_url, tokens.alice) as client:
        hers = ok(await client.call_tool("create_agent", {"template": alice.template}))
    assert "Alice likes tea." in str(hers["blocks"])


async def test_completion_offers_only_own_agents(auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld) -> None:
    from mcp.types import PromptReference

    async with connect(auth_server.mcp_url, tokens.bob) as client:
        bobs = ok(await client.call_tool("create_agent", {"name": "bob-completion"}))
        ref = PromptReference(type="ref/prompt", name="chat_with_agent")
        offered = (await client.complete(ref, {"name": "agent_id", "value": "agent-"})).completion.values
        labels = await client.complete(
            ref, {"name": "label", "value": ""}, context_arguments={"agent_id": alice.agent_id}
        )
    assert bobs["id"] in offered and alice.agent_id not in offered
    assert labels.completion.values == []


async def test_bob_hears_nothing_about_alices_agent(
    auth_server: ServerProcess, tokens: Tokens, alice: AliceWorld
) -> None:
    async with connect(auth_server.mcp_url, tokens.bob) as bob:
        bobs = ok(await bob.call_tool("create_agent", {"name": "bob-listener"}))
        watched = [f"letta://agents/{alice.agent_id}/memory", f"letta://agents/{bobs['id']}/memory"]
        async with bob.listen(resource_subscriptions=watched) as events:
            async with connect(auth_server.mcp_url, tokens.alice) as alice_client:
                ok(
                    await alice_client.call_tool(
                        "update_block",
                        {"agent_id": alice.agent_id, "label": "human", "value": "Alice likes green tea."},
                    )
                )
            # Alice's edit was announced before her call returned; bob's own edit comes after it on
            # the same ordered stream, so the first event bob hears must be his own.
            ok(await bob.call_tool("update_block", {"agent_id": bobs["id"], "label": "human", "value": "Bob."}))
            with anyio.fail_after(10):
                first = await anext(aiter(events))
    assert first.uri == watched[1]
