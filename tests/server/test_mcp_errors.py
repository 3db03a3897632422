"""Error paths over MCP: unknown ids, schema violations and a misbehaving model.

Every refusal must come back as an ``is_error`` result whose text tells the caller what to do,
and must leave the database exactly as it was. A model's mistakes (malformed arguments,
unknown tools, endless tool calls) must not break the turn: the model reads a failed tool
result and can recover, within the step and invalid-call budgets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import err, ok, snapshot

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, ModelResponse, Role, ToolCall, Usage
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

MISSING = "agent-00000000-0000-4000-8000-000000000000"


async def create(client: Client, **args: Any) -> str:
    return ok(await client.call_tool("create_agent", args))["id"]


async def send(client: Client, agent_id: str, message: str = "hello", **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": message, **args}))


def tool_returns(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(envelope status, envelope message) of each tool return in a send_message result."""
    return [
        (json.loads(m["tool_return"])["status"], json.loads(m["tool_return"])["message"])
        for m in result["messages"]
        if m["message_type"] == "tool_return_message"
    ]


@pytest.fixture
async def agent_id(client: Client, scripted: ScriptedProvider) -> str:
    """An agent with one exchange behind it, so there is something that must stay untouched."""
    agent = await create(client, human="Name: Sam")
    scripted.add(reply("Hi Sam"))
    await send(client, agent)
    scripted.requests.clear()
    return agent


# --- unknown agent ids ---------------------------------------------------------------------------

# One test walks every tool (a fresh database per case would cost more than the cases themselves);
# the assertion compares whole dicts, so a failure still names every offending tool.

AGENT_TOOL_ARGS: dict[str, dict[str, Any]] = {
    "get_agent": {},
    "update_agent": {"name": "x", "system": "y"},
    "delete_agent": {},
    "send_message": {"message": "hello?"},
    "list_messages": {},
    "search_messages": {"query": "hello"},
    "get_memory": {},
    "update_block": {"label": "human", "value": "x"},
    "create_template": {"name": "tmpl"},
}


async def test_unknown_agent_id_is_refused_on_every_tool(
    client: Client, service: AgentService, scripted: ScriptedProvider, agent_id: str
) -> None:
    takes_agent_id = {t.name for t in (await client.list_tools()).tools if "agent_id" in t.input_schema["properties"]}
    assert takes_agent_id >= set(AGENT_TOOL_ARGS)  # tools added later need a case here too
    before = await snapshot(service)
    texts = {}
    for tool, args in AGENT_TOOL_ARGS.items():
        result = await client.call_tool(tool, {"agent_id": MISSING, **args})
        texts[tool] = (result.is_error, result.content[0].text)
    assert texts == {
        tool: (
            True,
            f"Error executing tool {tool}: No agent with id '{MISSING}'. "
            "Call list_agents to see the agents that exist.",
        )
        for tool in AGENT_TOOL_ARGS
    }
    assert await snapshot(service) == before
    assert scripted.requests == []


# --- arguments the schema rejects ----------------------------------------------------------------

