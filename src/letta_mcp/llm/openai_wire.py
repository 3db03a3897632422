"""Chat requests as OpenAI-compatible JSON bodies, each message encoded once.

A step sends the agent's whole context window, and all of it but the newest messages went out on
the step before. The SDK's ``chat.completions.create`` runs every message of every request
through its typed transformation (typing introspection per field), which made building a request
most of a step's cost and grow with the window. Instead the body is assembled here from each
message's JSON text, encoded the first time that `ChatMessage` *object* is sent and reused for as
long as the object lives: the context cache (`runtime.context_cache`) keeps one `ChatMessage` per
in-context message and hands out the same objects on every step, so only new messages are encoded.

Messages are never modified once built (they mirror stored, immutable rows), which is what makes
remembering the encoding by identity correct; a rebuilt message is a new object and is encoded anew.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

from letta_mcp.models import ChatMessage, ModelRequest, Role, ToolSchema

_BUILTIN_TOOL_CHOICES = ("auto", "required", "none")


def _dumps(value: Any) -> str:
    # What the SDK sends too: compact, UTF-8 rather than \u escapes.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class WireEncoder:
    """Encodes requests; remembers each message's and tool's JSON text while that object lives."""

    def __init__(self) -> None:
        # UTF-8 bytes, not str: joining str parts where one is non-ASCII widens them all, and
        # encoding the widened body cost more than everything else here together.
        self._texts: dict[int, tuple[weakref.ref[ChatMessage | ToolSchema], bytes]] = {}

    def body(self, request: ModelRequest) -> bytes:
        """The request's ``/chat/completions`` JSON body."""
        fields: dict[str, Any] = {"model": request.model}
        parts = [b'{"messages":[', b",".join(self._texts_of(request.messages)), b"]"]
        if request.tools:
            parts += [b',"tools":[', b",".join(self._text(t) for t in request.tools), b"]"]
            choice = request.tool_choice
            fields["tool_choice"] = (
                choice if choice in _BUILTIN_TOOL_CHOICES else {"type": "function", "function": {"name": choice}}
            )
        if request.max_tokens is not None:
            fields["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            fields["temperature"] = request.temperature
        # `fields` always holds the model, so its text is a non-empty object to splice into.
        parts += [b",", _dumps(fields)[1:].encode()]
        return b"".join(parts)

    def _texts_of(self, messages: list[ChatMessage]) -> list[bytes]:
        # `_text` inlined: this runs once per in-context message per step.
        texts = self._texts
        out = []
        for message in messages:
            known = texts.get(id(message))
            out.append(known[1] if known is not None and known[0]() is message else self._text(message))
        return out

    def _text(self, item: ChatMessage | ToolSchema) -> bytes:
        key = id(item)
        known = self._texts.get(key)
        if known is not None and known[0]() is item:
            return known[1]
        text = _dumps(message_to_wire(item) if isinstance(item, ChatMessage) else tool_to_wire(item)).encode()
        # Forget the text when the object dies, before its id can be reused.
        self._texts[key] = (weakref.ref(item, lambda _, key=key: self._texts.pop(key, None)), text)
        return text


def message_to_wire(message: ChatMessage) -> dict[str, Any]:
    # Only an assistant message that carries tool calls may have null content.
    content = message.content
    if content is None and not (message.role is Role.assistant and message.tool_calls):
        content = ""
    wire: dict[str, Any] = {"role": message.role.value, "content": content}
    if message.role is Role.tool:
        wire["tool_call_id"] = message.tool_call_id
    elif message.name is not None:  # the wire format has no name on tool messages
        wire["name"] = message.name
    if message.role is Role.assistant and message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wire


def tool_to_wire(tool: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }
