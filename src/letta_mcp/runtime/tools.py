"""Executing the built-in agent tools.

A tool call runs inside the step's write transaction: memory tools read the block's current row
and write the new value in the same ``BEGIN IMMEDIATE`` transaction, so an edit made by another
process a moment earlier is never overwritten. What must not happen under that transaction (a
network call: embedding a search query; importing lancedb) is done first by `prepare_tools`.
Every outcome is a `ToolOutcome` whose message is what the model reads inside Letta's envelope
``{"status", "message", "time"}``; a `RuntimeToolError` becomes a failed outcome, verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from letta_mcp.models import Agent, Block, NewPassage, Role, ToolCall, new_id, utcnow
from letta_mcp.runtime import block_edits
from letta_mcp.runtime.archival import ArchivalMemory
from letta_mcp.runtime.blocks import create_block, save_block
from letta_mcp.runtime.errors import RuntimeToolError, ToolFailure
from letta_mcp.runtime.memory import format_time
from letta_mcp.runtime.message_index import MessageIndex, search_messages
from letta_mcp.runtime.multi_agent import MULTI_AGENT_TOOLS
from letta_mcp.runtime.tool_schemas import (
    ARCHIVAL_SEARCH_DEFAULT_TOP_K,
    ARCHIVAL_SEARCH_MAX_TOP_K,
    CONVERSATION_SEARCH_DEFAULT_LIMIT,
)
from letta_mcp.store import Queries

FUNCTION_RETURN_CHAR_LIMIT = 50_000
# Search results are exempt from truncation, as in Letta: the model asked for them, and a limit
# parameter already bounds their size.
_UNTRUNCATED = frozenset({"conversation_search", "archival_memory_search"})
_SEARCH_ROLES = (Role.user, Role.assistant)


@dataclass
class ToolContext:
    """What a tool may touch: the agent, the open write transaction, and the current step."""

    agent: Agent
    q: Queries
    run_id: str
    default_block_limit: int
    blocks_changed: bool = field(default=False)  # set when the system message must be recompiled
    archival: ArchivalMemory | None = None  # the archival engine (AgentLoop passes its own)
    message_index: MessageIndex | None = None  # message vectors (with an embedder) for conversation_search
    query_vectors: dict[str, list[float]] = field(default_factory=dict)  # by query, from `prepare_tools`
    done_outside: dict[str, tuple[bool, str]] = field(default_factory=dict)  # by call id, from `run_outside`


@dataclass(frozen=True)
class ToolOutcome:
    ok: bool
    message: str
    terminal: bool = False
    invalid_call: bool = False  # unknown tool, unparseable arguments or a tool-rule violation (the model's mistake)
    by_rule: bool = False  # terminal because of an exit_loop tool rule

    def envelope(self, now: datetime | None = None) -> str:
        """Letta's tool-return package, the JSON text the model reads as the tool result."""
        return json.dumps(
            {
                "status": "OK" if self.ok else "Failed",
                "message": self.message,
                "time": format_time(now or utcnow()),
            },
            ensure_ascii=False,
        )


Handler = Callable[..., Awaitable[str]]


async def execute_tool(ctx: ToolContext, call: ToolCall) -> ToolOutcome:
    """Run one tool call; never raises for the model's mistakes (they become failed outcomes)."""
    if call.id in ctx.done_outside:  # executed before the transaction (other agents, other MCP servers)
        ok, message = ctx.done_outside[call.id]
        return ToolOutcome(ok, _truncated(message))
    if call.name not in ctx.agent.tools or call.name not in _HANDLERS:
        available = ", ".join(t for t in ctx.agent.tools if t in _HANDLERS)
        return ToolOutcome(False, f"Tool not found: {call.name!r}. Available tools: {available}.", invalid_call=True)
    try:
        args = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError as e:
        return ToolOutcome(
            False,
            f"Error parsing arguments of {call.name}: {e.msg} (line {e.lineno}, column {e.colno}). "
            "Arguments must be one JSON object matching the tool's schema; call the tool again.",
            invalid_call=True,
        )
    if not isinstance(args, dict):
        return ToolOutcome(
            False,
            f"Arguments of {call.name} must be a JSON object, not {type(args).__name__}.",
            invalid_call=True,
        )
    # Models often send null for an optional parameter; treat it as absent.
    args = {k: v for k, v in args.items() if v is not None}
    try:
        message = await _HANDLERS[call.name](ctx, **args)
    except RuntimeToolError as e:
        return ToolOutcome(False, str(e))
    except (TypeError, ValueError) as e:
        text = f"Error executing function {call.name}: {type(e).__name__}: {e}"
        return ToolOutcome(False, text[:1000])
    if call.name not in _UNTRUNCATED:
        message = _truncated(message)
    return ToolOutcome(True, message, terminal=call.name == "memory_finish_edits")


