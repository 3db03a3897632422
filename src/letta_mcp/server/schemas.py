"""Typed MCP inputs and results (clients see their JSON schemas), and their builders from domain models."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from letta_mcp.models import Agent, Block, Message, Role, Run, Template
from letta_mcp.service import AgentDetails, RunDetails

AgentId = Annotated[str, Field(description="The agent's id, e.g. 'agent-5f0c…' (from create_agent or list_agents).")]
Label = Annotated[
    str, Field(description="A memory block label, e.g. 'human' or 'persona'.", min_length=1, max_length=64)
]


class BlockInput(BaseModel):
    """A memory block to create."""

    label: Label
    value: str = Field(default="", description="Initial text of the block.", max_length=1_000_000)
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="Character limit (default from settings).")
    description: str | None = Field(default=None, description="What belongs in this block; the agent reads it.")
    read_only: bool = Field(default=False, description="If true the agent cannot edit this block.")


class BlockOut(BaseModel):
    id: str
    label: str
    value: str
    limit: int
    chars_current: int
    description: str | None
    read_only: bool
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, block: Block) -> BlockOut:
        return cls(
            id=block.id,
            label=block.label,
            value=block.value,
            limit=block.limit,
            chars_current=len(block.value),
            description=block.description,
            read_only=block.read_only,
            version=block.version,
            updated_at=block.updated_at,
        )


class AgentSummary(BaseModel):
    id: str
    name: str
    description: str | None
    model: str
    tags: list[str]
    created_at: datetime

    @classmethod
    def of(cls, agent: Agent) -> AgentSummary:
        return cls(
            id=agent.id,
            name=agent.name,
            description=agent.description,
            model=agent.model,
            tags=agent.tags,
            created_at=agent.created_at,
        )


class AgentOut(AgentSummary):
    system: str
    tools: list[str]
    max_steps: int
    context_window: int | None = Field(description="Per-agent window in tokens; null: the model's known window.")
    updated_at: datetime
    blocks: list[BlockOut]
    messages_in_history: int
    messages_in_context: int

    @classmethod
    def of_details(cls, details: AgentDetails) -> AgentOut:
        a = details.agent
        return cls(
            id=a.id,
            name=a.name,
            description=a.description,
            model=a.model,
            tags=a.tags,
            created_at=a.created_at,
            system=a.system,
            tools=a.tools,
            max_steps=a.max_steps,
            context_window=a.context_window,
            updated_at=a.updated_at,
            blocks=[BlockOut.of(b) for b in details.blocks],
            messages_in_history=details.messages_in_history,
            messages_in_context=details.messages_in_context,
        )


class AgentList(BaseModel):
    agents: list[AgentSummary]
    next_offset: int | None = Field(description="Pass as offset to get the next page; null when this is the last.")


class Deleted(BaseModel):
    id: str
    deleted: bool = True


class ToolCallOut(BaseModel):
    name: str
    arguments: str
    tool_call_id: str


class LettaMessage(BaseModel):
    """One message in Letta's client-facing shape (``message_type`` tells which fields are set)."""

    message_type: Literal[
        "system_message",
        "user_message",
        "assistant_message",
        "reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "summary_message",
    ]
    id: str
    seq: int
    date: datetime
    run_id: str | None = None
    step_id: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_call: ToolCallOut | None = None
    tool_return: str | None = None
    status: Literal["success", "error"] | None = None

    @classmethod
    def expand(cls, m: Message) -> list[LettaMessage]:
        """A stored message as Letta's messages: an assistant step becomes reasoning + tool calls."""
        base: dict[str, Any] = {
            "id": m.id,
            "seq": m.seq,
            "date": m.created_at,
            "run_id": m.run_id,
            "step_id": m.step_id,
        }
        if m.role is Role.system:
            return [cls(message_type="system_message", content=m.content, **base)]
        if m.kind == "summary":
            return [cls(message_type="summary_message", content=m.content, **base)]
        if m.kind is not None:  # runtime notices to the model, e.g. the memory-pressure warning
            return [cls(message_type="system_message", content=m.content, **base)]
        if m.role is Role.user:
            return [cls(message_type="user_message", content=m.content, **base)]
        if m.role is Role.tool:
            return [
                cls(
                    message_type="tool_return_message",
                    tool_return=m.content,
                    status=_status(m.content),
                    tool_call=None,
                    **base,
                )
            ]
        out: list[LettaMessage] = []
        thinking = m.reasoning or (m.content if m.tool_calls else None)
        if thinking:
            out.append(cls(message_type="reasoning_message", reasoning=thinking, **base))
        for tc in m.tool_calls:
            out.append(
                cls(
                    message_type="tool_call_message",
                    tool_call=ToolCallOut(name=tc.name, arguments=tc.arguments, tool_call_id=tc.id),
                    **base,
                )
            )
        if not m.tool_calls and m.content:
            out.append(cls(message_type="assistant_message", content=m.content, **base))
        return out


