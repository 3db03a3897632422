"""Sleep-time agents (Letta semantics): a memory agent that works between the main agent's turns.

``enable_sleeptime`` gives an agent a companion ``<name>-sleeptime`` agent that shares every one of
its memory blocks (plus a ``memory_persona`` block of its own) and has only the memory-editing
tools. The pair is a ``sleeptime`` group (manager: the main agent) whose config holds
``sleeptime_agent_frequency`` (default 5), ``turns_counter`` and ``last_processed_seq``.

After every N-th completed turn of the main agent, the sleep-time agent gets a background run —
linked to the main turn's run, listed by ``list_runs`` — whose input is a reminder of its task and
the main agent's transcript since ``last_processed_seq``. It edits the shared blocks and ends with
``memory_finish_edits``; the main agent sees the edits from its next step on. Its turns queue on
its own agent, so they never delay the main agent's. Only a *completed* run advances
``last_processed_seq``: a failed or interrupted one leaves the transcript to the next trigger, so
nothing goes unseen.
"""

from __future__ import annotations

import logging

from letta_mcp.llm.client_model import CLIENT_HANDLE
from letta_mcp.models import Agent, AgentGroup, BlockSpec, Message, Role, Run, RunStatus, new_id, utcnow
from letta_mcp.runtime.blocks import create_block
from letta_mcp.runtime.prompts import SLEEPTIME_PERSONA, SLEEPTIME_SYSTEM_PROMPT, SLEEPTIME_TOOLS, sleeptime_reminder
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.errors import InvalidRequestError
from letta_mcp.service.specs import new_block
from letta_mcp.store import Queries

log = logging.getLogger(__name__)

SLEEPTIME = "sleeptime"
DEFAULT_FREQUENCY = 5
_TRANSCRIPT_MESSAGES = 200  # at most this many of the newest unseen messages go into one run
_MESSAGE_CHARS = 2000  # each message is cut to this length in the transcript


class SleeptimeMixin(ServiceBase):
    async def _configure_sleeptime(
        self, q: Queries, agent: Agent, *, enabled: bool, frequency: int | None
    ) -> AgentGroup | None:
        """Inside a write transaction: create, re-enable, retune or disable the agent's sleep-time
        agent. Disabling keeps the companion agent and its history (enabling again resumes it)."""
        if enabled and agent.model == CLIENT_HANDLE:
            raise InvalidRequestError(
                "A sleep-time agent runs in the background, where no MCP client can lend its model: give "
                "the agent a 'provider/model' model (update_agent) before enabling sleep-time."
            )
        group = await q.groups.managed(agent.id, SLEEPTIME)
        if group is None:
            if not enabled:
                return None
            group = await self._create_sleeptime_agent(q, agent, frequency or DEFAULT_FREQUENCY)
        else:
            config = {**group.config}
            if frequency is not None:
                config["sleeptime_agent_frequency"] = frequency
            await q.groups.update(group.id, config=config, enabled=enabled)
            group = group.model_copy(update={"config": config, "enabled": enabled})
        return group

    async def sleeptime_agent_of(self, agent_id: str) -> str | None:
        """The id of the agent's sleep-time agent while it is enabled."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            group = await q.groups.managed(agent_id, SLEEPTIME)
        return group.agent_ids[0] if group is not None and group.enabled and group.agent_ids else None

    async def _create_sleeptime_agent(self, q: Queries, agent: Agent, frequency: int) -> AgentGroup:
        now = utcnow()
        sleeper = Agent(
            id=new_id("agent"),
            name=f"{agent.name}-sleeptime",
            system=SLEEPTIME_SYSTEM_PROMPT,
            model=agent.model,
            tools=list(SLEEPTIME_TOOLS),
            tags=[],
            description=f"Sleep-time memory agent of {agent.id}: consolidates its memory between turns.",
            max_steps=agent.max_steps,
            context_window=agent.context_window,
            owner=agent.owner,
            created_at=now,
            updated_at=now,
        )
        await q.agents.insert(sleeper)
        for block in await q.blocks.for_agent(agent.id):  # shared, not copied
            await q.blocks.link(sleeper.id, block)
        persona = new_block(
            BlockSpec(label="memory_persona", value=SLEEPTIME_PERSONA), now, self.settings.default_block_limit
        )
        await create_block(q, sleeper.id, persona, actor=f"agent:{agent.id}", reason="enable_sleeptime")
        await refresh_system_message(q, sleeper, now)
        group = AgentGroup(
            id=new_id("group"),
            manager_type=SLEEPTIME,
            manager_agent_id=agent.id,
            agent_ids=[sleeper.id],
            config={"sleeptime_agent_frequency": frequency, "turns_counter": 0, "last_processed_seq": 0},
            description=f"Sleep-time memory agent for {agent.name}",
            enabled=True,
            created_at=now,
        )
        await q.groups.insert(group)
        return group

    async def _after_turn(self, agent: Agent, run: Run) -> None:
        if run.status is not RunStatus.completed:
            return
        async with self.store.read() as q:  # the common case (no sleep-time agent) never writes
            group = await q.groups.managed(agent.id, SLEEPTIME)
        if group is None or not group.enabled or not group.agent_ids:
            return
        async with self.store.write() as q:
            turns = await q.groups.count_turn(group.id)
        frequency = int(group.config.get("sleeptime_agent_frequency") or DEFAULT_FREQUENCY)
        if turns % frequency == 0:
            await self._start_sleeptime_run(agent, run.id)

    async def _start_sleeptime_run(self, agent: Agent, parent_run_id: str) -> Run | None:
        async with self.store.read() as q:
            group = await q.groups.managed(agent.id, SLEEPTIME)  # fresh: another process may have moved it
            sleeper = await q.agents.get(group.agent_ids[0]) if group is not None and group.agent_ids else None
            if group is None or sleeper is None:
                return None
            seen = int(group.config.get("last_processed_seq") or 0)
            newest = await q.messages.page(agent.id, after_seq=seen, limit=_TRANSCRIPT_MESSAGES + 1)
            blocks_before = await q.blocks.for_agent(sleeper.id)
        if not newest:
            return None
        through = newest[0].seq
        skipped = len(newest) > _TRANSCRIPT_MESSAGES
        transcript = _transcript(list(reversed(newest[:_TRANSCRIPT_MESSAGES])), skipped=skipped)

        async def done(run: Run) -> None:
            await self._turn_finished(sleeper, blocks_before, run)
            if run.status is RunStatus.completed:
                async with self.store.write() as q:
                    await q.groups.mark_processed(group.id, through)

        return await self.runs.submit(
            sleeper,
            sleeptime_reminder(agent.id, transcript),
            role=Role.user,
            max_steps=None,
            background=True,
            on_done=done,
            parent_run_id=parent_run_id,
        )


def _transcript(messages: list[Message], *, skipped: bool) -> str:
    """The main agent's messages as the sleep-time agent reads them: who said what, and when."""
    lines = ["(earlier messages not shown)"] if skipped else []
    for m in messages:
        stamp = f"[{m.created_at:%Y-%m-%d %H:%M}]"
        if m.role in (Role.user, Role.assistant, Role.system) and m.seq > 0 and (m.content or "").strip():
            lines.append(f"{stamp} {m.role.value}: {_cut(m.content or '')}")
        for call in m.tool_calls:
            lines.append(f"{stamp} assistant called {call.name}({_cut(call.arguments)})")
    return "\n".join(lines)


def _cut(text: str) -> str:
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + " …"