# Each rejection is one line naming the tool, the argument and what it takes (issue 15 point 4).
SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("list_messages", {"limit": 0}, "list_messages: 'limit' must be an integer between 1 and 200, got 0"),
    ("list_messages", {"limit": 201}, "list_messages: 'limit' must be an integer between 1 and 200, got 201"),
    ("list_messages", {"order": "newest"}, """list_messages: 'order' must be one of "desc", "asc", got 'newest'"""),
    (
        "list_messages",
        {"roles": ["robot"]},
        """list_messages: 'roles[0]' must be one of "user", "assistant", "tool", "system", got 'robot'""",
    ),
    (
        "send_message",
        {},
        "send_message: argument 'message' is required (Only the new message; the agent keeps the rest.)",
    ),
    ("send_message", {"message": ""}, "send_message: 'message' must be a text of 1 to 1000000 characters, got ''"),
    (
        "send_message",
        {"message": "hi", "role": "assistant"},
        """send_message: 'role' must be one of "user", "system", got 'assistant'""",
    ),
    (
        "send_message",
        {"message": "hi", "max_steps": 0},
        "send_message: 'max_steps' must be an integer between 1 and 1000, got 0",
    ),
    ("search_messages", {"limit": 101}, "search_messages: 'limit' must be an integer between 1 and 100, got 101"),
    (
        "search_messages",
        {"end_date": "2024-13-01"},
        "search_messages: 'end_date' must be a date and time like '2024-05-01T09:30:00Z' or a date like "
        "'2024-05-01', got '2024-13-01'",
    ),
    ("update_block", {"label": "", "value": "x"}, "update_block: 'label' must be a text of 1 to 64 characters, got ''"),
    (
        "update_block",
        {"label": "human", "limit": 0},
        "update_block: 'limit' must be an integer between 1 and 1000000, got 0",
    ),
    ("create_template", {"name": ""}, "create_template: 'name' must be a text of 1 to 200 characters, got ''"),
    ("get_memory", {"agent_id": None}, "get_memory: 'agent_id' must be a text of at most 100 characters, got null"),
    (
        "list_agents",
        {"limit": "abc", "agent_id": None},
        "list_agents: 'limit' must be an integer between 1 and 200, got 'abc'",
    ),
    (
        "list_agents",
        {"offset": -1, "agent_id": None},
        "list_agents: 'offset' must be an integer between 0 and 1000000000000, got -1",
    ),
    (
        "create_agent",
        {"max_steps": 0, "agent_id": None},
        "create_agent: 'max_steps' must be an integer between 1 and 1000, got 0",
    ),
    (
        "create_agent",
        {"blocks": [{"label": "x", "limit": 0}], "agent_id": None},
        "create_agent: 'blocks[0].limit' must be an integer between 1 and 1000000, got 0",
    ),
    (
        "create_agent",
        {"tags": [""], "agent_id": None},
        "create_agent: 'tags[0]' must be a text of 1 to 64 characters, got ''",
    ),
]


async def test_schema_violations_are_refused_in_one_line_naming_the_argument(
    client: Client, service: AgentService, scripted: ScriptedProvider, agent_id: str
) -> None:
    before = await snapshot(service)
    wrong = []
    for tool, args, expected in SCHEMA_CASES:
        arguments = {"agent_id": agent_id, **args}
        if arguments["agent_id"] is None and tool in ("list_agents", "create_agent"):
            del arguments["agent_id"]  # these tools take no agent
        result = await client.call_tool(tool, arguments)
        if not (result.is_error and result.content[0].text == expected):
            wrong.append((tool, args, result.is_error, result.content[0].text))
    assert wrong == []
    assert await snapshot(service) == before
    assert scripted.requests == []


async def test_blank_message_is_refused_before_anything_is_stored(
    client: Client, service: AgentService, scripted: ScriptedProvider, agent_id: str
) -> None:
    before = await snapshot(service)
    text = err(await client.call_tool("send_message", {"agent_id": agent_id, "message": "  \n\t "}))
    assert text == ("Error executing tool send_message: message is empty; send the text the agent should respond to.")
    assert await snapshot(service) == before
    assert scripted.requests == []


# --- a model that keeps calling tools ------------------------------------------------------------


def search_forever(request: ModelRequest) -> ModelResponse:
    return call(
        "conversation_search",
        {"query": "anything"},
        usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
    )


