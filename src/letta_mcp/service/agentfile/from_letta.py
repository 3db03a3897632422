"""Letta Agent File → letta-mcp: parse, validate and plan an import. Pure: no I/O.

`parse_document` accepts the text of a v2 file (also double-encoded, as the letta-ai/agent-file
examples ship) or of a legacy v1 file, which it rewrites into the v2 shape with file-local ids.
`plan_import` resolves every file-local id inside the document, re-mints all ids, maps Letta's
built-in tools to ours and records every other tool as inactive (its code is data, never run),
and returns the rows to write. Anything that cannot be mapped raises `AgentFileError` with a
message saying what and where, before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from letta_mcp.llm.tokens import estimate_message
from letta_mcp.models import (
    Agent,
    AgentGroup,
    Block,
    InactiveTool,
    Message,
    NewPassage,
    Role,
    ToolCall,
    ToolRule,
    new_id,
)
from letta_mcp.runtime.prompts import DEFAULT_SYSTEM_PROMPT
from letta_mcp.service.agentfile.schema import (
    AgentExtension,
    AgentFileV1,
    AgentFileV2,
    AgentRecord,
    BlockRecord,
    MessageRecord,
    ToolRecord,
)
from letta_mcp.service.agentfile.tools import map_tool

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Largest Agent File accepted (the biggest public one, lettabot-builder, is 1.2 MB)."""
MAX_AGENTS = 100
MAX_LABEL_CHARS = 100

# Agent types whose assistant text beside a tool call is inner monologue (MemGPT style: the
# visible reply goes through send_message), so it becomes reasoning rather than something said.
_MONOLOGUE_TYPES = frozenset(
    {"memgpt_agent", "memgpt_v2_agent", "sleeptime_agent", "split_thread_agent", "voice_convo_agent"}
)
_ROLES = {"system": Role.system, "user": Role.user, "assistant": Role.assistant, "tool": Role.tool}


class AgentFileError(Exception):
    """The document cannot be imported; the message says what to fix. Nothing was written."""


@dataclass(frozen=True)
class ImportOptions:
    now: datetime
    owner: str
    default_model: str
    default_block_limit: int
    max_steps: int
    model_available: Callable[[str], bool]  # whether a provider/model handle resolves here
    name: str | None = None  # overrides the first agent's name
    strip_messages: bool = False


@dataclass
class PlannedAgent:
    file_id: str
    agent: Agent
    block_ids: list[str]  # fresh ids, in the agent's order
    messages: list[Message]  # history without the system message (seq from 1)
    inactive_tools: list[InactiveTool]
    passages: list[NewPassage]
    mapped_tools: dict[str, list[str]] = field(default_factory=dict)  # Letta tool -> ours


@dataclass
class ImportPlan:
    agents: list[PlannedAgent]
    blocks: list[Block]
    groups: list[AgentGroup]
    notes: list[str]


# --- parsing --------------------------------------------------------------------------------------


