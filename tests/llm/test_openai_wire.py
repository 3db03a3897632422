"""Request bodies in the OpenAI wire format, each message encoded once (`letta_mcp.llm.openai_wire`)."""

from __future__ import annotations

import gc
import json
import weakref

from letta_mcp.llm.openai_wire import WireEncoder
from letta_mcp.models import ChatMessage, ModelRequest, Role, ToolCall, ToolSchema

SEARCH = ToolSchema(name="search", description="Find things.", parameters={"type": "object", "properties": {}})


def test_body_is_the_chat_completions_json() -> None:
    request = ModelRequest(
        model="m",
        messages=[
            ChatMessage(role=Role.system, content="Be brief. ünïcödé"),
            ChatMessage(role=Role.user, content="hi", name="alice"),
            ChatMessage(role=Role.assistant, tool_calls=[ToolCall(id="c1", name="search", arguments='{"q": 1}')]),
            ChatMessage(role=Role.tool, content="found", tool_call_id="c1", name="search"),
            ChatMessage(role=Role.assistant),
        ],
        tools=[SEARCH],
        tool_choice="search",
        max_tokens=5,
        temperature=0.0,
    )

    body = WireEncoder().body(request)

    assert "ünïcödé".encode() in body  # UTF-8 as the SDK sends it, not \u escapes
    assert json.loads(body) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief. ünïcödé"},
            {"role": "user", "content": "hi", "name": "alice"},
            {
                "role": "assistant",
                "content": None,  # null only beside tool calls
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"q": 1}'}}
                ],
            },
            {"role": "tool", "content": "found", "tool_call_id": "c1"},  # no name on tool messages
            {"role": "assistant", "content": ""},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "search",
                    "description": "Find things.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "search"}},
        "max_tokens": 5,
        "temperature": 0.0,
    }


def test_minimal_body_has_only_model_and_messages() -> None:
    body = WireEncoder().body(ModelRequest(model="m", messages=[ChatMessage(role=Role.user, content="x")]))
    assert json.loads(body) == {"model": "m", "messages": [{"role": "user", "content": "x"}]}


def test_messages_sent_again_and_new_ones_are_both_right() -> None:
    encoder = WireEncoder()
    kept = ChatMessage(role=Role.user, content="first")
    encoder.body(ModelRequest(model="m", messages=[kept], tools=[SEARCH]))
    later = ModelRequest(model="m", messages=[kept, ChatMessage(role=Role.assistant, content="second")], tools=[SEARCH])
    assert [m["content"] for m in json.loads(encoder.body(later))["messages"]] == ["first", "second"]


def test_encoder_does_not_keep_messages_alive() -> None:
    """Encodings live as long as their message object (the context cache's), not as long as the provider."""
    encoder = WireEncoder()
    message = ChatMessage(role=Role.user, content="bye")
    gone = weakref.ref(message)
    encoder.body(ModelRequest(model="m", messages=[message]))
    del message
    gc.collect()
    assert gone() is None
    # A new object that may reuse the freed id is encoded afresh.
    fresh = ChatMessage(role=Role.user, content="hello again")
    assert (
        json.loads(encoder.body(ModelRequest(model="m", messages=[fresh])))["messages"][0]["content"] == "hello again"
    )
