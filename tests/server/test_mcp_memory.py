"""Memory over MCP: get_memory, update_block, and the agent's own memory tools as a model drives them.

Block limits and read-only flags must hold on both paths (a client's update_block and the
agent's tool calls), and a refused edit must leave the block, its version and its history as
they were.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import err, ok

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import ModelResponse, ToolCall
from letta_mcp.runtime.prompts import DEFAULT_SYSTEM_PROMPT, HUMAN_DESCRIPTION
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

READ_ONLY = "Error This block is read-only and cannot be edited."
RECOMPILED = "- System prompt last recompiled: "


async def create(client: Client, **args: Any) -> str:
    return ok(await client.call_tool("create_agent", args))["id"]


async def block_state(service: AgentService, agent_id: str, label: str) -> tuple[Any, ...]:
    """(value, limit, read_only, description, version, history as (version, value, actor, reason))."""
    async with service.store.read() as q:
        block = await q.blocks.by_label(agent_id, label)
        assert block is not None
        history = await q.blocks.history(block.id)
    return (
        block.value,
        block.limit,
        block.read_only,
        block.description,
        block.version,
        [(h.version, h.value, h.actor, h.reason) for h in history],
    )


def calls(*specs: tuple[str, dict[str, Any]]) -> ModelResponse:
    """One model turn calling several tools (ids call_0, call_1, …)."""
    return ModelResponse(
        tool_calls=[
            ToolCall(id=f"call_{i}", name=name, arguments=json.dumps(args)) for i, (name, args) in enumerate(specs)
        ],
        finish_reason="tool_calls",
    )


def tool_returns(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(status, envelope status, envelope message) of each tool return in a send_message result."""
    out = []
    for m in result["messages"]:
        if m["message_type"] == "tool_return_message":
            envelope = json.loads(m["tool_return"])
            out.append((m["status"], envelope["status"], envelope["message"]))
    return out


def without_timestamp(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(RECOMPILED))


# --- get_memory ----------------------------------------------------------------------------------


async def test_get_memory_renders_what_the_model_sees(client: Client, scripted: ScriptedProvider) -> None:
    agent_id = await create(client, persona="I am Ada.", human="Name: Sam")
    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))

    assert memory["agent_id"] == agent_id
    assert [(b["label"], b["value"], b["chars_current"], b["limit"]) for b in memory["blocks"]] == [
        ("persona", "I am Ada.", 9, 5000),
        ("human", "Name: Sam", 9, 5000),
    ]
    rendered = memory["rendered"]
    assert rendered.startswith(
        "<memory_blocks>\nThe following memory blocks are currently engaged in your core memory unit:\n\n<persona>\n"
    )
    assert (
        f"<human>\n<description>\n{HUMAN_DESCRIPTION}\n</description>\n<metadata>\n- chars_current=9\n"
        "- chars_limit=5000\n</metadata>\n<value>\nName: Sam\n</value>\n</human>\n\n</memory_blocks>\n\n"
        f"<memory_metadata>\n- AGENT_ID: {agent_id}\n- CONVERSATION_ID: default\n{RECOMPILED}"
    ) in rendered
    assert rendered.endswith(
        "- 0 previous messages between you and the user are stored in recall memory"
        " (outside your context window; use tools to access them)\n</memory_metadata>"
    )

    scripted.add(reply("hi"))
    ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "hello"}))
    system = scripted.requests[0].messages[0].content
    assert without_timestamp(system) == without_timestamp(f"{DEFAULT_SYSTEM_PROMPT}\n\n{rendered}")


# --- update_block --------------------------------------------------------------------------------


async def test_update_block_value_description_and_limit_are_versioned_and_seen_next_turn(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, human="Name: Sam")

    out = ok(
        await client.call_tool(
            "update_block", {"agent_id": agent_id, "label": "human", "value": "Name: Sarah\nLikes: tea"}
        )
    )
    assert (out["label"], out["value"], out["chars_current"], out["limit"], out["version"], out["read_only"]) == (
        "human",
        "Name: Sarah\nLikes: tea",
        22,
        5000,
        2,
        False,
    )
    out = ok(
        await client.call_tool(
            "update_block", {"agent_id": agent_id, "label": "human", "description": "Facts about the user."}
        )
    )
    assert (out["value"], out["description"], out["version"]) == ("Name: Sarah\nLikes: tea", "Facts about the user.", 3)
    out = ok(await client.call_tool("update_block", {"agent_id": agent_id, "label": "human", "limit": 300}))
    assert (out["limit"], out["version"]) == (300, 4)

    assert await block_state(service, agent_id, "human") == (
        "Name: Sarah\nLikes: tea",
        300,
        False,
        "Facts about the user.",
        4,
        [
            (4, "Name: Sarah\nLikes: tea", "principal:local", "update_block"),
            (3, "Name: Sarah\nLikes: tea", "principal:local", "update_block"),
            (2, "Name: Sarah\nLikes: tea", "principal:local", "update_block"),
            (1, "Name: Sam", "principal:local", "create_agent"),
        ],
    )

    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
    assert memory["blocks"][1]["value"] == "Name: Sarah\nLikes: tea"

    scripted.add(reply("Hi Sarah"))
    ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "who am I?"}))
    system = scripted.requests[0].messages[0].content
    assert (
        "<human>\n<description>\nFacts about the user.\n</description>\n<metadata>\n- chars_current=22\n"
        "- chars_limit=300\n</metadata>\n<value>\nName: Sarah\nLikes: tea\n</value>\n</human>"
    ) in system
    assert "Name: Sam\n" not in system