def parse_document(raw: str | bytes) -> AgentFileV2:
    """The document as a v2 file (a v1 file is converted). Raises `AgentFileError`."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise AgentFileError(
            f"The Agent File is {size:,} bytes; at most {MAX_DOCUMENT_BYTES:,} are accepted. "
            "Export with fewer messages (messages='in_context') or without archival passages."
        )
    try:
        data: Any = json.loads(raw)
        if isinstance(data, str):  # the agent-file examples are a JSON string holding the JSON
            data = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AgentFileError(f"The Agent File is not valid JSON: {e}. Pass the .af file's text unchanged.") from e
    if not isinstance(data, dict):
        raise AgentFileError("The Agent File must be a JSON object (a Letta .af export).")
    try:
        if isinstance(data.get("agents"), list):
            return AgentFileV2.model_validate(data)
        if "core_memory" in data or "in_context_message_indices" in data:
            return _v1_to_v2(AgentFileV1.model_validate(data))
    except ValidationError as e:
        raise AgentFileError(_describe(e)) from e
    raise AgentFileError(
        "This is not a Letta Agent File: expected a v2 document (with an 'agents' list) or a legacy "
        f"v1 one (with 'core_memory'); found the keys {', '.join(sorted(data)[:12]) or 'none'}."
    )


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"])
        problems.append(f"{where}: {item['msg']}")
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return f"The Agent File does not match Letta's schema: {'; '.join(problems)}{more}."


def _v1_to_v2(v1: AgentFileV1) -> AgentFileV2:
    """A legacy single-agent file in the v2 shape: inline blocks/tools get file ids, context
    indices (unordered in real files) become message ids."""
    if v1.multi_agent_group:
        raise AgentFileError(
            "Legacy format (v1) with a multi_agent_group: legacy groups cannot be mapped. Export the "
            "agents again from a current Letta (v2 Agent Files carry groups)."
        )
    messages = [m.model_copy(update={"id": f"message-{i}"}) for i, m in enumerate(v1.messages)]
    in_context: list[str] = []
    for index in v1.in_context_message_indices:
        if not 0 <= index < len(messages):
            raise AgentFileError(
                f"Legacy format (v1): in_context_message_indices has {index}, but the file holds "
                f"{len(messages)} messages."
            )
        in_context.append(f"message-{index}")
    blocks = [b.model_copy(update={"id": f"block-{i}"}) for i, b in enumerate(v1.core_memory)]
    tools = [t.model_copy(update={"id": f"tool-{i}"}) for i, t in enumerate(v1.tools)]
    tags = [t if isinstance(t, str) else str(t.get("tag", "")) for t in v1.tags or []]
    agent = AgentRecord(
        id="agent-0",
        name=v1.name,
        system=v1.system,
        agent_type=v1.agent_type,
        description=v1.description,
        metadata=v1.metadata,
        tags=[t for t in tags if t],
        llm_config=v1.llm_config,
        tool_ids=[t.id for t in tools if t.id],
        block_ids=[b.id for b in blocks if b.id],
        tool_rules=v1.tool_rules,
        messages=messages,
        in_context_message_ids=in_context,
    )
    return AgentFileV2(agents=[agent], blocks=blocks, tools=tools)


# --- planning -------------------------------------------------------------------------------------


def plan_import(doc: AgentFileV2, opts: ImportOptions) -> ImportPlan:
    """Every row the import writes, with fresh ids. Raises `AgentFileError` for what can't map."""
    if not doc.agents:
        raise AgentFileError("The Agent File contains no agents.")
    if len(doc.agents) > MAX_AGENTS:
        raise AgentFileError(f"The Agent File has {len(doc.agents)} agents; at most {MAX_AGENTS} per import.")
    notes: list[str] = []
    blocks_by_file = _index("block", doc.blocks)
    tools_by_file = _index("tool", doc.tools)
    _index("agent", doc.agents)
    agent_ids = {a.id: new_id("agent") for a in doc.agents}
    blocks: dict[str, Block] = {}  # file id -> new block, only those some agent uses
    ext = doc.extension.agents if doc.extension else {}
    planned = []
    for n, record in enumerate(doc.agents):
        name = opts.name if (n == 0 and opts.name) else None
        planned.append(
            _plan_agent(
                record,
                agent_ids[record.id],
                blocks_by_file,
                tools_by_file,
                blocks,
                ext.get(record.id),
                name,
                opts,
                notes,
            )
        )
    groups = [_plan_group(g, agent_ids, opts, notes) for g in doc.groups]
    if doc.files or doc.sources or any(a.files_agents for a in doc.agents):
        notes.append(
            f"{len(doc.files)} attached file(s) and {len(doc.sources)} folder(s) were not imported: "
            "letta-mcp agents have no file attachments (put the text in archival memory instead)."
        )
    if doc.skills:
        notes.append(f"{len(doc.skills)} skill(s) were not imported: letta-mcp has no skills.")
    return ImportPlan(planned, list(blocks.values()), groups, notes)


