"""Writing memory blocks: the one place a block changes, for the agent's tools and for clients alike.

Every change is checked against the block's limit, bumps its version and is recorded in
``block_history`` in the same transaction, so an edit is either complete and recorded or absent.
"""

from __future__ import annotations

from letta_mcp.models import Block, BlockHistoryEntry, new_id, utcnow
from letta_mcp.runtime.block_edits import check_limit
from letta_mcp.store import Queries


async def record_history(q: Queries, block: Block, *, actor: str, reason: str) -> None:
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
        )
    )


async def create_block(q: Queries, agent_id: str, block: Block, *, actor: str, reason: str) -> Block:
    """Insert a new block, link it to ``agent_id`` and record its first version."""
    check_limit(block.label, block.value, block.limit)
    await q.blocks.insert(block)
    await q.blocks.link(agent_id, block)
    await record_history(q, block, actor=actor, reason=reason)
    return block


async def save_block(q: Queries, block: Block, changes: dict[str, object], *, actor: str, reason: str) -> Block:
    """Apply ``changes`` (field → new value) to ``block``, enforcing its limit; returns the new block.

    Raises `MemoryEditError` (from `block_edits`) when the result would exceed the limit;
    nothing is written then.
    """
    updated = block.model_copy(update=changes)
    check_limit(updated.label, updated.value, updated.limit)
    updated = updated.model_copy(update={"version": block.version + 1, "updated_at": utcnow()})
    await q.blocks.update(updated)
    await record_history(q, updated, actor=actor, reason=reason)
    return updated
