"""The context window: what the model would see now, and compaction on demand."""

from __future__ import annotations

from letta_mcp.runtime.compaction import CompactionResult
from letta_mcp.runtime.context import ContextOverview, overview
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.changes import Change


class ContextMixin(ServiceBase):
    async def get_context(self, agent_id: str) -> ContextOverview:
        """What the agent's model would be sent now, section by section, with token counts."""
        async with self.store.read() as q:
            agent = await self._require_agent(q, agent_id)
            blocks = await q.blocks.for_agent(agent_id)
            context = await q.messages.in_context(agent_id)
            total, _ = await q.messages.counts(agent_id)
        tools = await self._loop.offered_tools(agent)  # after the read: it may reach other MCP servers
        return overview(agent, blocks, context, tools, total, self._loop.context, self._loop.calibration)

    async def compact_context(self, agent_id: str) -> CompactionResult | None:
        """Compact the agent's context now (down to the target); None when nothing can be evicted."""
        agent = (await self.get_agent(agent_id)).agent
        async with self.runs.lease.hold(agent_id):
            result = await self._loop.compact_now(agent)
        if result is not None:
            await self.changes.emit(Change(agent.owner, agent_id, messages=True))
        return result
