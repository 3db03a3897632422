"""Letta Agent File documents as pydantic models, as tolerant as Letta's own importer.

Two formats exist. **v2** (`AgentFileV2`, what Letta writes today): top-level lists of agents,
blocks, tools, groups… that refer to each other by file-local ids (``agent-0``, ``block-3``).
**v1** (`AgentFileV1`, Letta ≤ 0.10, with a ``version`` field): one agent with its blocks
(``core_memory``) and tools inline and no ids at all. Fields we do not use are ignored, and a field
may be null wherever real exports leave it null; what we do use is typed, so a malformed document
fails validation with a located message before anything is written.

`Extension` is letta-mcp's own top-level key (``letta_mcp``): archival passages and the agent
settings Letta's schema has no field for. It lives at the top level because Letta's
``AgentFileSchema`` ignores unknown keys there, while its agent, block and message schemas
forbid extra fields.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

EXTENSION_KEY = "letta_mcp"
EXTENSION_FORMAT = 1


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --- shared pieces ------------------------------------------------------------------------------


class ContentPart(_Lenient):
    """One part of a message's content: ``text`` or ``reasoning`` (others, e.g. images, are skipped)."""

    type: str = "text"
    text: str | None = None
    reasoning: str | None = None


class FunctionCall(_Lenient):
    name: str
    arguments: str = "{}"

    @field_validator("arguments", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        # Some exports carry the arguments as an object rather than the OpenAI JSON string.
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return "{}" if value is None else value


class ToolCallRecord(_Lenient):
    id: str
    function: FunctionCall


class ToolReturnRecord(_Lenient):
    tool_call_id: str | None = None
    status: str | None = None
    func_response: str | None = None


class MessageRecord(_Lenient):
    id: str | None = None  # v2 only
    role: str
    content: list[ContentPart] | str | None = None
    text: str | None = None  # the oldest exports keep plain text here
    name: str | None = None
    tool_calls: list[ToolCallRecord] | None = None
    tool_call_id: str | None = None
    tool_returns: list[ToolReturnRecord] | None = None
    created_at: datetime | None = None


class BlockRecord(_Lenient):
    id: str | None = None  # v2 only
    label: str
    value: str = ""
    limit: int | None = None
    description: str | None = None
    read_only: bool | None = False
    metadata: dict[str, Any] | None = Field(default=None, validation_alias=AliasChoices("metadata", "metadata_"))

    @field_validator("value", mode="before")
    @classmethod
    def _null_value(cls, value: Any) -> Any:
        return "" if value is None else value


class ToolRecord(_Lenient):
    id: str | None = None  # v2 only
    name: str
    description: str | None = None
    tool_type: str | None = None
    source_type: str | None = None
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = Field(default=None, validation_alias=AliasChoices("metadata_", "metadata"))


class LLMConfig(_Lenient):
    model: str | None = None
    handle: str | None = None
    model_endpoint_type: str | None = None
    context_window: int | None = None


# --- letta-mcp's extension ----------------------------------------------------------------------


class PassageRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class AgentExtension(BaseModel):
    """Per agent (keyed by its file id): what Letta's agent schema cannot carry."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None  # our provider/model handle
    max_steps: int | None = Field(default=None, ge=1)
    context_window: int | None = Field(default=None, ge=1)
    message_kinds: dict[str, str] = Field(default_factory=dict)  # file message id -> kind ("summary"…)
    passages: list[PassageRecord] = Field(default_factory=list)


class Extension(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: int = EXTENSION_FORMAT
    agents: dict[str, AgentExtension] = Field(default_factory=dict)


# --- v2 -----------------------------------------------------------------------------------------


class AgentRecord(_Lenient):
    id: str
    name: str | None = None
    system: str | None = None
    agent_type: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = Field(default=None, validation_alias=AliasChoices("metadata", "metadata_"))
    tags: list[str] | None = None
    llm_config: LLMConfig | None = None
    tool_ids: list[str] | None = None
    block_ids: list[str] | None = None
    tool_rules: list[dict[str, Any]] | None = None
    messages: list[MessageRecord] = Field(default_factory=list)
    in_context_message_ids: list[str] = Field(default_factory=list)
    files_agents: list[dict[str, Any]] | None = None
    source_ids: list[str] | None = None


class ManagerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # the manager's own settings travel with it

    manager_type: str
    manager_agent_id: str | None = None


class GroupRecord(_Lenient):
    id: str
    agent_ids: list[str] = Field(default_factory=list)
    manager_config: ManagerConfig
    shared_block_ids: list[str] | None = None
    description: str | None = None


class AgentFileV2(_Lenient):
    agents: list[AgentRecord]
    groups: list[GroupRecord] = Field(default_factory=list)
    blocks: list[BlockRecord] = Field(default_factory=list)
    tools: list[ToolRecord] = Field(default_factory=list)
    files: list[dict[str, Any]] = Field(default_factory=list)
    sources: list[dict[str, Any]] = Field(default_factory=list)
    mcp_servers: list[dict[str, Any]] = Field(default_factory=list)
    skills: list[dict[str, Any]] | None = None
    extension: Extension | None = Field(default=None, validation_alias=EXTENSION_KEY)


# --- v1 (legacy) --------------------------------------------------------------------------------


class AgentFileV1(_Lenient):
    version: str | None = None
    name: str | None = None
    system: str | None = None
    agent_type: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = Field(default=None, validation_alias=AliasChoices("metadata_", "metadata"))
    tags: list[dict[str, Any] | str] | None = None
    llm_config: LLMConfig | None = None
    core_memory: list[BlockRecord] = Field(default_factory=list)
    tools: list[ToolRecord] = Field(default_factory=list)
    tool_rules: list[dict[str, Any]] | None = None
    messages: list[MessageRecord] = Field(default_factory=list)
    in_context_message_indices: list[int] = Field(default_factory=list)
    multi_agent_group: dict[str, Any] | None = None
