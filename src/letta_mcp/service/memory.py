"""Memory blocks as a client sees and edits them."""

from __future__ import annotations

from dataclasses import dataclass

from letta_mcp.models import (
    Block,
    utcnow,
)
from letta_mcp.runtime.block_edits import READ_ONLY_ERROR, MemoryEditError
from letta_mcp.runtime.blocks import save_block
from letta_mcp.runtime.memory import render_memory
from letta_mcp.runtime.system_message import memory_stats
from letta_mcp.service.access import current_principal
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.errors import (
    InvalidRequestError,
    MemoryLimitError,
)


@dataclass(frozen=True)
class MemoryView:
    agent_id: str
    blocks: list[Block]
    rendered: str  # the memory sections exactly as the model sees them


class MemoryMixin(ServiceBase):
    async def get_memory(self, agent_id: str) -> MemoryView:
        details = await self.get_agent(agent_id)
        async with self.store.read() as q:
            previous = details.messages_in_history - details.messages_in_context
            stats = await memory_stats(q, agent_id, previous_messages=previous)
        return MemoryView(agent_id, details.blocks, render_memory(agent_id, details.blocks, stats, utcnow()))

    async def get_block(self, agent_id: str, label: str) -> Block:
        async with self.store.read() as q:
            _, block = await self._agent_block(q, agent_id, label)
        return block

    async def update_block(
        self,
        agent_id: str,
        label: str,
        *,
        value: str | None = None,
        limit: int | None = None,
        description: str | None = None,
        read_only: bool | None = None,
    ) -> Block:
        """Change a block as a client. Same rules as the agent's tools: limit enforced, read-only kept."""
        changes = {
            k: v
            for k, v in {"value": value, "limit": limit, "description": description, "read_only": read_only}.items()
            if v is not None
        }
        if not changes:
            raise InvalidRequestError("Nothing to change: give value, limit, description or read_only.")
        async with self.store.read() as q:  # ownership first: a busy agent of another principal stays unknown
            await self._require_agent(q, agent_id)
        # The turn lease, like every other change to an agent: a turn sees its memory change only between turns.
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            _, block = await self._agent_block(q, agent_id, label)
            if block.read_only and value is not None and read_only is not False:
                raise MemoryLimitError(
                    f"{READ_ONLY_ERROR} Block '{label}' is read-only: to change its value, pass "
                    "read_only=false in the same call (or first)."
                )
            try:
                updated = await save_block(
                    q, block, changes, actor=f"principal:{current_principal().name}", reason="update_block"
                )
            except MemoryEditError as e:
                raise MemoryLimitError(str(e)) from e
            announce = await self._block_changes(q, updated)  # every agent sharing the block
        for change in announce:
            await self.changes.emit(change)
        return updated
