"""letta-mcp → Letta Agent File (v2 ``AgentFileSchema``). Pure: no I/O.

`to_agent_file` turns a `Snapshot` (agents with their blocks, history, inactive tools and archival
passages, plus their groups) into the JSON document Letta writes: file-local ids handed out per
prefix in first-reference order (``agent-0``, ``block-0``, ``message-0``…), blocks shared between
agents written once, Letta's field names and shapes. What Letta's schema has no field for —
archival passages, our model handle, max_steps, the kind of synthetic messages — goes into the
top-level ``letta_mcp`` extension (see `schema`), which Letta's importer ignores.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from letta_mcp.models import Agent, AgentGroup, Block, InactiveTool, Message, Passage, Role
from letta_mcp.runtime.remote_tools import parse_handle
from letta_mcp.runtime.tool_schemas import BUILTIN_TOOL_SCHEMAS
from letta_mcp.service.agentfile.schema import EXTENSION_FORMAT, EXTENSION_KEY
from letta_mcp.service.agentfile.tools import letta_tool_type

MessageScope = Literal["all", "in_context", "none"]
DEFAULT_CONTEXT_WINDOW = 128_000  # Letta's llm_config requires one; ours may be "the model's own"


@dataclass
class AgentSnapshot:
    agent: Agent
    blocks: list[Block]
    messages: list[Message]  # in seq order (the system message, seq 0, first)
    in_context_order: list[str]  # message ids in the order the model reads them
    inactive_tools: list[InactiveTool] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)


@dataclass
class Snapshot:
    agents: list[AgentSnapshot]  # the agent asked for first
    groups: list[AgentGroup] = field(default_factory=list)


class _Ids:
    """File-local ids, ``<prefix>-<n>`` per prefix in first-reference order."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._next: dict[str, int] = defaultdict(int)

    def __call__(self, prefix: str, key: str) -> str:
        if (prefix, key) not in self._ids:
            self._ids[(prefix, key)] = f"{prefix}-{self._next[prefix]}"
            self._next[prefix] += 1
        return self._ids[(prefix, key)]

    def known(self, prefix: str, key: str) -> bool:
        return (prefix, key) in self._ids


def to_agent_file(snapshot: Snapshot, *, now: datetime, version: str) -> dict[str, Any]:
    """The v2 Agent File document for ``snapshot`` (serialize it with `json.dumps`)."""
    ids = _Ids()
    for s in snapshot.agents:
        ids("agent", s.agent.id)
    agents, blocks, tools, extension = [], {}, {}, {}
    for s in snapshot.agents:
        file_id = ids("agent", s.agent.id)
        for block in s.blocks:
            blocks.setdefault(block.id, _block(ids("block", block.id), block))
        tool_ids = []
        for name in s.agent.tools:
            key = f"builtin:{name}"
            if not ids.known("tool", key) and name in BUILTIN_TOOL_SCHEMAS:
                tools[key] = _builtin_tool(ids("tool", key), name)
            elif not ids.known("tool", key) and parse_handle(name) is not None:
                tools[key] = _remote_tool(ids("tool", key), name)
            if key in tools:
                tool_ids.append(ids("tool", key))
        for tool in s.inactive_tools:
            key = f"{s.agent.id}:{tool.name}"
            tools[key] = _inactive_tool(ids("tool", key), tool)
            tool_ids.append(ids("tool", key))
        message_ids = {m.id: ids("message", m.id) for m in s.messages}
        groups = [g for g in snapshot.groups if s.agent.id in (g.manager_agent_id, *g.agent_ids)]
        agents.append(_agent(s, file_id, [ids("block", b.id) for b in s.blocks], tool_ids, message_ids, groups, ids))
        extension[file_id] = {
            "model": s.agent.model,
            "max_steps": s.agent.max_steps,
            "context_window": s.agent.context_window,
            "message_kinds": {message_ids[m.id]: m.kind for m in s.messages if m.kind},
            "passages": [
                {"text": p.text, "tags": p.tags, "metadata": p.metadata, "created_at": p.created_at.isoformat()}
                for p in s.passages
            ],
        }
    return {
        "agents": agents,
        "groups": [_group(g, ids, snapshot) for g in snapshot.groups],
        "blocks": list(blocks.values()),
        "files": [],
        "sources": [],
        "tools": list(tools.values()),
        "mcp_servers": [],
        "skills": [],
        "metadata": {"revision_id": "", "exported_by": f"letta-mcp {version}"},
        "created_at": now.isoformat(),
        EXTENSION_KEY: {"format": EXTENSION_FORMAT, "agents": extension},
    }