async def test_max_steps_stops_a_model_that_never_replies(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client, max_steps=3)
    scripted.add(*[search_forever] * 5)

    result = await send(client, agent_id)
    assert (result["stop_reason"], result["reply"]) == ("max_steps", None)
    assert len(scripted.requests) == 3
    assert result["usage"] == {"prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45, "step_count": 3}
    assert [m["message_type"] for m in result["messages"]] == [
        "user_message",
        *["tool_call_message", "tool_return_message"] * 3,
    ]
    run = await service.get_run(result["run_id"])
    assert (run.status.value, run.stop_reason.value, run.step_count) == ("completed", "max_steps", 3)

    # The per-message cap overrides the agent's setting for one turn.
    result = await send(client, agent_id, "again", max_steps=2)
    assert (result["stop_reason"], result["usage"]["step_count"]) == ("max_steps", 2)
    assert len(scripted.requests) == 5


# --- malformed and unknown tool calls from the model ---------------------------------------------


async def test_malformed_tool_arguments_get_a_failed_result_the_model_can_fix(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    scripted.add(
        call("core_memory_append", '{"label": "human", "content": "Sam'),
        call("core_memory_append", {"label": "human", "content": "Name: Sam"}),
        reply("Got it, Sam."),
    )

    result = await send(client, agent_id, "I'm Sam")

    assert (result["stop_reason"], result["reply"]) == ("end_turn", "Got it, Sam.")
    assert tool_returns(result) == [
        (
            "Failed",
            "Error parsing arguments of core_memory_append: Unterminated string starting at (line 1, "
            "column 31). Arguments must be one JSON object matching the tool's schema; call the tool again.",
        ),
        ("OK", "Name: Sam"),
    ]
    assert [m["status"] for m in result["messages"] if m["message_type"] == "tool_return_message"] == [
        "error",
        "success",
    ]
    assert len(scripted.requests) == 3
    assert json.loads(scripted.requests[1].messages[-1].content)["status"] == "Failed"
    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
    assert memory["blocks"][1]["value"] == "Name: Sam"


async def test_invalid_tool_calls_get_failed_results_and_the_turn_goes_on(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent = ok(await client.call_tool("create_agent", {}))
    agent_id = agent["id"]
    available = ", ".join(agent["tools"])
    assert "memory_finish_edits" not in available
    scripted.add(
        ModelResponse(
            tool_calls=[
                ToolCall(id="c1", name="send_email", arguments='{"to": "sam@example.com"}'),
                # A built-in the agent was not given is as unknown as an invented one.
                ToolCall(id="c2", name="memory_finish_edits", arguments="{}"),
                ToolCall(id="c3", name="core_memory_append", arguments="[1, 2]"),
            ],
            finish_reason="tool_calls",
        ),
        reply("I cannot do that."),
    )
    before = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))["blocks"]

    result = await send(client, agent_id, "please")

    expected = [
        ("Failed", f"Tool not found: 'send_email'. Available tools: {available}."),
        ("Failed", f"Tool not found: 'memory_finish_edits'. Available tools: {available}."),
        ("Failed", "Arguments of core_memory_append must be a JSON object, not list."),
    ]
    assert tool_returns(result) == expected
    assert (result["stop_reason"], result["reply"]) == ("end_turn", "I cannot do that.")
    tool_messages = scripted.requests[1].messages[-3:]
    assert [(m.role, m.tool_call_id) for m in tool_messages] == [
        (Role.tool, "c1"),
        (Role.tool, "c2"),
        (Role.tool, "c3"),
    ]
    assert [(json.loads(m.content)["status"], json.loads(m.content)["message"]) for m in tool_messages] == expected
    assert ok(await client.call_tool("get_memory", {"agent_id": agent_id}))["blocks"] == before


async def test_three_invalid_calls_in_a_row_stop_the_turn(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    scripted.add(
        call("send_email", {}),
        call("core_memory_append", "{not json"),
        call("web_search", {"q": "x"}),
        reply("never reached"),
    )

    result = await send(client, agent_id)

    assert (result["stop_reason"], result["reply"]) == ("invalid_tool_call", None)
    assert len(scripted.requests) == 3
    assert scripted.remaining == 1
    run = await service.get_run(result["run_id"])
    assert (run.status.value, run.stop_reason.value, run.step_count) == ("failed", "invalid_tool_call", 3)
    assert run.error == (
        "The model made 3 invalid tool calls in a row (unknown tool or malformed arguments); the turn was stopped."
    )
    # The next message is answered normally.
    result = await send(client, agent_id, "hello again")
    assert (result["stop_reason"], result["reply"]) == ("end_turn", "never reached")


async def test_a_valid_call_resets_the_invalid_streak(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    scripted.add(
        call("send_email", {}),
        call("send_email", {}),
        call("conversation_search", {"query": "x"}),
        call("send_email", {}),
        call("send_email", {}),
        reply("Done."),
    )
    result = await send(client, agent_id)
    assert (result["stop_reason"], result["reply"]) == ("end_turn", "Done.")
    assert [status for status, _ in tool_returns(result)] == ["Failed", "Failed", "OK", "Failed", "Failed"]
    assert len(scripted.requests) == 6


async def test_empty_model_answer_ends_the_turn_as_invalid(
    client: Client, service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await create(client)
    scripted.add(ModelResponse(content="  ", finish_reason="stop"), reply("Hello!"))
    result = await send(client, agent_id)
    assert (result["stop_reason"], result["reply"]) == ("invalid_llm_response", None)
    assert [m["message_type"] for m in result["messages"]] == ["user_message"]
    run = await service.get_run(result["run_id"])
    assert (run.status.value, run.error) == (
        "failed",
        "The model returned an empty response (no text and no tool call).",
    )
    result = await send(client, agent_id, "hello?")
    assert result["reply"] == "Hello!"
    assert [(m.role, m.content) for m in scripted.requests[1].messages[1:]] == [
        (Role.user, "hello"),
        (Role.user, "hello?"),
    ]
