"""Building and validating a new agent's configuration (before anything is written).

Pure functions over `BlockSpec`s and tool names, used by `AgentService.create_agent` and
`update_agent`; every problem is an `InvalidRequestError` or `MemoryLimitError` that says how to
fix the request.
"""

from __future__ import annotations

import re
from datetime import datetime

from letta_mcp.models import Block, BlockSpec, Template, new_id
from letta_mcp.runtime.prompts import DEFAULT_HUMAN, DEFAULT_PERSONA, STANDARD_DESCRIPTIONS
from letta_mcp.runtime.tools import BUILTIN_TOOLS
from letta_mcp.service.errors import InvalidRequestError, MemoryLimitError

# Tools a new agent gets unless told otherwise: every memory editor, recall search and archival
# memory. memory_finish_edits ends the turn without a reply, which only suits background memory agents.
DEFAULT_TOOLS: tuple[str, ...] = (
    "memory_insert",
    "memory_replace",
    "memory_rethink",
    "core_memory_append",
    "core_memory_replace",
    "conversation_search",
    "archival_memory_insert",
    "archival_memory_search",
)

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


def block_specs(
    base: Template | None, blocks: list[BlockSpec] | None, *, persona: str | None, human: str | None
) -> list[BlockSpec]:
    """The new agent's blocks: the template's (or persona + human), then ``blocks`` by label, then
    the ``persona``/``human`` shorthands."""
    if base is not None:
        specs = {b.label: b.model_copy() for b in base.blocks}
    else:
        specs = {
            "persona": BlockSpec(label="persona", value=DEFAULT_PERSONA),
            "human": BlockSpec(label="human", value=DEFAULT_HUMAN),
        }
    explicit = [b.label for b in blocks or []]
    if len(explicit) != len(set(explicit)):
        raise InvalidRequestError("Block labels in blocks must be unique.")
    specs.update({b.label: b.model_copy() for b in blocks or []})
    for label, value in (("persona", persona), ("human", human)):
        if value is None:
            continue
        if label in explicit:
            raise InvalidRequestError(f"'{label}' was given both as an argument and in blocks; give it once.")
        spec = specs.get(label) or BlockSpec(label=label)
        specs[label] = spec.model_copy(update={"value": value})
    return list(specs.values())


def new_block(spec: BlockSpec, now: datetime, default_limit: int) -> Block:
    """A block from its spec; without a limit it gets the default (or its length, if longer)."""
    return Block(
        id=new_id("block"),
        label=spec.label,
        value=spec.value,
        limit=spec.limit or max(default_limit, len(spec.value)),
        description=spec.description or STANDARD_DESCRIPTIONS.get(spec.label),
        read_only=spec.read_only,
        metadata=spec.metadata,
        created_at=now,
        updated_at=now,
    )


def check_tools(tools: list[str]) -> None:
    """Every name is a built-in tool or names another MCP server's (``mcp:``, checked against the
    server by `RemoteToolsMixin`)."""
    unknown = [t for t in tools if t not in BUILTIN_TOOLS and not t.startswith("mcp:")]
    if unknown:
        raise InvalidRequestError(
            f"Unknown tool(s): {', '.join(unknown)}. Available tools: {', '.join(BUILTIN_TOOLS)}. Tools of other "
            "MCP servers are named 'mcp:<server>/<tool>' (see list_mcp_tools)."
        )


def check_blocks(specs: list[BlockSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if not _LABEL.match(spec.label):
            raise InvalidRequestError(
                f"Invalid block label {spec.label!r}: use letters, digits, '_' or '-', starting with a "
                "letter or '_' (at most 64 characters), e.g. 'human' or 'project_notes'."
            )
        if spec.label in seen:
            raise InvalidRequestError(f"Block label {spec.label!r} appears twice; labels must be unique.")
        seen.add(spec.label)
        if spec.limit is not None and len(spec.value) > spec.limit:
            raise MemoryLimitError(
                f"Block {spec.label!r} has {len(spec.value)} characters, over its limit of {spec.limit}. "
                "Shorten the value or raise the limit."
            )