def _index(kind: str, records: list[Any]) -> dict[str, Any]:
    by_id: dict[str, Any] = {}
    for i, record in enumerate(records):
        if not record.id:
            raise AgentFileError(f"{kind}s[{i}] has no id; every {kind} of a v2 Agent File needs one.")
        if record.id in by_id:
            raise AgentFileError(f"The id {record.id!r} appears twice among the {kind}s; file ids must be unique.")
        by_id[record.id] = record
    return by_id


def _resolve(owner: str, kind: str, ref: str, by_id: dict[str, Any]) -> Any:
    try:
        return by_id[ref]
    except KeyError:
        raise AgentFileError(
            f"{owner} refers to {kind} {ref!r}, which the Agent File does not contain; the file is "
            "incomplete or was edited by hand."
        ) from None


def _plan_agent(
    record: AgentRecord,
    agent_id: str,
    blocks_by_file: dict[str, BlockRecord],
    tools_by_file: dict[str, ToolRecord],
    blocks: dict[str, Block],
    ext: AgentExtension | None,
    name: str | None,
    opts: ImportOptions,
    notes: list[str],
) -> PlannedAgent:
    who = f"Agent {record.id} ({record.name or 'unnamed'})"
    labels: set[str] = set()
    block_ids: list[str] = []
    for ref in record.block_ids or []:
        source = _resolve(who, "block", ref, blocks_by_file)
        if source.label in labels:
            raise AgentFileError(f"{who} has two blocks labelled {source.label!r}; labels must be unique per agent.")
        labels.add(source.label)
        if ref not in blocks:
            blocks[ref] = _block(source, opts, notes)
        block_ids.append(blocks[ref].id)
    active: list[str] = []
    inactive: list[InactiveTool] = []
    mapped: dict[str, list[str]] = {}
    for ref in record.tool_ids or []:
        tool = _resolve(who, "tool", ref, tools_by_file)
        ours, reason = map_tool(tool)
        if reason is not None:
            inactive.append(_inactive(tool, reason))
            continue
        if ours != [tool.name]:
            mapped[tool.name] = ours
        active.extend(t for t in ours if t not in active)
    model, context_window = _model(record, ext, opts, notes, who)
    agent = Agent(
        id=agent_id,
        name=(name or record.name or f"imported-{opts.now:%Y%m%d%H%M%S}")[:200],
        system=record.system or DEFAULT_SYSTEM_PROMPT,
        model=model,
        tools=active,
        tags=sorted({t for t in record.tags or [] if t}),
        description=record.description,
        metadata=record.metadata or {},
        max_steps=ext.max_steps if ext and ext.max_steps else opts.max_steps,
        context_window=context_window,
        owner=opts.owner,
        tool_rules=[_rule(who, i, r) for i, r in enumerate(record.tool_rules or [])],
        created_at=opts.now,
        updated_at=opts.now,
    )
    messages = [] if opts.strip_messages else _messages(record, agent_id, ext, opts, notes, who)
    passages = [
        NewPassage(text=p.text, tags=p.tags, metadata=p.metadata, created_at=_utc(p.created_at, opts.now))
        for p in (ext.passages if ext else [])
    ]
    return PlannedAgent(record.id, agent, block_ids, messages, inactive, passages, mapped)


def _block(source: BlockRecord, opts: ImportOptions, notes: list[str]) -> Block:
    label = source.label
    if not label.strip() or len(label) > MAX_LABEL_CHARS or any(c.isspace() or c in "<>" for c in label):
        raise AgentFileError(
            f"Block label {label[:60]!r} can't be used: labels are 1-{MAX_LABEL_CHARS} characters without "
            "spaces or angle brackets."
        )
    limit = source.limit or max(opts.default_block_limit, len(source.value))
    if len(source.value) > limit:
        notes.append(
            f"Block {label!r} holds {len(source.value)} characters, over its limit of {limit}; the limit was "
            f"raised to {len(source.value)} so nothing is lost."
        )
        limit = len(source.value)
    return Block(
        id=new_id("block"),
        label=label,
        value=source.value,
        limit=limit,
        description=source.description,
        read_only=bool(source.read_only),
        metadata=source.metadata or {},
        created_at=opts.now,
        updated_at=opts.now,
    )


