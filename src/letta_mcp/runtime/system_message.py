"""Keeping the system message (seq 0) in step with the agent's memory.

The system message is compiled from the agent's system prompt, its blocks and the memory
metadata, and rewritten in place only when that text changes (ignoring the recompile
timestamp): an unchanged prefix keeps provider prompt caches warm.
"""

from __future__ import annotations

from datetime import datetime

from letta_mcp.llm.tokens import MESSAGE_OVERHEAD, estimate_text
from letta_mcp.models import Agent, Message, Role, new_id
from letta_mcp.runtime.memory import MemoryStats, compile_system_message, same_content
from letta_mcp.runtime.remote_tools import provider_rules
from letta_mcp.runtime.tool_rules import render_rules
from letta_mcp.store import Queries


async def refresh_system_message(q: Queries, agent: Agent, now: datetime) -> None:
    """Recompile the system message (seq 0) from the current blocks; rewrite it only if it changed."""
    system = await q.messages.page(agent.id, after_seq=-1, limit=1, newest_first=False)
    total, in_context = await q.messages.counts(agent.id)
    blocks = await q.blocks.for_agent(agent.id)
    stats = await memory_stats(q, agent.id, previous_messages=total - in_context)
    compiled = compile_system_message(agent.system, agent.id, blocks, stats, now)
    if rules := render_rules(provider_rules(agent.tool_rules)):  # tools named as the model sees them
        compiled = f"{compiled}\n\n{rules}"
    tokens = MESSAGE_OVERHEAD + estimate_text(compiled)
    if not system:
        await q.messages.insert(
            [
                Message(
                    id=new_id("message"),
                    agent_id=agent.id,
                    seq=0,
                    role=Role.system,
                    content=compiled,
                    tokens=tokens,
                    created_at=now,
                )
            ]
        )
    elif not same_content(system[0].content or "", compiled):
        await q.messages.update_content(system[0].id, compiled, tokens)


async def memory_stats(q: Queries, agent_id: str, *, previous_messages: int) -> MemoryStats:
    """The counts of ``<memory_metadata>``. Archival ones come from trigger-kept counters:
    O(attached archives) however many passages there are."""
    archival_count, archival_tags = await q.archival.stats_for_agent(agent_id)
    return MemoryStats(
        previous_messages=previous_messages, archival_memories=archival_count, archival_tags=tuple(archival_tags)
    )
