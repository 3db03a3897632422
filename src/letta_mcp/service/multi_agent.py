"""Agent-to-agent messaging: the service side of the multi-agent tools (`runtime.multi_agent`).

A message from one agent to another is an ordinary accepted run of the target (system role,
Letta's ``[Incoming message from agent with ID …]`` prefix), linked to the sender's run by
``parent_run_id`` — so per-agent ordering, durability, cancellation and `get_run` work exactly as
for a client's message, across every process sharing the data directory. Calls go through the
service, never over HTTP back to ourselves.

Safety, all answered at once with a tool error the calling model can act on:
- a waiting cycle (A waits on B waits on A, also through C) is refused before it can deadlock: the
  chain of parent runs is in the database, so this holds across processes;
- a chain deeper than ``multi_agent.max_depth`` and a fan-out wider than ``max_fanout`` are refused;
- an agent reaches only agents of its own owner (others read as unknown ids).
"""

from __future__ import annotations

import logging

import anyio

from letta_mcp.config import MultiAgentSettings
from letta_mcp.models import Agent, Role, Run, RunStatus
from letta_mcp.runtime.errors import ToolFailure
from letta_mcp.runtime.multi_agent import AgentReply, incoming
from letta_mcp.service.base import ServiceBase

log = logging.getLogger(__name__)

_MATCH_PAGE = 1000  # agents read per tag query before filtering by match_some


class Messenger:
    """`runtime.multi_agent.AgentMessenger` over one `AgentService`."""

    def __init__(self, service: ServiceBase, limits: MultiAgentSettings) -> None:
        self._service = service
        self._limits = limits

    async def send(self, sender: Agent, run_id: str, target_id: str, message: str, *, wait: bool) -> AgentReply:
        service = self._service
        async with service.store.read() as q:
            target = await q.agents.get(target_id)
            chain = await q.runs.ancestry(run_id, limit=self._limits.max_depth + 1)
            blocks_before = await q.blocks.for_agent(target_id) if target is not None else []
        if target is None or target.owner != sender.owner:
            raise ToolFailure(
                f"No agent with id {target_id!r}. Use an id you were given, or "
                "send_message_to_agents_matching_tags to reach agents by tag."
            )
        if target.id == sender.id:
            raise ToolFailure("That is your own id: you cannot send a message to yourself.")
        if len(chain) >= self._limits.max_depth:
            raise ToolFailure(
                f"Refused: this message would start call number {len(chain) + 1} in one chain of agents, over the "
                f"limit of {self._limits.max_depth} (setting multi_agent.max_depth). Answer with what you have."
            )
        waiting = [agent_id for _, agent_id in reversed(chain)]  # the root caller first
        if wait and target.id in waiting:
            path = " → ".join([*waiting, target.id])
            raise ToolFailure(
                f"Refused: agent {target.id} is already waiting for a reply in this chain of calls ({path}); "
                "waiting on it would never end. Use send_message_to_agent_async to notify it instead."
            )

        async def announce(run: Run) -> None:
            await service._turn_finished(target, blocks_before, run)

        run = await service.runs.submit(
            target,
            incoming(sender, message, wait=wait),
            role=Role.system,
            max_steps=None,
            background=not wait,
            on_done=announce,
            parent_run_id=run_id,
        )
        if not wait:
            return AgentReply(target.id, [])
        with anyio.move_on_after(self._limits.reply_timeout_s):
            result = await service.runs.wait(run)
            if result is not None and result.run.status is RunStatus.requires_approval:
                raise ToolFailure(
                    f"Agent {target.id} is waiting for a person to approve a tool call (run {run.id}); "
                    "its reply will come once that is decided."
                )
            if result is None or result.run.error:
                raise ToolFailure(
                    f"Agent {target.id} could not reply (run {run.id}): "
                    f"{(result.run.error if result else None) or 'its turn was cancelled or interrupted'}."
                )
            texts = [m.content for m in result.messages if m.role is Role.assistant and (m.content or "").strip()]
            return AgentReply(target.id, texts)
        raise ToolFailure(
            f"Agent {target.id} did not reply within {self._limits.reply_timeout_s:g} s "
            f"(setting multi_agent.reply_timeout_s). Its turn goes on as run {run.id}; its reply will be in "
            "its history."
        )

    async def send_to_tags(
        self, sender: Agent, run_id: str, match_all: list[str], match_some: list[str], message: str
    ) -> list[AgentReply]:
        if not match_all and not match_some:
            raise ToolFailure("Give at least one tag in match_all or match_some.")
        async with self._service.store.read() as q:
            found = await q.agents.list(
                tags=match_all or match_some,
                match_all_tags=bool(match_all),
                owner=sender.owner,
                limit=_MATCH_PAGE,
            )
        some = set(match_some)
        targets = [a for a in found if a.id != sender.id and (not some or some & set(a.tags))]
        if len(targets) > self._limits.max_fanout or len(found) == _MATCH_PAGE:
            raise ToolFailure(
                f"Refused: these tags match more than {self._limits.max_fanout} agents (setting "
                "multi_agent.max_fanout). Use more specific tags."
            )
        replies: dict[str, AgentReply] = {}
        limiter = anyio.CapacityLimiter(self._limits.concurrency)

        async def one(target: Agent) -> None:
            async with limiter:
                try:
                    replies[target.id] = await self.send(sender, run_id, target.id, message, wait=True)
                except ToolFailure as e:  # one target's failure does not stop the others
                    replies[target.id] = AgentReply(target.id, [f"<error: {e}>"])
                except Exception as e:  # a bug must not cost the other targets their replies
                    log.exception("Run %s: message to agent %s failed", run_id, target.id)
                    replies[target.id] = AgentReply(target.id, [f"<error: {type(e).__name__}>"])

        async with anyio.create_task_group() as tg:
            for target in targets:
                tg.start_soon(one, target)
        return [replies[t.id] for t in targets]