def _inactive(tool: ToolRecord, reason: str) -> InactiveTool:
    return InactiveTool(
        name=tool.name,
        tool_type=tool.tool_type,
        description=tool.description,
        json_schema=tool.json_schema or {},
        source_type=tool.source_type,
        source_code=tool.source_code,
        tags=tool.tags or [],
        metadata=tool.metadata or {},
        reason=reason,
    )


def _rule(who: str, index: int, raw: dict[str, Any]) -> ToolRule:
    try:
        return ToolRule.model_validate(raw)
    except ValidationError as e:
        raise AgentFileError(
            f"{who}: tool_rules[{index}] is not a tool rule (it needs 'type' and 'tool_name'): {raw!r:.200}"
        ) from e


def _model(
    record: AgentRecord, ext: AgentExtension | None, opts: ImportOptions, notes: list[str], who: str
) -> tuple[str, int | None]:
    """The model handle and context window: ours from the extension, else Letta's handle when a
    configured provider serves it, else the default model (noted)."""
    if ext and ext.model and opts.model_available(ext.model):
        return ext.model, ext.context_window
    llm = record.llm_config
    candidates = [llm.handle] if llm and llm.handle else []
    if llm and llm.model and llm.model_endpoint_type == "openai":
        candidates.append(f"openai/{llm.model}")
    for handle in candidates:
        if opts.model_available(handle):
            return handle, llm.context_window if llm else None
    if candidates:
        notes.append(
            f"{who} used the model {candidates[0]!r}, which no configured provider serves; it runs on "
            f"{opts.default_model!r} (change it with update_agent)."
        )
    return opts.default_model, None


# --- messages -------------------------------------------------------------------------------------


def _messages(
    record: AgentRecord, agent_id: str, ext: AgentExtension | None, opts: ImportOptions, notes: list[str], who: str
) -> list[Message]:
    _index("message", record.messages)
    in_context = set(record.in_context_message_ids)
    by_id = {m.id: m for m in record.messages}
    for ref in record.in_context_message_ids:
        _resolve(who, "message", ref, by_id)
    # The system message heading the context is Letta's compiled prompt; ours is compiled afresh.
    head = next(
        (ref for ref in record.in_context_message_ids if by_id[ref].role == "system"),
        record.messages[0].id if record.messages and record.messages[0].role == "system" else None,
    )
    kinds = ext.message_kinds if ext else {}
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
                created_at=_utc(m.created_at, opts.now),
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


def _utc(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- groups ---------------------------------------------------------------------------------------


def _plan_group(group: Any, agent_ids: dict[str, str], opts: ImportOptions, notes: list[str]) -> AgentGroup:
    who = f"Group {group.id}"
    config = group.manager_config
    manager = _resolve(who, "agent", config.manager_agent_id, agent_ids) if config.manager_agent_id else None
    members = [_resolve(who, "agent", ref, agent_ids) for ref in group.agent_ids]
    if config.manager_type == "sleeptime":
        notes.append(
            f"Sleep-time group {group.id}: both agents were imported and share their blocks; the pairing is "
            "stored but not run yet (sleep-time execution is not available in letta-mcp)."
        )
    else:
        notes.append(f"Group {group.id} ({config.manager_type}) is stored but not run yet.")
    extra = {k: v for k, v in (config.model_extra or {}).items()}
    return AgentGroup(
        id=new_id("group"),
        manager_type=config.manager_type,
        manager_agent_id=manager,
        agent_ids=[m for m in members if m != manager],
        config=extra,
        description=group.description,
        enabled=False,
        created_at=opts.now,
    )