def _truncated(message: str) -> str:
    if len(message) <= FUNCTION_RETURN_CHAR_LIMIT:
        return message
    return (
        message[:FUNCTION_RETURN_CHAR_LIMIT]
        + f"... [NOTE: function output was truncated since it exceeded the character limit"
        f" ({len(message)} > {FUNCTION_RETURN_CHAR_LIMIT})]"
    )


# --- memory tools -------------------------------------------------------------------------------


async def _editable_block(ctx: ToolContext, label: str) -> Block:
    block = await ctx.q.blocks.by_label(ctx.agent.id, label)
    if block is None:
        labels = [b.label for b in await ctx.q.blocks.for_agent(ctx.agent.id)]
        raise ToolFailure(f"Block field {label} does not exist (available sections = {', '.join(labels)})")
    if block.read_only:
        raise ToolFailure(block_edits.READ_ONLY_ERROR)
    return block


async def _save(ctx: ToolContext, block: Block, value: str, reason: str) -> Block:
    updated = await save_block(
        ctx.q,
        block,
        {"value": value},
        actor=f"agent:{ctx.agent.id}",
        reason=reason,
        run_id=ctx.run_id,
        editing_agent_id=ctx.agent.id,
    )
    ctx.blocks_changed = True
    return updated


def _edited_message(label: str) -> str:
    return (
        f"The core memory block with label `{label}` has been successfully edited. Review the changes "
        "and make sure they are as expected (correct indentation, no duplicate lines, etc). Edit the "
        "memory block again if necessary."
    )


async def _core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    block = await _editable_block(ctx, label)
    updated = await _save(ctx, block, block_edits.core_memory_append(block.value, content), "core_memory_append")
    return updated.value


async def _core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    block = await _editable_block(ctx, label)
    value = block_edits.core_memory_replace(block.value, old_content, new_content, label=label)
    updated = await _save(ctx, block, value, "core_memory_replace")
    return updated.value


async def _memory_replace(ctx: ToolContext, label: str, old_string: str, new_string: str) -> str:
    block = await _editable_block(ctx, label)
    value = block_edits.memory_replace(block.value, old_string, new_string, label=label)
    await _save(ctx, block, value, "memory_replace")
    return _edited_message(label)


async def _memory_insert(ctx: ToolContext, label: str, new_string: str, insert_line: int = -1) -> str:
    block = await _editable_block(ctx, label)
    value = block_edits.memory_insert(block.value, new_string, insert_line, label=label)
    await _save(ctx, block, value, "memory_insert")
    return _edited_message(label)


async def _memory_rethink(ctx: ToolContext, label: str, new_memory: str) -> str:
    block = await ctx.q.blocks.by_label(ctx.agent.id, label)
    if block is None:
        # As in Letta, rethinking a block that does not exist creates it.
        now = utcnow()
        new_block = Block(
            id=new_id("block"),
            label=label,
            value=block_edits.memory_rethink(new_memory),
            limit=ctx.default_block_limit,
            created_at=now,
            updated_at=now,
        )
        await create_block(
            ctx.q, ctx.agent.id, new_block, actor=f"agent:{ctx.agent.id}", reason="memory_rethink", run_id=ctx.run_id
        )
        ctx.blocks_changed = True
        return _edited_message(label)
    if block.read_only:
        raise ToolFailure(block_edits.READ_ONLY_ERROR)
    await _save(ctx, block, block_edits.memory_rethink(new_memory), "memory_rethink")
    return _edited_message(label)


async def _memory_finish_edits(ctx: ToolContext) -> str:
    return "Memory edits finished."


# --- recall -------------------------------------------------------------------------------------