async def test_update_block_value_and_limit_together(client: Client, service: AgentService) -> None:
    agent_id = await create(client, blocks=[{"label": "notes", "value": "a", "limit": 5}])
    out = ok(
        await client.call_tool(
            "update_block", {"agent_id": agent_id, "label": "notes", "value": "0123456789", "limit": 10}
        )
    )
    assert (out["value"], out["limit"], out["version"]) == ("0123456789", 10, 2)


async def test_update_block_refusals_change_nothing(client: Client, service: AgentService) -> None:
    agent_id = await create(client, blocks=[{"label": "human", "value": "Name: Sam", "limit": 20}])
    before = await block_state(service, agent_id, "human")
    assert before[4] == 1
    for args, message in [
        (
            {"value": "x" * 21},
            "Edit failed: Exceeds 20 character limit (requested 21). Memory block 'human' was "
            "not changed: the edit would leave it 1 characters over its limit.",
        ),
        ({"limit": 5}, "Edit failed: Exceeds 5 character limit (requested 9)."),
        ({"value": "0123456789ab", "limit": 10}, "Edit failed: Exceeds 10 character limit (requested 12)."),
        ({}, "Nothing to change: give value, limit, description or read_only."),
        ({"label": "nope", "value": "x"}, "has no block labelled 'nope'. Its blocks are: persona, human."),
    ]:
        text = err(await client.call_tool("update_block", {"agent_id": agent_id, "label": "human", **args}))
        assert text.startswith("Error executing tool update_block: "), args
        assert message in text, args
        assert await block_state(service, agent_id, "human") == before, args


async def test_update_block_keeps_read_only_blocks_unless_unlocked(client: Client, service: AgentService) -> None:
    agent_id = await create(client, blocks=[{"label": "policy", "value": "No refunds.", "read_only": True}])
    before = await block_state(service, agent_id, "policy")

    for args in ({"value": "Refunds OK."}, {"value": "Refunds OK.", "read_only": True}):
        text = err(await client.call_tool("update_block", {"agent_id": agent_id, "label": "policy", **args}))
        assert text == (
            f"Error executing tool update_block: {READ_ONLY} Block 'policy' is read-only: to change "
            "its value, pass read_only=false in the same call (or first)."
        )
        assert await block_state(service, agent_id, "policy") == before

    # Metadata of a read-only block can change; it stays read-only.
    out = ok(
        await client.call_tool("update_block", {"agent_id": agent_id, "label": "policy", "description": "Store policy"})
    )
    assert (out["value"], out["read_only"], out["description"], out["version"]) == (
        "No refunds.",
        True,
        "Store policy",
        2,
    )

    out = ok(
        await client.call_tool(
            "update_block", {"agent_id": agent_id, "label": "policy", "value": "Refunds OK.", "read_only": False}
        )
    )
    assert (out["value"], out["read_only"], out["version"]) == ("Refunds OK.", False, 3)
    out = ok(await client.call_tool("update_block", {"agent_id": agent_id, "label": "policy", "read_only": True}))
    assert (out["value"], out["read_only"], out["version"]) == ("Refunds OK.", True, 4)


# --- the agent's own memory tools -----------------------------------------------------------------


