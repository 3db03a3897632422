"""Agents: create, list, read, reconfigure and delete."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from letta_mcp.models import (
    Agent,
    Block,
    BlockSpec,
    RunStatus,
    ToolRule,
    new_id,
    utcnow,
)
from letta_mcp.runtime.blocks import create_block
from letta_mcp.runtime.multi_agent import MULTI_AGENT_TOOLS
from letta_mcp.runtime.prompts import (
    DEFAULT_SYSTEM_PROMPT,
)
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.runtime.tool_rules import ToolRuleError, check_rules
from letta_mcp.service.access import current_principal
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import ConflictError, InvalidRequestError
from letta_mcp.service.limits import AgentConfig, PrincipalLimits
from letta_mcp.service.remote_tools import RemoteToolsMixin
from letta_mcp.service.sleeptime import SLEEPTIME, SleeptimeMixin
from letta_mcp.service.specs import DEFAULT_TOOLS, block_specs, check_blocks, check_tools, new_block


@dataclass(frozen=True)
class AgentDetails:
    agent: Agent
    blocks: list[Block]
    messages_in_history: int
    messages_in_context: int
    sleeptime_agent_id: str | None = None  # its sleep-time memory agent, while enabled


class AgentsMixin(SleeptimeMixin, RemoteToolsMixin):  # agents own their sleep-time companions
    async def create_agent(
        self,
        *,
        name: str | None = None,
        persona: str | None = None,
        human: str | None = None,
        blocks: list[BlockSpec] | None = None,
        system: str | None = None,
        model: str | None = None,
        tools: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        template: str | None = None,
        max_steps: int | None = None,
        context_window: int | None = None,
        include_multi_agent_tools: bool = False,
        enable_sleeptime: bool = False,
        sleeptime_agent_frequency: int | None = None,
        tool_rules: list[ToolRule] | None = None,
    ) -> AgentDetails:
        """A new agent. ``include_multi_agent_tools`` adds the agent-to-agent messaging tools;
        ``enable_sleeptime`` gives it a sleep-time memory agent (see `service.sleeptime`)."""
        base = await self._template(template) if template else None
        specs = block_specs(base, blocks, persona=persona, human=human)
        model = model or (base.model if base else self.settings.default_model)
        tool_names = tools if tools is not None else (base.tools if base else list(DEFAULT_TOOLS))
        if include_multi_agent_tools:
            tool_names = [*tool_names, *MULTI_AGENT_TOOLS]
        self._check_model(model)
        check_tools(tool_names)
        await self._check_remote_tools(tool_names)
        _check_rules(tool_rules or [], tool_names)
        check_blocks(specs)
        now = utcnow()
        agent = Agent(
            id=new_id("agent"),
            name=name or (f"{base.name}-{now:%Y%m%d%H%M%S}" if base else f"agent-{now:%Y%m%d%H%M%S}"),
            system=system or (base.system if base else DEFAULT_SYSTEM_PROMPT),
            model=model,
            tools=list(dict.fromkeys(tool_names)),
            tags=sorted(set(tags if tags is not None else (base.tags if base else []))),
            description=description,
            max_steps=max_steps or (base.max_steps if base else self.settings.max_steps),
            context_window=context_window,
            owner=current_principal().name,
            tool_rules=tool_rules or [],
            created_at=now,
            updated_at=now,
        )
        PrincipalLimits.current(self.settings.limits).check_agent(
            AgentConfig(
                model=agent.model,
                name=agent.name,
                description=agent.description,
                system=agent.system,
                tags=agent.tags,
                max_steps=max_steps or (base.max_steps if base else None),  # the operator's default is not checked
                context_window=agent.context_window,
            )
        )
        async with self.store.write() as q:
            await q.agents.insert(agent)
            created = [
                await create_block(
                    q,
                    agent.id,
                    new_block(spec, now, self.settings.default_block_limit),
                    actor=f"principal:{current_principal().name}",
                    reason="create_agent",
                )
                for spec in specs
            ]
            await refresh_system_message(q, agent, now)
            group = await self._configure_sleeptime(
                q, agent, enabled=enable_sleeptime, frequency=sleeptime_agent_frequency
            )
        await self.changes.emit(Change(agent.owner, agent.id, agent=True))
        sleeper = group.agent_ids[0] if group is not None else None
        return AgentDetails(agent, created, messages_in_history=1, messages_in_context=1, sleeptime_agent_id=sleeper)

    async def list_agents(
        self,
        *,
        tags: list[str] | None = None,
        match_all_tags: bool = False,
        name: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Agent]:
        owner = current_principal().owner_filter
        async with self.store.read() as q:
            return await q.agents.list(
                tags=tags, match_all_tags=match_all_tags, name=name, owner=owner, limit=limit, offset=offset
            )

    async def get_agent(self, agent_id: str) -> AgentDetails:
        async with self.store.read() as q:
            agent = await self._require_agent(q, agent_id)
            blocks = await q.blocks.for_agent(agent_id)
            total, in_context = await q.messages.counts(agent_id)
            group = await q.groups.managed(agent_id, SLEEPTIME)
        sleeper = group.agent_ids[0] if group is not None and group.enabled and group.agent_ids else None
        return AgentDetails(agent, blocks, total, in_context, sleeptime_agent_id=sleeper)

    async def update_agent(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        system: str | None = None,
        model: str | None = None,
        tools: list[str] | None = None,
        tags: list[str] | None = None,
        description: str | None = None,
        max_steps: int | None = None,
        context_window: int | None = None,
        enable_sleeptime: bool | None = None,
        sleeptime_agent_frequency: int | None = None,
        tool_rules: list[ToolRule] | None = None,
    ) -> Agent:
        """Change the agent's settings; ``enable_sleeptime`` turns its sleep-time agent on or off."""
        if model is not None:
            self._check_model(model)
        if tools is not None:
            check_tools(tools)
            await self._check_remote_tools(tools)
        PrincipalLimits.current(self.settings.limits).check_agent(
            AgentConfig(
                model=model,
                name=name,
                description=description,
                system=system,
                tags=tags,
                max_steps=max_steps,
                context_window=context_window,
            )
        )
        changes: dict[str, object] = {
            k: v
            for k, v in {
                "name": name,
                "system": system,
                "model": model,
                "description": description,
                "max_steps": max_steps,
                "context_window": context_window,
            }.items()
            if v is not None
        }
        if tools is not None:
            changes["tools"] = list(dict.fromkeys(tools))
        if tags is not None:
            changes["tags"] = sorted(set(tags))
        if tool_rules is not None:
            changes["tool_rules"] = tool_rules
        async with self.store.read() as q:  # ownership first: a busy agent of another principal stays unknown
            await self._require_agent(q, agent_id)
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            updated = agent.model_copy(update={**changes, "updated_at": utcnow()})
            _check_rules(updated.tool_rules, updated.tools)  # new tools must still fit the rules
            if tool_rules is not None and (
                paused := await q.runs.for_agent(agent_id, status=RunStatus.requires_approval, limit=1)
            ):
                raise ConflictError(
                    f"Run {paused[0].id} of this agent is waiting for approval of a tool call: decide it with "
                    "approve_run (or cancel_run) before changing the agent's tool rules."
                )
            await q.agents.update(updated)
            if system is not None or tool_rules is not None:  # the rules are rendered into the prompt
                await refresh_system_message(q, updated, updated.updated_at)
            if enable_sleeptime is not None or sleeptime_agent_frequency is not None:
                current = await q.groups.managed(agent_id, SLEEPTIME)
                enabled = enable_sleeptime if enable_sleeptime is not None else bool(current and current.enabled)
                await self._configure_sleeptime(q, updated, enabled=enabled, frequency=sleeptime_agent_frequency)
        await self.changes.emit(Change(updated.owner, agent_id, agent=True))
        return updated

    async def delete_agent(self, agent_id: str) -> None:
        """Delete the agent, its history and runs, and its sleep-time agent; its blocks too unless
        another agent shares them."""
        async with self.store.read() as q:  # ownership first, as in update_agent
            await self._require_agent(q, agent_id)
            group = await q.groups.managed(agent_id, SLEEPTIME)
        companions = group.agent_ids if group is not None else []
        async with contextlib.AsyncExitStack() as stack:
            for held in (agent_id, *companions):  # no turn of either is in flight while they go
                await stack.enter_async_context(self.runs.lease.hold(held))
            q = await stack.enter_async_context(self.store.write())
            agent = await self._require_agent(q, agent_id)
            doomed = [agent_id, *companions]
            blocks = [b for doomed_id in doomed for b in await q.blocks.for_agent(doomed_id)]
            if group is not None:
                await q.groups.delete(group.id)
            for doomed_id in doomed:
                await q.agents.delete(doomed_id)
            await q.blocks.delete_unlinked(list({b.id: b for b in blocks}))
        if self.archival is not None:  # its own archive too, unless another agent still uses it
            await self.archival.forget_deleted_agents()
        if self.message_index is not None:  # their message vectors, in the background
            self.message_index.forget(doomed)
        await self.changes.emit(Change(agent.owner, agent_id, agent=True))


def _check_rules(rules: list[ToolRule], tools: list[str]) -> None:
    try:
        check_rules(rules, tools)
    except ToolRuleError as e:
        raise InvalidRequestError(str(e)) from e
