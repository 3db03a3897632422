"""The agent tools over MCP: create_agent, list_agents, get_agent, update_agent, delete_agent.

Everything goes through an in-process `mcp.Client`; the model behind the agents is the
`scripted` provider, so what the model was sent can be asserted exactly.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import err, ok, snapshot

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Role
from letta_mcp.runtime.prompts import (
    DEFAULT_PERSONA,
    DEFAULT_SYSTEM_PROMPT,
    HUMAN_DESCRIPTION,
    PERSONA_DESCRIPTION,
)
from letta_mcp.runtime.tools import BUILTIN_TOOLS
from letta_mcp.service import AgentService
from letta_mcp.service.specs import DEFAULT_TOOLS

pytestmark = pytest.mark.anyio

# The memory editors and recall search every new agent gets (more defaults may be added).
MEMORY_TOOLS = [
    "memory_insert",
    "memory_replace",
    "memory_rethink",
    "core_memory_append",
    "core_memory_replace",
    "conversation_search",
]


async def create(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("create_agent", args))


def blocks_of(agent: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (b["label"], b["value"], b["limit"], b["description"], b["read_only"], b["version"]) for b in agent["blocks"]
    ]


# --- create_agent --------------------------------------------------------------------------------


async def test_create_agent_defaults(client: Client, scripted: ScriptedProvider) -> None:
    agent = await create(client)

    assert re.fullmatch(r"agent-[0-9a-f-]{36}", agent["id"])
    assert re.fullmatch(r"agent-\d{14}", agent["name"])
    assert agent["model"] == "openai/gpt-4o-mini"
    assert agent["tools"] == list(DEFAULT_TOOLS)
    assert [t for t in agent["tools"] if t in MEMORY_TOOLS] == MEMORY_TOOLS
    assert agent["system"] == DEFAULT_SYSTEM_PROMPT
    assert agent["tags"] == []
    assert agent["description"] is None
    assert agent["max_steps"] == 50
    assert (agent["messages_in_history"], agent["messages_in_context"]) == (1, 1)
    assert blocks_of(agent) == [
        ("persona", DEFAULT_PERSONA, 5000, PERSONA_DESCRIPTION, False, 1),
        ("human", "", 5000, HUMAN_DESCRIPTION, False, 1),
    ]
    fetched = ok(await client.call_tool("get_agent", {"agent_id": agent["id"]}))
    assert fetched == agent

    scripted.add(reply("Hello!"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hi"}))
    [request] = scripted.requests
    assert request.model == "gpt-4o-mini"
    assert [t.name for t in request.tools] == list(DEFAULT_TOOLS)
    system = request.messages[0]
    assert system.role is Role.system
    assert system.content.startswith(DEFAULT_SYSTEM_PROMPT + "\n\n<memory_blocks>\n")
    assert f"<value>\n{DEFAULT_PERSONA}\n</value>" in system.content
    assert f"- AGENT_ID: {agent['id']}" in system.content
    assert [(m.role, m.content) for m in request.messages[1:]] == [(Role.user, "hi")]


async def test_create_agent_with_every_option(client: Client, scripted: ScriptedProvider) -> None:
    agent = await create(
        client,
        name="support-bot",
        persona="I am Ada, a support agent.",
        human="Name: Sam",
        blocks=[
            {"label": "notes", "value": "- likes tea", "limit": 100, "description": "Running notes"},
            {"label": "policy", "value": "No refunds.", "read_only": True},
        ],
        system="You are Ada.",
        model="openai/gpt-4.1-mini",
        tags=["vip", "support", "vip"],
        description="Helps Sam",
        max_steps=7,
        tools=["memory_replace", "conversation_search"],
    )

    assert agent["name"] == "support-bot"
    assert agent["system"] == "You are Ada."
    assert agent["model"] == "openai/gpt-4.1-mini"
    assert agent["tags"] == ["support", "vip"]  # sorted, deduplicated
    assert agent["description"] == "Helps Sam"
    assert agent["max_steps"] == 7
    assert agent["tools"] == ["memory_replace", "conversation_search"]
    assert blocks_of(agent) == [
        ("persona", "I am Ada, a support agent.", 5000, PERSONA_DESCRIPTION, False, 1),
        ("human", "Name: Sam", 5000, HUMAN_DESCRIPTION, False, 1),
        ("notes", "- likes tea", 100, "Running notes", False, 1),
        ("policy", "No refunds.", 5000, None, True, 1),
    ]

    scripted.add(reply("ok"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hi"}))
    [request] = scripted.requests
    assert request.model == "gpt-4.1-mini"
    assert [t.name for t in request.tools] == ["memory_replace", "conversation_search"]
    system = request.messages[0].content
    assert system.startswith("You are Ada.\n\n<memory_blocks>\n")
    assert (
        "<notes>\n<description>\nRunning notes\n</description>\n<metadata>\n- chars_current=11\n"
        "- chars_limit=100\n</metadata>\n<value>\n- likes tea\n</value>\n</notes>"
    ) in system
    assert (
        "<policy>\n<description>\n\n</description>\n<metadata>\n- read_only=true\n- chars_current=11\n"
        "- chars_limit=5000\n</metadata>\n<value>\nNo refunds.\n</value>\n</policy>"
    ) in system
    assert "<value>\nName: Sam\n</value>" in system


async def test_blocks_override_persona_and_long_values_raise_the_default_limit(client: Client) -> None:
    long_value = "x" * 6000
    agent = await create(
        client, blocks=[{"label": "persona", "value": "Terse.", "limit": 50}, {"label": "archive", "value": long_value}]
    )
    assert blocks_of(agent) == [
        ("persona", "Terse.", 50, PERSONA_DESCRIPTION, False, 1),
        ("human", "", 5000, HUMAN_DESCRIPTION, False, 1),
        ("archive", long_value, 6000, None, False, 1),
    ]


async def test_core_memory_marker_places_memory_inside_a_custom_system_prompt(
    client: Client, scripted: ScriptedProvider
) -> None:
    agent = await create(client, system="Rules first.\n{CORE_MEMORY}\nRules last.", human="Name: Sam")
    scripted.add(reply("ok"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hi"}))

    system = scripted.requests[0].messages[0].content
    assert system.startswith("Rules first.\n<memory_blocks>\nThe following memory blocks")
    assert system.endswith("use tools to access them)\n</memory_metadata>\nRules last.")
    assert "{CORE_MEMORY}" not in system
    assert system.count("<memory_blocks>") == 1
    assert "<value>\nName: Sam\n</value>" in system


CREATE_REFUSALS: list[tuple[dict[str, Any], str]] = [
    (
        {"persona": "A", "blocks": [{"label": "persona", "value": "B"}]},
        "'persona' was given both as an argument and in blocks; give it once.",
    ),
    ({"blocks": [{"label": "notes"}, {"label": "notes"}]}, "Block labels in blocks must be unique."),
    ({"blocks": [{"label": "my notes"}]}, "Invalid block label 'my notes': use letters, digits, '_' or '-'"),
    (
        {"blocks": [{"label": "notes", "value": "x" * 101, "limit": 100}]},
        "Block 'notes' has 101 characters, over its limit of 100. Shorten the value or raise the limit.",
    ),
    (
        {"tools": ["memory_insert", "web_search"]},
        f"Unknown tool(s): web_search. Available tools: {', '.join(BUILTIN_TOOLS)}.",
    ),
    (
        {"model": "anthropic/claude-3-5-sonnet"},
        "No provider named 'anthropic' for model 'anthropic/claude-3-5-sonnet' (configured providers: openai).",
    ),
    ({"model": "gpt-4o"}, "Model handle 'gpt-4o' is not of the form 'provider/model'"),
    ({"template": "nope"}, "No template named 'nope'. Call list_templates to see the templates."),
]


async def test_create_agent_rejects_bad_requests_without_writing(client: Client, service: AgentService) -> None:
    before = await snapshot(service)
    wrong = []
    for args, message in CREATE_REFUSALS:
        result = await client.call_tool("create_agent", args)
        text = result.content[0].text
        if not (result.is_error and text.startswith("Error executing tool create_agent: ") and message in text):
            wrong.append((args, text))
    assert wrong == []
    assert await snapshot(service) == before
    assert before["agents"] == []


# --- list_agents ---------------------------------------------------------------------------------


async def test_list_agents_filters_by_tags_and_name_and_pages(client: Client) -> None:
    a = await create(client, name="alpha-one", tags=["team:x", "vip"])
    b = await create(client, name="beta", tags=["team:x"])
    c = await create(client, name="alpha-two", tags=["vip"])
    d = await create(client, name="gamma")

    async def names(**args: Any) -> tuple[list[str], int | None]:
        page = ok(await client.call_tool("list_agents", args))
        return [x["name"] for x in page["agents"]], page["next_offset"]

    assert await names() == (["gamma", "alpha-two", "beta", "alpha-one"], None)  # newest first
    assert await names(tags=["vip"]) == (["alpha-two", "alpha-one"], None)
    assert await names(tags=["team:x", "vip"]) == (["alpha-two", "beta", "alpha-one"], None)
    assert await names(tags=["team:x", "vip"], match_all_tags=True) == (["alpha-one"], None)
    assert await names(name="alpha") == (["alpha-two", "alpha-one"], None)
    assert await names(name="two", tags=["vip"]) == (["alpha-two"], None)
    assert await names(tags=["nobody"]) == ([], None)
    assert await names(limit=3) == (["gamma", "alpha-two", "beta"], 3)
    assert await names(limit=3, offset=3) == (["alpha-one"], None)
    assert await names(limit=2, offset=2) == (["beta", "alpha-one"], None)  # exactly the last page
    assert await names(limit=1, offset=1) == (["alpha-two"], 2)

    page = ok(await client.call_tool("list_agents", {"name": "beta"}))
    assert page["agents"] == [{k: b[k] for k in ("id", "name", "description", "model", "tags", "created_at")}]
    assert {a["id"], b["id"], c["id"], d["id"]} == {
        x["id"] for x in ok(await client.call_tool("list_agents", {}))["agents"]
    }


# --- get_agent -----------------------------------------------------------------------------------


async def test_get_agent_counts_messages(client: Client, scripted: ScriptedProvider) -> None:
    agent = await create(client, human="Name: Sam")
    scripted.add(reply("Hi Sam"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hello"}))

    fetched = ok(await client.call_tool("get_agent", {"agent_id": agent["id"]}))
    assert (fetched["messages_in_history"], fetched["messages_in_context"]) == (3, 3)
    assert blocks_of(fetched) == blocks_of(agent)
    assert {k: v for k, v in fetched.items() if not k.startswith("messages_")} == {
        k: v for k, v in agent.items() if not k.startswith("messages_")
    }


# --- update_agent --------------------------------------------------------------------------------


async def test_update_agent_changes_only_the_given_fields(client: Client) -> None:
    agent = await create(
        client, name="orig", description="desc", tags=["x"], max_steps=7, tools=["memory_insert"], system="Be brief."
    )
    summary = ok(await client.call_tool("update_agent", {"agent_id": agent["id"], "name": "renamed"}))
    assert (summary["id"], summary["name"], summary["description"], summary["tags"], summary["model"]) == (
        agent["id"],
        "renamed",
        "desc",
        ["x"],
        "openai/gpt-4o-mini",
    )

    after = ok(await client.call_tool("get_agent", {"agent_id": agent["id"]}))
    assert datetime.fromisoformat(after["updated_at"]) > datetime.fromisoformat(agent["updated_at"])
    unchanged = ("system", "model", "tools", "tags", "description", "max_steps", "blocks", "created_at")
    assert {k: after[k] for k in unchanged} == {k: agent[k] for k in unchanged}

    ok(
        await client.call_tool(
            "update_agent",
            {"agent_id": agent["id"], "tags": ["z", "y", "z"], "max_steps": 3, "description": "new desc"},
        )
    )
    after = ok(await client.call_tool("get_agent", {"agent_id": agent["id"]}))
    assert (
        after["name"],
        after["tags"],
        after["max_steps"],
        after["description"],
        after["system"],
        after["tools"],
    ) == ("renamed", ["y", "z"], 3, "new desc", "Be brief.", ["memory_insert"])


async def test_update_agent_system_model_and_tools_reach_the_model_next_turn(
    client: Client, scripted: ScriptedProvider
) -> None:
    agent = await create(client, system="You are a librarian.", human="Name: Sam")
    scripted.add(reply("Shh."), reply("Arr!"))
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "first"}))
    ok(
        await client.call_tool(
            "update_agent",
            {
                "agent_id": agent["id"],
                "system": "You are a pirate.",
                "model": "openai/gpt-4.1",
                "tools": ["conversation_search"],
            },
        )
    )
    ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "second"}))

    before, after = scripted.requests
    assert before.messages[0].content.startswith("You are a librarian.\n\n<memory_blocks>")
    assert after.messages[0].content.startswith("You are a pirate.\n\n<memory_blocks>")
    assert "librarian" not in after.messages[0].content
    assert "<value>\nName: Sam\n</value>" in after.messages[0].content  # memory kept
    assert (before.model, after.model) == ("gpt-4o-mini", "gpt-4.1")
    assert [t.name for t in after.tools] == ["conversation_search"]
    # History kept: the first exchange is still in the context after the change.
    assert [(m.role, m.content) for m in after.messages[1:]] == [
        (Role.user, "first"),
        (Role.assistant, "Shh."),
        (Role.user, "second"),
    ]


async def test_update_agent_rejects_bad_values_without_writing(client: Client, service: AgentService) -> None:
    agent = await create(client, name="keep")
    before = await snapshot(service)
    for args, message in [
        ({"model": "anthropic/claude"}, "No provider named 'anthropic' for model 'anthropic/claude'"),
        ({"tools": ["shell"]}, f"Unknown tool(s): shell. Available tools: {', '.join(BUILTIN_TOOLS)}."),
        ({"max_steps": 0}, "update_agent: 'max_steps' must be an integer between 1 and 1000, got 0"),
    ]:
        text = err(await client.call_tool("update_agent", {"agent_id": agent["id"], "name": "changed", **args}))
        assert message in text, args
    assert await snapshot(service) == before


# --- delete_agent --------------------------------------------------------------------------------


async def test_delete_agent_removes_history_and_leaves_others(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    doomed = await create(client, name="doomed")
    keeper = await create(client, name="keeper")
    scripted.add(reply("one"), reply("two"))
    ok(await client.call_tool("send_message", {"agent_id": doomed["id"], "message": "hello"}))
    ok(await client.call_tool("send_message", {"agent_id": keeper["id"], "message": "hello"}))
    keeper_rows = {t: [r for r in rows if keeper["id"] in r] for t, rows in (await snapshot(service)).items()}

    assert ok(await client.call_tool("delete_agent", {"agent_id": doomed["id"]})) == {
        "id": doomed["id"],
        "deleted": True,
    }

    missing = f"No agent with id '{doomed['id']}'. Call list_agents to see the agents that exist."
    for tool, extra in (
        ("get_agent", {}),
        ("list_messages", {}),
        ("get_memory", {}),
        ("delete_agent", {}),
        ("send_message", {"message": "still there?"}),
    ):
        assert err(await client.call_tool(tool, {"agent_id": doomed["id"], **extra})) == (
            f"Error executing tool {tool}: {missing}"
        )
    listed = ok(await client.call_tool("list_agents", {}))["agents"]
    assert [a["name"] for a in listed] == ["keeper"]

    rows = await snapshot(service)
    doomed_blocks = {b["id"] for b in doomed["blocks"]}
    for table, table_rows in rows.items():
        assert not [r for r in table_rows if doomed["id"] in r or doomed_blocks & set(r)], table
        assert [r for r in table_rows if keeper["id"] in r] == keeper_rows[table], table
    assert len(rows["blocks"]) == 2  # the keeper's persona and human
    assert len(scripted.requests) == 2  # the message to the deleted agent never reached the model
