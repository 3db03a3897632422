"""Sampling: lending the calling MCP client's model to ``client``-model agents.

The one module that speaks MCP sampling, which the 2026-07-28 spec deprecates (SEP-2577): when it
goes, this file and its binding in the message tools go with it. `client_model(ctx)` says how the
caller can lend its model; `llm.client_model` carries that to the agent's turn.

A turn makes one model call per step, in the middle of the tool call. Only the 2025-11-25 era has
the back-channel for that (server-to-client requests mid-call); 2026-07-28 clients get a clear error.
When the client declares tools in sampling the agent's tools go as sampling tools; otherwise the
model is asked to write a tool call as a JSON object in its text, which is parsed back here.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    CreateMessageResult,
    CreateMessageResultWithTools,
    SamplingMessage,
    TextContent,
    Tool,
    ToolChoice,
    ToolResultContent,
    ToolUseContent,
)
from mcp_types.version import is_version_at_least

from letta_mcp.models import ChatMessage, ModelRequest, ModelResponse, Role, ToolCall, ToolSchema, new_id
from letta_mcp.service import ClientModel, ClientModelError

_NO_BACK_CHANNEL_SINCE = "2026-07-28"
_DEFAULT_MAX_TOKENS = 4096
_UNAVAILABLE = "This agent thinks with the calling MCP client's model (model 'client'), but "
_JSON_TOOLS = """
# Calling tools
To call a tool, answer with only a JSON object and nothing else:
{{"tool": "<tool name>", "arguments": {{...}}}}
To answer the user, write plain text (not JSON). Tools (name: description; JSON schema of arguments):
{tools}"""


def client_model(ctx: Context | None) -> ClientModel:
    """How the client of this request can lend its model, or why it cannot."""
    caps = ctx.client_capabilities if ctx is not None else None
    version = (ctx.protocol_version or "") if ctx is not None else ""
    if (
        ctx is not None
        and not is_version_at_least(version, _NO_BACK_CHANNEL_SINCE)
        and not ctx.session.can_send_request
    ):
        # A stateless HTTP server (replicas) answers each request on its own: no session holds
        # the client's capabilities, and nothing can reach the client until its next request.
        return ClientModel(
            None,
            _UNAVAILABLE + "this server keeps no session between your requests (stateless replicas behind a load "
            "balancer), so it cannot ask your client's model anything during a call.",
        )
    if ctx is None or caps is None or caps.sampling is None:
        return ClientModel(None, _UNAVAILABLE + "your MCP client does not support sampling (it did not declare it).")
    if is_version_at_least(version, _NO_BACK_CHANNEL_SINCE):
        return ClientModel(
            None,
            _UNAVAILABLE + f"your client connected with MCP {version}, which cannot sample the client's model "
            "during a call; connect with protocol 2025-11-25.",
        )
    with_tools = caps.sampling.tools is not None

    async def sample(request: ModelRequest) -> ModelResponse:
        return await _sample(ctx, request, with_tools=with_tools)

    return ClientModel(sample)


async def _sample(ctx: Context, request: ModelRequest, *, with_tools: bool) -> ModelResponse:
    system, rest = _split_system(request.messages)
    kwargs: dict[str, Any] = {}
    if with_tools and request.tools:
        messages = _tool_messages(rest)
        tools = request.tools
        mode = request.tool_choice
        if mode not in ("auto", "required", "none"):  # one named tool: offer only it, and require it
            tools, mode = [t for t in tools if t.name == mode], "required"
        kwargs = {
            "tools": [Tool(name=t.name, description=t.description, input_schema=t.parameters) for t in tools],
            "tool_choice": ToolChoice(mode=mode),
        }
    else:
        messages = _text_messages(rest)
        if request.tools:
            system += _JSON_TOOLS.format(tools=_describe(request.tools))
    try:
        with warnings.catch_warnings():
            # Deliberate: sampling is deprecated in the 2026 spec, and this module is where it lives.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            pending = ctx.session.create_message(
                messages,
                max_tokens=request.max_tokens or _DEFAULT_MAX_TOKENS,
                system_prompt=system or None,
                temperature=request.temperature,
                related_request_id=ctx.request_id,
                **kwargs,
            )
        result = await pending
    except MCPError as e:
        raise ClientModelError(f"The MCP client's model failed to answer: {e.error.message}") from e
    return _response(result, request.tools if not kwargs else [])


def _split_system(messages: list[ChatMessage]) -> tuple[str, list[ChatMessage]]:
    """The leading system messages as the system prompt; later ones stay in place."""
    lead = 0
    while lead < len(messages) and messages[lead].role is Role.system:
        lead += 1
    return "\n\n".join(m.content or "" for m in messages[:lead]), messages[lead:]


def _text(text: str) -> TextContent:
    return TextContent(type="text", text=text)


def _tool_messages(messages: list[ChatMessage]) -> list[SamplingMessage]:
    """Messages with tool calls as `ToolUseContent` and results as `ToolResultContent`; consecutive
    results share one user message, as sampling requires."""
    out: list[SamplingMessage] = []
    for m in messages:
        if m.role is Role.tool:
            block = ToolResultContent(tool_use_id=m.tool_call_id or "", content=[_text(m.content or "")])
            last = out[-1] if out else None
            if last is not None and isinstance(last.content, list) and isinstance(last.content[0], ToolResultContent):
                last.content.append(block)
            else:
                out.append(SamplingMessage(role="user", content=[block]))
        elif m.role is Role.assistant and m.tool_calls:
            blocks: list[Any] = [_text(m.content)] if m.content else []
            blocks += [ToolUseContent(id=c.id, name=c.name, input=_arguments(c.arguments)) for c in m.tool_calls]
            out.append(SamplingMessage(role="assistant", content=blocks))
        else:
            out.append(_plain(m))
    return out


def _text_messages(messages: list[ChatMessage]) -> list[SamplingMessage]:
    """Everything as text, tool calls in the same JSON shape the model is asked to write."""
    out: list[SamplingMessage] = []
    for m in messages:
        if m.role is Role.tool:
            out.append(SamplingMessage(role="user", content=_text(f"Result of tool {m.name}: {m.content or ''}")))
        elif m.role is Role.assistant and m.tool_calls:
            calls = [json.dumps({"tool": c.name, "arguments": _arguments(c.arguments)}) for c in m.tool_calls]
            out.append(SamplingMessage(role="assistant", content=_text("\n".join(calls))))
        else:
            out.append(_plain(m))
    return out


def _plain(m: ChatMessage) -> SamplingMessage:
    if m.role is Role.system:  # sampling has no system role mid-conversation
        return SamplingMessage(role="user", content=_text(f"[system notice] {m.content or ''}"))
    role = "assistant" if m.role is Role.assistant else "user"
    return SamplingMessage(role=role, content=_text(m.content or ""))


def _arguments(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _describe(tools: list[ToolSchema]) -> str:
    return "\n".join(f"- {t.name}: {t.description} {json.dumps(t.parameters, separators=(',', ':'))}" for t in tools)


def _response(
    result: CreateMessageResult | CreateMessageResultWithTools, json_tools: list[ToolSchema]
) -> ModelResponse:
    """Our response from the client's: text and `ToolUseContent` blocks, or (``json_tools``) a tool
    call written as JSON text."""
    blocks = result.content if isinstance(result.content, list) else [result.content]
    texts = [b.text for b in blocks if isinstance(b, TextContent)]
    calls = [
        ToolCall(id=b.id, name=b.name, arguments=json.dumps(b.input)) for b in blocks if isinstance(b, ToolUseContent)
    ]
    content = "\n".join(texts) or None
    if not calls and content and json_tools:
        call = _json_call(content, {t.name for t in json_tools})
        if call is not None:
            calls, content = [call], None
    finish = "tool_calls" if calls else ("length" if result.stop_reason == "maxTokens" else "stop")
    return ModelResponse(content=content, tool_calls=calls, finish_reason=finish, model=result.model)


def _json_call(text: str, names: set[str]) -> ToolCall | None:
    """A tool call the model wrote as ``{"tool": ..., "arguments": {...}}`` (code fences allowed)."""
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or value.get("tool") not in names:
        return None
    arguments = value.get("arguments", {})
    raw = json.dumps(arguments) if isinstance(arguments, dict) else str(arguments)
    return ToolCall(id=new_id("call"), name=value["tool"], arguments=raw)
