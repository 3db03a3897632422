"""Domain models shared by every layer.

Data crosses layer boundaries as these pydantic objects, never as SQL rows, wire dicts or
provider payloads. `store/` builds them from rows, `llm/` translates them to and from each
provider's wire format, `runtime/` and `service.py` reason about them, `server/` shapes them
into MCP results.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (every stored timestamp is UTC)."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """An application-generated id such as ``agent-5f0c…`` (ids never come from the database)."""
    return f"{prefix}-{uuid.uuid4()}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid")


# --- memory ------------------------------------------------------------------------------------


class Block(_Model):
    """A memory block: a labelled, size-limited piece of text rendered into the system message."""

    id: str
    label: str
    value: str = ""
    limit: int
    description: str | None = None
    read_only: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = 1
    created_at: datetime
    updated_at: datetime
    owner: str | None = None  # the principal it belongs to (an agent's blocks: the agent's owner)
    standalone: bool = False  # made by create_block: outlives the agents it is attached to


class BlockHistoryEntry(_Model):
    """One recorded version of a block, written on every change."""

    id: str
    block_id: str
    version: int
    label: str
    value: str
    limit: int
    description: str | None
    actor: str  # "agent:<agent_id>" for an agent's own tools, "principal:<name>" for MCP clients
    reason: str  # the tool or operation that made the change, e.g. "memory_replace"
    created_at: datetime
    run_id: str | None = None  # the run of the agent that made the change


# --- agents and templates ----------------------------------------------------------------------


class Agent(_Model):
    """A stateful agent's configuration (its memory and history live in their own rows)."""

    id: str
    name: str
    system: str
    model: str
    tools: list[str]
    tags: list[str] = Field(default_factory=list)
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_steps: int = 50
    context_window: int | None = None  # tokens; None: the model's known window
    owner: str = "local"  # the principal that owns it (see letta_mcp.service.access)
    tool_rules: list[ToolRule] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


ToolRuleType = Literal[
    "run_first",
    "exit_loop",
    "continue_loop",
    "constrain_child_tools",
    "parent_last_tool",
    "conditional",
    "max_count_per_step",
    "required_before_exit",
    "requires_approval",
]
"""Letta's tool rule types that letta-mcp enforces (see runtime/tool_rules.py)."""


class ToolRule(BaseModel):
    """A Letta tool rule kept as given: ``type`` (run_first, exit_loop, continue_loop,
    constrain_child_tools, conditional, max_count_per_step, required_before_exit,
    requires_approval…), the ``tool_name`` it constrains, and the fields of its type
    (``children``, ``max_count_limit``, ``default_child``, ``child_output_mapping``…)."""

    model_config = ConfigDict(extra="allow")

    type: str
    tool_name: str


class InactiveTool(_Model):
    """A tool an agent was given that letta-mcp does not run (imported custom code, another MCP
    server's tool, a Letta built-in without an equivalent), recorded so it can be listed and
    exported again. Its source code is data, never executed."""

    name: str
    tool_type: str | None = None
    description: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict)
    source_type: str | None = None
    source_code: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    reason: str


class AgentGroup(_Model):
    """Agents that work together, e.g. Letta's sleep-time pair (a main agent and the memory agent
    that shares its blocks). Stored with ``enabled=False`` until group execution exists."""

    id: str
    manager_type: str  # Letta's: sleeptime, round_robin, supervisor, dynamic, voice_sleeptime
    manager_agent_id: str | None = None
    agent_ids: list[str]  # every member but the manager, in order
    config: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None
    enabled: bool = False
    created_at: datetime


class BlockSpec(_Model):
    """A block as configured in a template or a create request (no id, no history)."""

    label: str
    value: str = ""
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)


class Template(_Model):
    """A named agent configuration from which new agents start (blocks are copied, not shared)."""

    id: str
    name: str
    description: str | None = None
    system: str
    model: str
    tools: list[str]
    tags: list[str] = Field(default_factory=list)
    blocks: list[BlockSpec]
    max_steps: int = 50
    owner: str = "local"  # the principal that owns it; names are unique per owner
    created_at: datetime


# --- messages ----------------------------------------------------------------------------------


class Role(StrEnum):
    system = "system"
    user = "user"
    assistant = "assistant"
    tool = "tool"


class ToolCall(_Model):
    """A tool call as the model produced it; ``arguments`` is the raw JSON text, possibly invalid."""

    id: str
    name: str
    arguments: str


class Message(_Model):
    """One message of an agent's perpetual history (recall memory).

    ``seq`` orders an agent's messages; the system message has seq 0. ``in_context`` marks the
    rows that form the current context window.
    """

    id: str
    agent_id: str
    seq: int
    role: Role
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    run_id: str | None = None
    step_id: str | None = None
    in_context: bool = True
    kind: str | None = None  # "summary" or "memory_warning" for messages the runtime wrote itself
    tokens: int | None = None  # token count as sent to the model, computed once at write time
    created_at: datetime


