"""A compaction summary takes the next free position in the agent's history, like every other writer."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Message, Role, new_id, utcnow
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


async def test_summary_seq_follows_a_history_with_a_gap(service: AgentService, scripted: ScriptedProvider) -> None:
    """Seqs are positions, not counts: a history with a gap (an imported one, say) has more positions
    than rows. The summary must still go after the newest message, never onto an existing seq."""
    with anyio.fail_after(20):
        agent_id = (await service.create_agent(name="gappy", tools=[])).agent.id
        for i in range(4):
            scripted.add(reply(f"Answer number {i}, with some words to evict later on."))
            await service.send_message(agent_id, f"Question number {i}, long enough to be worth evicting.")
        async with service.store.write() as q:
            gap_seq = await q.messages.next_seq(agent_id) + 1
            late = Message(
                id=new_id("message"),
                agent_id=agent_id,
                seq=gap_seq,
                role=Role.user,
                content="A message stored after a gap in the history.",
                created_at=utcnow(),
            )
            await q.messages.insert([late])
        scripted.add(reply("The user asked four numbered questions."))
        result = await service.compact_context(agent_id)
    assert result is not None and result.evicted > 0
    assert result.summary.seq == gap_seq + 1
    async with service.store.read() as q:
        assert await q.messages.next_seq(agent_id) == gap_seq + 2
