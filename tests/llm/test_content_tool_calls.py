"""Reading tool calls that local servers leave as JSON text in ``content``."""

from __future__ import annotations

import json

import pytest

from letta_mcp.llm.content_tool_calls import tool_calls_in_content

TOOLS = {"core_memory_append", "conversation_search"}
CALL = '{"name": "core_memory_append", "arguments": {"label": "human", "content": "tea"}}'


@pytest.mark.parametrize(
    "content",
    [
        CALL,
        f"  {CALL}\n",
        f"```json\n{CALL}\n```",
        f"<tool_call>\n{CALL}\n</tool_call>",
        '{"name": "core_memory_append", "parameters": {"label": "human", "content": "tea"}}',  # Llama 3.1
        json.dumps({"type": "function", "function": json.loads(CALL)}),
    ],
)
def test_a_call_in_each_shape_servers_send_is_read(content: str) -> None:
    [call] = tool_calls_in_content(content, TOOLS)
    assert (call.name, json.loads(call.arguments)) == ("core_memory_append", {"label": "human", "content": "tea"})
    assert call.id.startswith("call_")


def test_a_list_is_several_calls() -> None:
    content = json.dumps([json.loads(CALL), {"name": "conversation_search", "arguments": {"query": "tea"}}])
    assert [c.name for c in tool_calls_in_content(content, TOOLS)] == ["core_memory_append", "conversation_search"]


@pytest.mark.parametrize(
    "content",
    [
        "I like tea.",
        f"Here is the call: {CALL}",  # prose around the JSON
        '{"name": "delete_everything", "arguments": {}}',  # not an offered tool
        f'[{CALL}, {{"name": "unknown", "arguments": {{}}}}]',  # one bad call spoils the list
        '{"name": "core_memory_append", "arguments": 3}',
        "",
    ],
)
def test_anything_else_stays_text(content: str) -> None:
    assert tool_calls_in_content(content, TOOLS) == []


def test_no_tools_offered_means_no_calls() -> None:
    assert tool_calls_in_content(CALL, set()) == []
