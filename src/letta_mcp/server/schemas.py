"""Typed MCP inputs and results (clients see their JSON schemas), and their builders from domain models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from letta_mcp.models import Message, Role, Run, ToolRuleType
from letta_mcp.service import AgentDetails, RunDetails

# Ids are ours ('agent-<uuid>'); the cap only keeps absurd input away from the store.
AgentId = Annotated[str, Field(max_length=100)]
Label = Annotated[str, Field(description="e.g. 'human'.", min_length=1, max_length=64)]
# Counts and cursors the store keeps in SQLite INTEGERs (64-bit): far below, far beyond any real use.
MAX_POSITION = 1_000_000_000_000

# Dates outside this range only overflow somewhere (time zones, timestamps), never match anything.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)


def _bare_date(value: object) -> object:
    """Keep 'YYYY-MM-DD' a date: pydantic would read it as midnight, losing "the whole day" for end dates."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value  # the type check that follows says what is expected
    return value


def _in_range(value: datetime | date | None) -> datetime | date | None:
    day = value.date() if isinstance(value, datetime) else value
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"must be a date between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


DateBound = Annotated[datetime | date | None, BeforeValidator(_bare_date), AfterValidator(_in_range)]


def date_bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A filter bound in UTC: a bare date means its whole day; a time without a zone is UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.max if end else time.min)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FromDomain(BaseModel):
    """A result built from a domain object's attributes (``Model.model_validate(obj)``)."""

    model_config = ConfigDict(from_attributes=True)


class BlockInput(BaseModel):
    label: Label
    value: str = Field(default="", max_length=1_000_000)
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="Characters.")
    description: str | None = Field(default=None, max_length=10_000, description="What belongs in it.")
    read_only: bool = Field(default=False, description="The agent may not edit it.")


class ToolRuleIn(BaseModel):
    """Fields by type: children, max_count_limit, child_output_mapping, default_child,
    require_output_mapping."""

    model_config = ConfigDict(extra="allow")

    type: ToolRuleType
    tool_name: str = Field(min_length=1, max_length=200)


class BlockOut(FromDomain):
    id: str
    label: str
    value: str
    limit: int
    description: str | None
    read_only: bool
    version: int
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def chars_current(self) -> int:
        return len(self.value)


class AgentSummary(FromDomain):
    id: str
    name: str
    description: str | None
    model: str
    tags: list[str]
    created_at: datetime


class AgentOut(AgentSummary):
    system: str
    tools: list[str]
    max_steps: int
    context_window: int | None = Field(description="Per-agent window in tokens; null: the model's known window.")
    updated_at: datetime
    blocks: list[BlockOut]
    messages_in_history: int
    messages_in_context: int
    sleeptime_agent_id: str | None = Field(default=None, description="Its sleep-time memory agent, when enabled.")

    @classmethod
    def of_details(cls, details: AgentDetails) -> AgentOut:
        return cls.model_validate(
            {
                **dict(details.agent),
                "blocks": details.blocks,
                "messages_in_history": details.messages_in_history,
                "messages_in_context": details.messages_in_context,
                "sleeptime_agent_id": details.sleeptime_agent_id,
            }
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


class SearchResult(FromDomain):
    id: str
    seq: int
    role: str
    content: str | None
    date: datetime = Field(validation_alias=AliasChoices("date", "created_at"))


class SearchResults(BaseModel):
    results: list[SearchResult]


class MemoryOut(BaseModel):
    agent_id: str
    blocks: list[BlockOut]
    rendered: str = Field(description="The memory sections exactly as the agent's model sees them.")


def _labels(blocks: list[Any]) -> list[Any]:
    return [getattr(block, "label", block) for block in blocks]


class TemplateOut(FromDomain):
    id: str
    name: str
    description: str | None
    model: str
    tools: list[str]
    tags: list[str]
    blocks: Annotated[list[str], BeforeValidator(_labels)] = Field(
        description="Labels of the blocks each new agent gets a copy of."
    )
    created_at: datetime


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
    parent_run_id: str | None = Field(description="The run of the agent whose message started this one.")
    created_at: datetime
    completed_at: datetime | None
    steps: list[StepOut]

    @classmethod
    def of_details(cls, details: RunDetails) -> RunOut:
        run = details.run
        base = SendMessageResult.of(run, details.messages, details.reply)
        return cls(
            **base.model_dump(),
            input=run.input,
            error=run.error,
            parent_run_id=run.parent_run_id,
            created_at=run.created_at,
            completed_at=run.completed_at,
            steps=[
                StepOut(
                    index=s.index,
                    model=s.model,
                    prompt_tokens=s.usage.prompt_tokens,
                    completion_tokens=s.usage.completion_tokens,
                    finish_reason=s.finish_reason,
                    error=s.error,
                )
                for s in details.steps
            ],
        )


class RunSummary(FromDomain):
    run_id: str = Field(validation_alias=AliasChoices("run_id", "id"))
    agent_id: str
    status: str
    stop_reason: str | None
    background: bool
    created_at: datetime
    completed_at: datetime | None


class RunList(BaseModel):
    runs: list[RunSummary]
