"""Writing memory blocks: the one place a block changes, for the agent's tools and for clients alike.

Every change is checked against the block's limit, bumps its version and is recorded in
``block_history`` in the same transaction, so an edit is either complete and recorded or absent.
"""

from __future__ import annotations

from letta_mcp.models import Block, BlockHistoryEntry, new_id, utcnow
from letta_mcp.runtime.block_edits import check_limit
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.store import Queries


async def record_history(q: Queries, block: Block, *, actor: str, reason: str, run_id: str | None = None) -> None:
    await q.blocks.add_history(
        BlockHistoryEntry(
            id=new_id("blockhist"),
            block_id=block.id,
            version=block.version,
            label=block.label,
            value=block.value,
            limit=block.limit,
            description=block.description,
            actor=actor,
            reason=reason,
            created_at=block.updated_at,
            run_id=run_id,
        )
    )


async def create_block(
    q: Queries, agent_id: str | None, block: Block, *, actor: str, reason: str, run_id: str | None = None
) -> Block:
    """Insert a new block, link it to ``agent_id`` (None: a standalone block) and record its first version."""
    check_limit(block.label, block.value, block.limit)
    await q.blocks.insert(block)
    if agent_id is not None:
        await q.blocks.link(agent_id, block)
    await record_history(q, block, actor=actor, reason=reason, run_id=run_id)
    return block


async def save_block(
    q: Queries,
    block: Block,
    changes: dict[str, object],
    *,
    actor: str,
    reason: str,
    run_id: str | None = None,
    editing_agent_id: str | None = None,
) -> Block:
    """Apply ``changes`` (field → new value) to ``block``, enforcing its limit; returns the new block.

    Every agent the block is attached to sees the change in its system message from its next step
    on, except ``editing_agent_id`` (an agent editing during its own step), whose system message
    the step refreshes once at its end. Raises `MemoryEditError` (from `block_edits`) when the
    result would exceed the limit; nothing is written then.
    """
    updated = block.model_copy(update=changes)
    check_limit(updated.label, updated.value, updated.limit)
    updated = updated.model_copy(update={"version": block.version + 1, "updated_at": utcnow()})
    await q.blocks.update(updated)
    await record_history(q, updated, actor=actor, reason=reason, run_id=run_id)
    await refresh_readers(q, updated.id, skip=editing_agent_id)
    return updated


async def refresh_readers(q: Queries, block_id: str, *, skip: str | None = None) -> list[str]:
    """Recompile the system message of every agent ``block_id`` is attached to (but ``skip``);
    returns their ids."""
    readers = [agent_id for agent_id in await q.blocks.attached_agents(block_id) if agent_id != skip]
    now = utcnow()
    for agent_id in readers:
        agent = await q.agents.get(agent_id)
        if agent is not None:
            await refresh_system_message(q, agent, now)
    return readers