def _parse_date(value: str | None, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise ToolFailure(f"Invalid date {value!r}: use ISO 8601, e.g. '2024-01-15' or '2024-01-15T09:30:00'.") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(value) <= 10:  # a bare date as an end bound means the whole day
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return moment


def _time_ago(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


async def _conversation_search(
    ctx: ToolContext,
    query: str | None = None,
    roles: list[str] | None = None,
    limit: int | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> str:
    try:
        wanted = [Role(r) for r in roles] if roles else list(_SEARCH_ROLES)
    except ValueError as e:
        raise ToolFailure(f"Invalid role in {roles!r}: roles must be among 'assistant', 'user', 'tool'.") from e
    limit = max(1, min(int(limit or CONVERSATION_SEARCH_DEFAULT_LIMIT), 100))
    found = await search_messages(
        ctx.q,
        ctx.message_index,
        ctx.agent.id,
        query=query,
        roles=wanted,
        start=_parse_date(start_date, end=False),
        end=_parse_date(end_date, end=True),
        limit=limit,
        query_vector=ctx.query_vectors.get(query) if isinstance(query, str) else None,
    )
    now = utcnow()
    results: list[dict[str, Any]] = [
        {
            "timestamp": m.created_at.isoformat(timespec="seconds"),
            "time_ago": _time_ago(m.created_at, now),
            "role": m.role.value,
            "content": m.content,
        }
        for m in found
    ]
    if not results:
        return json.dumps({"message": "No results found.", "results": []}, ensure_ascii=False)
    return json.dumps({"message": f"Showing {len(results)} results:", "results": results}, ensure_ascii=False)


# --- archival -----------------------------------------------------------------------------------


def _archival(ctx: ToolContext) -> ArchivalMemory:
    if ctx.archival is None:
        raise ToolFailure("Archival memory is not available in this server process.")
    return ctx.archival


async def _archival_memory_insert(ctx: ToolContext, content: str, tags: list[str] | None = None) -> str:
    archival = _archival(ctx)
    if not isinstance(content, str):
        raise ToolFailure("content must be a string: the text to store.")
    # Always the agent's own archive: archives shared with it are read-only unless shared writable,
    # and the tool has no way to name one.
    await archival.insert(ctx.q, ctx.agent, [NewPassage(text=content, tags=tags or [])], utcnow())
    archival.notify()  # the indexer's write waits for this step's transaction to commit
    ctx.blocks_changed = True  # as in Letta: <memory_metadata> shows the new archival count
    return "None"  # Letta's tool returns None


async def _archival_memory_search(
    ctx: ToolContext,
    query: str,
    tags: list[str] | None = None,
    tag_match_mode: str = "any",
    top_k: int | None = None,
    start_datetime: str | None = None,
    end_datetime: str | None = None,
) -> str:
    archival = _archival(ctx)
    if tag_match_mode not in ("any", "all"):
        raise ToolFailure(f"tag_match_mode must be 'any' or 'all', not {tag_match_mode!r}.")
    k = max(1, min(int(top_k or ARCHIVAL_SEARCH_DEFAULT_TOP_K), ARCHIVAL_SEARCH_MAX_TOP_K))
    start = _parse_date(start_datetime, end=False)
    end = _parse_date(end_datetime, end=True)
    archive_ids = await ctx.q.archival.archive_ids_for_agent(ctx.agent.id)
    hits = await archival.search(
        archive_ids,
        query,
        tags=tags or [],
        tag_match_mode="all" if tag_match_mode == "all" else "any",
        top_k=k,
        start=start,
        end=end,
        q=ctx.q,
        query_vector=ctx.query_vectors.get(query) if isinstance(query, str) else None,
    )
    results = [
        {
            "id": hit.passage.id,
            "timestamp": hit.passage.created_at.isoformat(timespec="seconds"),
            "content": hit.passage.text,
            "tags": hit.passage.tags,
            "relevance": round(hit.score, 4),
        }
        for hit in hits
    ]
    return json.dumps(results, ensure_ascii=False)


async def prepare_tools(
    archival: ArchivalMemory | None, calls: list[ToolCall], message_index: MessageIndex | None = None
) -> dict[str, list[float]]:
    """Do before the step's write transaction what its tool calls must not do inside it: open the
    archival index and the message vectors (the first time imports lancedb) and embed the queries of
    archival and conversation searches (a network call with an endpoint embedder). Returns the query
    vectors, for `ToolContext`."""
    embedders: dict[str, Callable[[str], Awaitable[list[float] | None]]] = {}
    if archival is not None and any(c.name.startswith("archival_") for c in calls):
        await archival.open_index()
        embedders["archival_memory_search"] = archival.embed_query
    if message_index is not None:
        embedders["conversation_search"] = message_index.prepare
    vectors: dict[str, list[float]] = {}
    for call in calls:
        embed = embedders.get(call.name)
        query = _search_query(call) if embed is not None else None
        if embed is not None and query is not None and query not in vectors:
            vector = await embed(query)
            if vector is not None:
                vectors[query] = vector
    return vectors


def _search_query(call: ToolCall) -> str | None:
    """The ``query`` argument of a search call, if it has a usable one."""
    try:
        args = json.loads(call.arguments)
    except json.JSONDecodeError:
        return None  # the call itself reports the malformed arguments
    query = args.get("query") if isinstance(args, dict) else None
    return query if isinstance(query, str) else None


_HANDLERS: dict[str, Handler] = {
    "core_memory_append": _core_memory_append,
    "core_memory_replace": _core_memory_replace,
    "memory_replace": _memory_replace,
    "memory_insert": _memory_insert,
    "memory_rethink": _memory_rethink,
    "memory_finish_edits": _memory_finish_edits,
    "conversation_search": _conversation_search,
    "archival_memory_insert": _archival_memory_insert,
    "archival_memory_search": _archival_memory_search,
}

# Multi-agent tools run before the step's transaction (`multi_agent.run_outside`), never here.
BUILTIN_TOOLS: tuple[str, ...] = (*_HANDLERS, *MULTI_AGENT_TOOLS)