def _agent(
    s: AgentSnapshot,
    file_id: str,
    block_ids: list[str],
    tool_ids: list[str],
    message_ids: dict[str, str],
    groups: list[AgentGroup],
    ids: _Ids,
) -> dict[str, Any]:
    agent = s.agent
    provider, _, model = agent.model.partition("/")
    return {
        "name": agent.name,
        "memory_blocks": [],
        "tools": [],
        "tool_ids": tool_ids,
        "source_ids": [],
        "folder_ids": None,
        "block_ids": block_ids,
        "tool_rules": [rule.model_dump() for rule in agent.tool_rules],
        "tags": agent.tags,
        "system": agent.system,
        "agent_type": "letta_v1_agent",
        "initial_message_sequence": None,
        "include_base_tools": False,
        "include_multi_agent_tools": False,
        "include_base_tool_rules": False,
        "include_default_source": False,
        "description": agent.description,
        "metadata": agent.metadata or None,
        "llm_config": {
            "model": model or provider,
            "model_endpoint_type": "openai",
            "context_window": agent.context_window or DEFAULT_CONTEXT_WINDOW,
            "put_inner_thoughts_in_kwargs": False,
            "handle": agent.model,
            "enable_reasoner": False,
        },
        "embedding_config": {
            "embedding_endpoint_type": "openai",
            "embedding_model": "text-embedding-3-small",
            "embedding_dim": 1536,
            "embedding_chunk_size": 300,
            "handle": "openai/text-embedding-3-small",
        },
        "model": None,
        "embedding": None,
        "context_window_limit": None,
        "embedding_chunk_size": None,
        "max_tokens": None,
        "max_reasoning_tokens": None,
        "enable_reasoner": False,
        "from_template": None,
        "template": False,
        "project": None,
        "tool_exec_environment_variables": {},
        "memory_variables": None,
        "project_id": None,
        "template_id": None,
        "base_template_id": None,
        "identity_ids": None,
        "message_buffer_autoclear": False,
        "enable_sleeptime": any(
            g.enabled and g.manager_type == "sleeptime" and g.manager_agent_id == s.agent.id for g in groups
        ),
        "response_format": None,
        "timezone": "UTC",
        "id": file_id,
        "in_context_message_ids": [message_ids[mid] for mid in s.in_context_order if mid in message_ids],
        "messages": [_message(m, message_ids[m.id], file_id, model or agent.model) for m in s.messages],
        "files_agents": [],
        "group_ids": [ids("group", g.id) for g in groups],
    }


def _block(file_id: str, block: Block) -> dict[str, Any]:
    return {
        "value": block.value,
        "limit": block.limit,
        "project_id": None,
        "template_name": None,
        "is_template": False,
        "template_id": None,
        "base_template_id": None,
        "deployment_id": None,
        "entity_id": None,
        "preserve_on_migration": False,
        "label": block.label,
        "read_only": block.read_only,
        "description": block.description,
        "metadata": block.metadata,
        "hidden": None,
        "tags": None,
        "id": file_id,
    }


def _builtin_tool(file_id: str, name: str) -> dict[str, Any]:
    schema = BUILTIN_TOOL_SCHEMAS[name]
    tool_type = letta_tool_type(name)
    return _tool(
        file_id,
        name=name,
        description=schema.description,
        tool_type=tool_type,
        source_code=None,
        source_type="python",
        json_schema={"name": name, "description": schema.description, "parameters": schema.parameters},
        tags=[tool_type],
        metadata={},
    )