# --- model calls -------------------------------------------------------------------------------


class Usage(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class ToolSchema(_Model):
    """A tool offered to the model: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


class ChatMessage(_Model):
    """A provider-neutral chat message as sent to a model."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


class ModelRequest(_Model):
    """Everything one LLM call needs. ``model`` is the provider's own model name (no prefix)."""

    model: str
    messages: list[ChatMessage]
    tools: list[ToolSchema] = Field(default_factory=list)
    tool_choice: Literal["auto", "required", "none"] | str = "auto"
    max_tokens: int | None = None
    temperature: float | None = None


class ModelResponse(_Model):
    """What a model answered: text, tool calls or both, and what it cost."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    model: str | None = None


# --- runs --------------------------------------------------------------------------------------


class StopReason(StrEnum):
    """Why a run ended (Letta's names)."""

    end_turn = "end_turn"
    max_steps = "max_steps"
    max_tokens_exceeded = "max_tokens_exceeded"
    tool_rule = "tool_rule"
    llm_api_error = "llm_api_error"
    invalid_llm_response = "invalid_llm_response"
    invalid_tool_call = "invalid_tool_call"
    no_tool_call = "no_tool_call"
    cancelled = "cancelled"
    requires_approval = "requires_approval"
    context_window_overflow_in_system_prompt = "context_window_overflow_in_system_prompt"
    error = "error"

    @property
    def run_status(self) -> RunStatus:
        if self in (StopReason.end_turn, StopReason.max_steps, StopReason.tool_rule):
            return RunStatus.completed
        if self is StopReason.requires_approval:
            return RunStatus.requires_approval
        if self is StopReason.cancelled:
            return RunStatus.cancelled
        return RunStatus.failed


class RunStatus(StrEnum):
    created = "created"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"
    requires_approval = "requires_approval"  # paused until a client approves or denies a tool call


class Run(_Model):
    """One ``send_message`` call: from the accepted input to the stop reason."""

    id: str
    agent_id: str
    status: RunStatus
    stop_reason: StopReason | None = None
    usage: Usage = Field(default_factory=Usage)
    step_count: int = 0
    error: str | None = None
    input: str | None = None  # the accepted message, kept even if the run never starts
    input_role: Role = Role.user
    background: bool = False
    holder: str | None = None  # the process running it
    cancel_requested: bool = False
    created_at: datetime
    completed_at: datetime | None = None
    parent_run_id: str | None = None  # the run of the agent whose message started this one


class ToolTaskStatus(StrEnum):
    working = "working"
    completed = "completed"  # the tool answered (also with a tool error): ``result`` holds the answer
    failed = "failed"  # our code failed while the tool ran: ``error`` says how
    interrupted = "interrupted"  # the process running it stopped first (read from its lease)


class ToolTask(_Model):
    """A tool call (import_agent, compact_context) an MCP Tasks client let run in the background:
    ``result`` is the answer the tool gave, as the client would have received it (JSON), kept so
    ``tasks/get`` returns it in any process, also after a restart."""

    id: str
    owner: str  # the principal that called the tool: only it (and full-access principals) may see the task
    tool: str
    status: ToolTaskStatus
    result: str | None = None
    error: str | None = None
    holder: str | None = None  # the process running it
    created_at: datetime
    updated_at: datetime


class Step(_Model):
    """One LLM call within a run, with its token usage."""

    id: str
    run_id: str
    agent_id: str
    index: int
    model: str
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    error: str | None = None
    created_at: datetime


# --- archival memory ---------------------------------------------------------------------------


class Archive(_Model):
    """A collection of passages. Each agent has its own; one archive can be attached to several agents."""

    id: str
    name: str
    description: str | None = None
    owner: str = "local"  # the principal that owns it (see letta_mcp.service.access)
    owner_agent_id: str | None = None  # the agent whose own archive it is (None once that agent is deleted)
    passage_count: int = 0
    created_at: datetime


class Passage(_Model):
    """One piece of archival memory: a text with tags, stored in SQLite and indexed for search."""

    id: str
    archive_id: str
    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class NewPassage(_Model):
    """A passage to insert; long texts are split into several passages (chunks) by the service."""

    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None  # None: now; set it to backdate (e.g. when importing history)


class PassageHit(_Model):
    """A search result: the passage, its score (higher is better) and its rank in each result list."""

    passage: Passage
    score: float
    fts_rank: int | None = None  # 1-based rank in the full-text results; None if not there
    vector_rank: int | None = None  # 1-based rank in the vector results; None if not there
