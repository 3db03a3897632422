"""A Letta agent's messages as our history rows: roles, content parts, tool calls and returns.

Letta's compiled system message is dropped (ours is compiled afresh from the blocks); a tool
message with several returns becomes one row per return; an approval request becomes the
assistant's tool call and an approval answer is dropped (the tool message after it carries the
outcome); MemGPT-style inner monologue becomes reasoning. In-context messages whose tool call and
result are not both in context leave the window (models reject them) but stay in history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from letta_mcp.llm.tokens import estimate_message
from letta_mcp.models import Message, Role, ToolCall, new_id
from letta_mcp.service.agentfile.errors import AgentFileError, index_ids, resolve
from letta_mcp.service.agentfile.schema import AgentRecord, MessageRecord

# Agent types whose assistant text beside a tool call is inner monologue (MemGPT style: the
# visible reply goes through send_message), so it becomes reasoning rather than something said.
_MONOLOGUE_TYPES = frozenset(
    {"memgpt_agent", "memgpt_v2_agent", "sleeptime_agent", "split_thread_agent", "voice_convo_agent"}
)
_ROLES = {"system": Role.system, "user": Role.user, "assistant": Role.assistant, "tool": Role.tool}


def convert_history(
    record: AgentRecord, agent_id: str, kinds: dict[str, str], now: datetime, notes: list[str], who: str
) -> list[Message]:
    """Our history rows for ``record``'s messages (seq from 1; the system message is not among them)."""
    index_ids("message", record.messages)
    in_context = set(record.in_context_message_ids)
    by_id = {m.id: m for m in record.messages}
    for ref in record.in_context_message_ids:
        resolve(who, "message", ref, by_id)
    # The system message heading the context is Letta's compiled prompt; ours is compiled afresh.
    head = next(
        (ref for ref in record.in_context_message_ids if by_id[ref].role == "system"),
        record.messages[0].id if record.messages and record.messages[0].role == "system" else None,
    )
    monologue = record.agent_type in _MONOLOGUE_TYPES
    tool_names: dict[str, str] = {}
    out: list[Message] = []
    for m in record.messages:
        if m.id == head:
            continue
        for role, content, reasoning, calls, call_id in _convert(m, monologue, who):
            for call in calls:
                tool_names[call.id] = call.name
            message = Message(
                id=new_id("message"),
                agent_id=agent_id,
                seq=len(out) + 1,
                role=role,
                content=content,
                reasoning=reasoning,
                tool_calls=calls,
                tool_call_id=call_id,
                tool_name=(tool_names.get(call_id) or m.name) if role is Role.tool else None,
                in_context=m.id in in_context,
                kind=kinds.get(m.id or ""),
                created_at=utc(m.created_at, now),
            )
            message.tokens = estimate_message(message)
            out.append(message)
    evicted = _evict_unpaired(out)
    if evicted:
        notes.append(
            f"{who}: {evicted} in-context message(s) with a tool call or result missing its other half were "
            "kept in history but left out of the context window (models reject unpaired tool calls)."
        )
    return out


def _convert(
    m: MessageRecord, monologue: bool, who: str
) -> list[tuple[Role, str | None, str | None, list[ToolCall], str | None]]:
    """Our message(s) for one Letta message: a tool message with several returns becomes one per
    return; an approval request becomes the assistant's tool call; an approval answer is dropped
    (the tool message after it carries the outcome)."""
    text, reasoning = _content(m)
    calls = [ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in m.tool_calls or []]
    if m.role == "approval":
        return [(Role.assistant, text, reasoning, calls, None)] if calls else []
    if m.role in ("tool", "function"):
        returns = [r for r in m.tool_returns or [] if r.tool_call_id]
        if len(returns) > 1 or (returns and m.tool_call_id is None):
            return [(Role.tool, r.func_response, None, [], r.tool_call_id) for r in returns]
        response = returns[0].func_response if returns and returns[0].func_response is not None else text
        return [(Role.tool, response, None, [], m.tool_call_id)]
    role = _ROLES.get(m.role)
    if role is None:
        raise AgentFileError(f"{who}: message {m.id} has the role {m.role!r}, which letta-mcp can't represent.")
    if role is Role.assistant and monologue and calls and text:
        reasoning, text = "\n".join(p for p in (reasoning, text) if p), None
    if role is Role.user and text:
        text = _unwrap_user_message(text)
    return [(role, text, reasoning, calls, None)]


def _content(m: MessageRecord) -> tuple[str | None, str | None]:
    if isinstance(m.content, str):
        return m.content, None
    if m.content is None:
        return m.text, None
    texts = [p.text for p in m.content if p.type == "text" and p.text is not None]
    thoughts = [p.reasoning for p in m.content if p.type == "reasoning" and p.reasoning]
    return ("\n".join(texts) if texts else None), ("\n".join(thoughts) if thoughts else None)


def _unwrap_user_message(text: str) -> str:
    """MemGPT-era user messages are JSON envelopes ``{"type": "user_message", "message": …}``: keep what
    the user said, so recall search and the model see the words (other envelopes stay as they are)."""
    if not text.startswith("{"):
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(data, dict) and data.get("type") == "user_message" and isinstance(data.get("message"), str):
        return data["message"]
    return text


def _evict_unpaired(messages: list[Message]) -> int:
    """Take tool calls without results (and results without calls) out of the context window."""
    context = [m for m in messages if m.in_context]
    calls = {c.id for m in context for c in m.tool_calls}
    results = {m.tool_call_id for m in context if m.role is Role.tool}
    evicted = 0
    for m in context:
        unpaired = (m.role is Role.tool and m.tool_call_id not in calls) or any(
            c.id not in results for c in m.tool_calls
        )
        if unpaired:
            m.in_context = False
            evicted += 1
    return evicted


def utc(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