def _remote_tool(file_id: str, handle: str) -> dict[str, Any]:
    """Another MCP server's tool, as Letta records one (its schema is that server's to give)."""
    server, name = parse_handle(handle) or ("", handle)
    return _tool(
        file_id,
        name=name,
        description=None,
        tool_type="external_mcp",
        source_code=None,
        source_type="python",
        json_schema={"name": name, "parameters": {"type": "object", "properties": {}}},
        tags=[f"mcp:{server}"],
        metadata={"mcp": {"server_name": server}},
    )


def _inactive_tool(file_id: str, tool: InactiveTool) -> dict[str, Any]:
    return _tool(
        file_id,
        name=tool.name,
        description=tool.description,
        tool_type=tool.tool_type or "custom",
        source_code=tool.source_code,
        source_type=tool.source_type,
        json_schema=tool.json_schema,
        tags=tool.tags,
        metadata=tool.metadata,
    )


def _tool(file_id: str, **fields: Any) -> dict[str, Any]:
    metadata = fields.pop("metadata")
    return {
        "id": file_id,
        **fields,
        "args_json_schema": None,
        "return_char_limit": 50_000,
        "pip_requirements": None,
        "npm_requirements": None,
        "default_requires_approval": None,
        "enable_parallel_execution": False,
        "created_by_id": None,
        "last_updated_by_id": None,
        "metadata_": metadata,
    }


def _message(m: Message, file_id: str, agent_file_id: str, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if m.reasoning:
        content.append({"type": "reasoning", "is_native": True, "reasoning": m.reasoning, "signature": None})
    if m.content is not None:
        content.append({"type": "text", "text": m.content, "signature": None})
    out: dict[str, Any] = {
        "type": "message",
        "role": m.role.value,
        "content": content,
        "name": m.tool_name if m.role is Role.tool else None,
        "otid": None,
        "sender_id": None,
        "batch_item_id": None,
        "group_id": None,
        "id": file_id,
        "model": model if m.role is Role.assistant else None,
        "agent_id": agent_file_id,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
        or None,
        "tool_call_id": m.tool_call_id,
        "tool_returns": None,
        "created_at": m.created_at.isoformat(),
        "approve": None,
        "approval_request_id": None,
        "denial_reason": None,
        "approvals": None,
    }
    if m.role is Role.tool:
        out["tool_returns"] = [
            {
                "tool_call_id": m.tool_call_id,
                "status": "error" if _failed(m.content) else "success",
                "stdout": None,
                "stderr": None,
                "func_response": m.content,
            }
        ]
    return out


def _failed(result: str | None) -> bool:
    """Whether a tool result is our ``{"status": "Failed", …}`` envelope."""
    try:
        return json.loads(result or "").get("status") == "Failed"
    except (ValueError, AttributeError):
        return False


def _group(group: AgentGroup, ids: _Ids, snapshot: Snapshot) -> dict[str, Any]:
    members = [group.manager_agent_id, *group.agent_ids] if group.manager_agent_id else group.agent_ids
    blocks_of = {s.agent.id: {b.id for b in s.blocks} for s in snapshot.agents}
    shared = set.intersection(*(blocks_of.get(a, set()) for a in members)) if members else set()
    manager = {"manager_type": group.manager_type, **group.config}
    if group.manager_agent_id:
        manager["manager_agent_id"] = ids("agent", group.manager_agent_id)
    return {
        "agent_ids": [ids("agent", a) for a in group.agent_ids],
        "description": group.description,
        "manager_config": manager,
        "project_id": None,
        "shared_block_ids": sorted((ids("block", b) for b in shared), key=lambda s: int(s.split("-")[1])),
        "hidden": None,
        "id": ids("group", group.id),
    }