def _status(envelope: str | None) -> Literal["success", "error"]:
    try:
        return "success" if json.loads(envelope or "{}").get("status") == "OK" else "error"
    except (ValueError, AttributeError):
        return "error"


def expand_all(messages: list[Message]) -> list[LettaMessage]:
    return [out for m in messages for out in LettaMessage.expand(m)]


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    step_count: int


class SendMessageResult(BaseModel):
    agent_id: str
    run_id: str
    status: str = Field(description="created (queued), running, completed, failed, cancelled or interrupted.")
    reply: str | None = Field(description="The agent's final answer to show the user (null if it gave none).")
    stop_reason: str | None = Field(
        description="Why the turn ended: end_turn, max_steps, invalid_tool_call, cancelled, … (null until it ends)."
    )
    messages: list[LettaMessage] = Field(
        description="Everything this turn added, in order: the input, the "
        "agent's reasoning, tool calls, tool returns and the reply."
    )
    usage: UsageOut

    @classmethod
    def of(cls, run: Run, messages: list[Message], reply: str | None) -> SendMessageResult:
        return cls(
            agent_id=run.agent_id,
            run_id=run.id,
            status=run.status.value,
            reply=reply,
            stop_reason=run.stop_reason.value if run.stop_reason else None,
            messages=expand_all(messages),
            usage=UsageOut(**run.usage.model_dump(), step_count=run.step_count),
        )


class MessagePage(BaseModel):
    messages: list[LettaMessage]
    next_cursor: int | None = Field(
        description="Pass as `before` (or `after`, matching the order) for the next page; null when there are no more."
    )


class SearchResult(BaseModel):
    id: str
    seq: int
    role: str
    content: str | None
    date: datetime


class SearchResults(BaseModel):
    results: list[SearchResult]


class MemoryOut(BaseModel):
    agent_id: str
    blocks: list[BlockOut]
    rendered: str = Field(description="The memory sections exactly as the agent's model sees them.")


class TemplateOut(BaseModel):
    id: str
    name: str
    description: str | None
    model: str
    tools: list[str]
    tags: list[str]
    blocks: list[str] = Field(description="Labels of the blocks each new agent gets a copy of.")
    created_at: datetime

    @classmethod
    def of(cls, t: Template) -> TemplateOut:
        return cls(
            id=t.id,
            name=t.name,
            description=t.description,
            model=t.model,
            tools=t.tools,
            tags=t.tags,
            blocks=[b.label for b in t.blocks],
            created_at=t.created_at,
        )


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class StepOut(BaseModel):
    index: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    error: str | None


class RunOut(SendMessageResult):
    """A run as `get_run` reports it: the send_message result so far, plus its steps."""

    input: str | None = Field(description="The accepted message.")
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    steps: list[StepOut]

    @classmethod
    def of_details(cls, details: RunDetails) -> RunOut:
        run = details.run
        base = SendMessageResult.of(run, details.messages, details.reply)
        return cls(
            **base.model_dump(), input=run.input, error=run.error, created_at=run.created_at,
            completed_at=run.completed_at,
            steps=[StepOut(index=s.index, model=s.model, prompt_tokens=s.usage.prompt_tokens,
                           completion_tokens=s.usage.completion_tokens, finish_reason=s.finish_reason,
                           error=s.error) for s in details.steps],
        )


class RunSummary(BaseModel):
    run_id: str
    agent_id: str
    status: str
    stop_reason: str | None
    background: bool
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        return cls(run_id=run.id, agent_id=run.agent_id, status=run.status.value,
                   stop_reason=run.stop_reason.value if run.stop_reason else None, background=run.background,
                   created_at=run.created_at, completed_at=run.completed_at)


class RunList(BaseModel):
    runs: list[RunSummary]
