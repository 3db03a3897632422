"""Compiling the system message: system prompt + ``<memory_blocks>`` + ``<memory_metadata>``.

The layout matches Letta's ``Memory.compile`` and memory-metadata block, so prompts and parsers
written for Letta agents read ours the same way. One line says more than Letta's: the count of
previous messages is of those that left the context window (the rest are in front of the model),
and an agent reading "0 previous messages" next to a visible conversation took it for a fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import StringIO

from letta_mcp.models import Block

CORE_MEMORY_PLACEHOLDER = "{CORE_MEMORY}"
_RECOMPILED_PREFIX = "- System prompt last recompiled: "


@dataclass(frozen=True)
class MemoryStats:
    """Counts rendered in ``<memory_metadata>``."""

    previous_messages: int  # in the history but no longer in the context window
    archival_memories: int = 0
    archival_tags: tuple[str, ...] = ()


def format_time(moment: datetime) -> str:
    """Letta's human-readable timestamp, e.g. ``2026-11-25 01:02:03 PM UTC+0000``."""
    return moment.strftime("%Y-%m-%d %I:%M:%S %p %Z%z")


def render_blocks(blocks: list[Block]) -> str:
    s = StringIO()
    s.write("<memory_blocks>\nThe following memory blocks are currently engaged in your core memory unit:\n\n")
    for i, block in enumerate(blocks):
        s.write(f"<{block.label}>\n<description>\n{block.description or ''}\n</description>\n<metadata>")
        if block.read_only:
            s.write("\n- read_only=true")
        s.write(f"\n- chars_current={len(block.value)}\n- chars_limit={block.limit}\n</metadata>\n")
        s.write(f"<value>\n{block.value}\n</value>\n</{block.label}>\n")
        if i != len(blocks) - 1:
            s.write("\n")
    s.write("\n</memory_blocks>")
    return s.getvalue()


def render_metadata(agent_id: str, stats: MemoryStats, recompiled_at: datetime) -> str:
    lines = [
        "<memory_metadata>",
        f"- AGENT_ID: {agent_id}",
        "- CONVERSATION_ID: default",
        f"{_RECOMPILED_PREFIX}{format_time(recompiled_at)}",
        f"- {stats.previous_messages} previous messages between you and the user are stored in recall memory"
        " (outside your context window; use tools to access them)",
    ]
    if stats.archival_memories > 0:
        lines.append(
            f"- {stats.archival_memories} total memories you created are stored in archival memory"
            " (use tools to access them)"
        )
    if stats.archival_tags:
        lines.append(f"- Available archival memory tags: {', '.join(stats.archival_tags)}")
    lines.append("</memory_metadata>")
    return "\n".join(lines)


def render_memory(agent_id: str, blocks: list[Block], stats: MemoryStats, recompiled_at: datetime) -> str:
    """The memory string: blocks, then metadata (what ``letta://agents/{id}/memory`` shows)."""
    return f"{render_blocks(blocks)}\n\n{render_metadata(agent_id, stats, recompiled_at)}"


def compile_system_message(
    system: str, agent_id: str, blocks: list[Block], stats: MemoryStats, recompiled_at: datetime
) -> str:
    """The full system message. ``{CORE_MEMORY}`` in the prompt marks where memory goes; else it is appended."""
    memory = render_memory(agent_id, blocks, stats, recompiled_at)
    if CORE_MEMORY_PLACEHOLDER in system:
        return system.replace(CORE_MEMORY_PLACEHOLDER, memory)
    return f"{system}\n\n{memory}"


def same_content(a: str, b: str) -> bool:
    """Whether two compiled system messages differ only in their recompile timestamp.

    Rewriting the system message changes the prompt prefix (and defeats provider prompt
    caching), so it is rewritten only when something the model should see has changed.
    """
    return _without_timestamp(a) == _without_timestamp(b)


def _without_timestamp(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(_RECOMPILED_PREFIX))
