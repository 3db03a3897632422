"""Letta Agent File → letta-mcp: plan an import. Pure: no I/O.

`plan_import` takes a parsed document (`parse.parse_document`), resolves every file-local id
inside it, re-mints all ids, maps Letta's built-in tools to ours and records every other tool as
inactive (its code is data, never run), and returns the rows to write. Anything that cannot be
mapped raises `AgentFileError` with a message saying what and where, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from letta_mcp.models import Agent, AgentGroup, Block, InactiveTool, Message, NewPassage, ToolRule, new_id
from letta_mcp.runtime.prompts import DEFAULT_SYSTEM_PROMPT
from letta_mcp.service.agentfile.errors import AgentFileError, index_ids, resolve
from letta_mcp.service.agentfile.history import convert_history, utc
from letta_mcp.service.agentfile.schema import AgentExtension, AgentFileV2, AgentRecord, BlockRecord, ToolRecord
from letta_mcp.service.agentfile.tools import map_tool

MAX_AGENTS = 100
MAX_LABEL_CHARS = 100


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


def plan_import(doc: AgentFileV2, opts: ImportOptions) -> ImportPlan:
    """Every row the import writes, with fresh ids. Raises `AgentFileError` for what can't map."""
    if not doc.agents:
        raise AgentFileError("The Agent File contains no agents.")
    if len(doc.agents) > MAX_AGENTS:
        raise AgentFileError(f"The Agent File has {len(doc.agents)} agents; at most {MAX_AGENTS} per import.")
    notes: list[str] = []
    blocks_by_file = index_ids("block", doc.blocks)
    tools_by_file = index_ids("tool", doc.tools)
    index_ids("agent", doc.agents)
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
        source = resolve(who, "block", ref, blocks_by_file)
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
        tool = resolve(who, "tool", ref, tools_by_file)
        ours, reason = map_tool(tool)
        if reason is not None:
            # One record per name: a hand-edited file may list a tool twice (under two file ids).
            if all(t.name != tool.name for t in inactive):
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
    kinds = ext.message_kinds if ext else {}
    messages = [] if opts.strip_messages else convert_history(record, agent_id, kinds, opts.now, notes, who)
    passages = [
        NewPassage(text=p.text, tags=p.tags, metadata=p.metadata, created_at=utc(p.created_at, opts.now))
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
    # No limit, or a meaningless one (0, negative): the default, or the value's length if longer.
    limit = source.limit if source.limit and source.limit > 0 else max(opts.default_block_limit, len(source.value))
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


def _plan_group(group: Any, agent_ids: dict[str, str], opts: ImportOptions, notes: list[str]) -> AgentGroup:
    who = f"Group {group.id}"
    config = group.manager_config
    manager = resolve(who, "agent", config.manager_agent_id, agent_ids) if config.manager_agent_id else None
    members = [resolve(who, "agent", ref, agent_ids) for ref in group.agent_ids]
    sleeptime = config.manager_type == "sleeptime" and manager is not None
    if sleeptime:
        notes.append(
            f"Sleep-time group {group.id}: both agents were imported and share their blocks; the sleep-time "
            "agent runs in the background every few turns of the main agent (turn it off with "
            "update_agent(enable_sleeptime=false))."
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
        enabled=sleeptime,  # sleep-time pairs run here; other group kinds are stored only
        created_at=opts.now,
    )