async def test_agent_memory_edit_succeeds_and_is_recorded(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, human="Name: Sam\nLikes: tea")
    scripted.add(
        calls(("memory_replace", {"label": "human", "old_string": "tea", "new_string": "coffee"})), reply("Noted.")
    )
    result = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "I prefer coffee now"}))
    assert tool_returns(result) == [
        (
            "success",
            "OK",
            "The core memory block with label `human` has been successfully edited. Review the changes and make "
            "sure they are as expected (correct indentation, no duplicate lines, etc). Edit the memory block "
            "again if necessary.",
        )
    ]
    value, *_, version, history = await block_state(service, agent_id, "human")
    assert (value, version) == ("Name: Sam\nLikes: coffee", 2)
    assert history[0] == (2, "Name: Sam\nLikes: coffee", f"agent:{agent_id}", "memory_replace")
    assert "<value>\nName: Sam\nLikes: coffee\n</value>" in scripted.requests[1].messages[0].content


async def test_agent_edits_over_the_limit_fail_and_leave_the_block(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, blocks=[{"label": "human", "value": "Name: Sam", "limit": 20}])
    before = await block_state(service, agent_id, "human")
    edits = [  # (tool, arguments, length the edit would have produced)
        ("core_memory_append", {"label": "human", "content": "Likes: green tea and biscuits"}, 39),
        ("memory_replace", {"label": "human", "old_string": "Sam", "new_string": "Samantha Longname-Smith"}, 29),
        ("core_memory_replace", {"label": "human", "old_content": "Sam", "new_content": "Samantha Longname"}, 23),
        ("memory_insert", {"label": "human", "new_string": "Likes: green tea and biscuits"}, 39),
        ("memory_rethink", {"label": "human", "new_memory": "x" * 25}, 25),
    ]
    scripted.add(calls(*[(tool, args) for tool, args, _ in edits]), reply("I could not save that."))

    result = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "remember this"}))

    returns = tool_returns(result)
    assert [(status, envelope) for status, envelope, _ in returns] == [("error", "Failed")] * len(edits)
    for (tool, _, requested), (_, _, message) in zip(edits, returns, strict=True):
        assert message.startswith(
            f"Edit failed: Exceeds 20 character limit (requested {requested}). Memory block 'human' was not "
            f"changed: the edit would leave it {requested - 20} characters over its limit."
        ), tool
    assert (result["stop_reason"], result["reply"]) == ("end_turn", "I could not save that.")
    assert await block_state(service, agent_id, "human") == before
    # The model read the failures and the unchanged block on its next step.
    second = scripted.requests[1]
    assert [json.loads(m.content)["message"] for m in second.messages[-len(edits) :]] == [m for _, _, m in returns]
    assert "<value>\nName: Sam\n</value>" in second.messages[0].content


async def test_agent_cannot_edit_a_read_only_block(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, blocks=[{"label": "policy", "value": "No refunds.", "read_only": True}])
    before = await block_state(service, agent_id, "policy")
    scripted.add(
        calls(
            ("memory_replace", {"label": "policy", "old_string": "No", "new_string": "All"}),
            ("core_memory_append", {"label": "policy", "content": "Except Sundays."}),
            ("core_memory_replace", {"label": "policy", "old_content": "No", "new_content": "All"}),
            ("memory_insert", {"label": "policy", "new_string": "Except Sundays."}),
            ("memory_rethink", {"label": "policy", "new_memory": "Refunds always."}),
        ),
        reply("Sorry, that policy is fixed."),
    )
    result = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "change the policy"}))
    assert tool_returns(result) == [("error", "Failed", READ_ONLY)] * 5
    assert result["reply"] == "Sorry, that policy is fixed."
    assert await block_state(service, agent_id, "policy") == before


async def test_memory_replace_needs_exactly_one_match(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, human="likes tea\nlikes tea\nName: Sam")
    before = await block_state(service, agent_id, "human")
    scripted.add(
        calls(
            ("memory_replace", {"label": "human", "old_string": "coffee", "new_string": "cocoa"}),
            ("memory_replace", {"label": "human", "old_string": "likes tea", "new_string": "likes cocoa"}),
            ("core_memory_replace", {"label": "human", "old_content": "coffee", "new_content": "cocoa"}),
            ("memory_replace", {"label": "nope", "old_string": "a", "new_string": "b"}),
        ),
        reply("Nothing matched."),
    )
    result = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "fix my memory"}))
    assert tool_returns(result) == [
        (
            "error",
            "Failed",
            "No replacement was performed, old_string `coffee` did not appear verbatim in memory "
            "block with label `human`.",
        ),
        (
            "error",
            "Failed",
            "No replacement was performed. Multiple occurrences of old_string `likes tea` in "
            "lines [1, 2]. Please ensure it is unique.",
        ),
        ("error", "Failed", "Old content 'coffee' not found in memory block 'human'"),
        ("error", "Failed", "Block field nope does not exist (available sections = persona, human)"),
    ]
    assert await block_state(service, agent_id, "human") == before
