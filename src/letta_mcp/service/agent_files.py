"""Agent Files: export an agent as a Letta ``.af`` document, import one as new agents.

The conversion is pure (`letta_mcp.service.agentfile`); this module reads and writes around it.
An import is validated whole (size, JSON, schema, every file-local reference) before anything
is written, then written in **one** write transaction: agents, blocks (shared ones once), history
with its in-context set, inactive tool records, groups and archival passages — all or nothing.
No model or embedder is called inside it: passages are committed to SQLite and indexed (and
embedded) by the archival indexer after the commit, as every archival insert is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import anyio

from letta_mcp import __version__
from letta_mcp.llm.errors import LLMConfigurationError
from letta_mcp.models import Agent, AgentGroup, InactiveTool, utcnow
from letta_mcp.runtime.archival import ArchivalError
from letta_mcp.runtime.blocks import record_history
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.service.access import current_principal
from letta_mcp.service.agentfile.errors import AgentFileError
from letta_mcp.service.agentfile.from_letta import ImportOptions, ImportPlan, plan_import
from letta_mcp.service.agentfile.parse import parse_document
from letta_mcp.service.agentfile.to_letta import AgentSnapshot, MessageScope, Snapshot, to_agent_file
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import InvalidRequestError
from letta_mcp.service.limits import AgentConfig, PrincipalLimits
from letta_mcp.store import Queries

_ALL = 1_000_000_000  # "no limit" for the paging queries an export reads through


@dataclass(frozen=True)
class ImportedAgent:
    agent: Agent
    file_id: str  # its id inside the Agent File
    blocks: int
    messages: int
    messages_in_context: int
    passages: int
    inactive_tools: list[InactiveTool]
    mapped_tools: dict[str, list[str]]  # Letta tool -> the letta-mcp tools that stand in for it


@dataclass(frozen=True)
class ImportResult:
    agents: list[ImportedAgent]  # the first is the file's main agent
    groups: list[AgentGroup]
    notes: list[str]  # what was adapted or left out, for the caller to read


class AgentFilesMixin(ServiceBase):
    async def export_agent(
        self, agent_id: str, *, messages: MessageScope = "all", archival: bool = True
    ) -> dict[str, Any]:
        """The agent as a Letta v2 Agent File (a JSON-ready dict), with the other agents of its
        groups (a sleep-time pair travels together). ``messages``: the whole history, only the
        context window, or none; ``archival``: include the agents' own archival passages."""
        if messages not in ("all", "in_context", "none"):
            raise InvalidRequestError(f"messages must be 'all', 'in_context' or 'none'; got {messages!r}.")
        async with self.store.read() as q:
            agent = await self._require_agent(q, agent_id)
            groups = await q.groups.for_agent(agent_id)
            others = [a for g in groups for a in (g.manager_agent_id, *g.agent_ids) if a and a != agent_id]
            agents = [agent]
            for other in dict.fromkeys(others):
                found = await q.agents.get(other)
                if found is not None and current_principal().may_see(found.owner):
                    agents.append(found)
            snapshots = [await self._snapshot(q, a, messages, archival) for a in agents]
        kept = {a.id for a in agents}
        groups = [
            g.model_copy(update={"agent_ids": [a for a in g.agent_ids if a in kept]})
            for g in groups
            if g.manager_agent_id in kept or g.manager_agent_id is None
        ]
        # Building a large document is CPU work (seconds for a long history): off the event loop.
        build = functools.partial(to_agent_file, Snapshot(snapshots, groups), now=utcnow(), version=__version__)
        return await anyio.to_thread.run_sync(build)

    async def _snapshot(self, q: Queries, agent: Agent, scope: MessageScope, archival: bool) -> AgentSnapshot:
        history = []
        context_order: list[str] = []
        if scope != "none":
            window = await q.messages.in_context(agent.id)
            context_order = [m.id for m in window]
            if scope == "all":
                history = await q.messages.page(agent.id, after_seq=-1, limit=_ALL, newest_first=False)
            else:
                history = sorted(window, key=lambda m: m.seq)
        passages = []
        if archival:
            aq = q.archival
            own = await aq.own_archive(agent.id)
            if own is not None:
                passages, _ = await aq.page(
                    [own.id],
                    tags=[],
                    match_all=False,
                    start=None,
                    end=None,
                    limit=_ALL,
                    after=None,
                    newest_first=False,
                )
        return AgentSnapshot(
            agent=agent,
            blocks=await q.blocks.for_agent(agent.id),
            messages=history,
            in_context_order=context_order,
            inactive_tools=await q.inactive_tools.for_agent(agent.id),
            passages=passages,
        )

    async def import_agent(
        self, document: str | bytes, *, name: str | None = None, strip_messages: bool = False
    ) -> ImportResult:
        """Create new agents (fresh ids) from a Letta Agent File (v2, double-encoded v2, or legacy
        v1). ``name`` renames the file's main agent; ``strip_messages`` drops the history. Custom
        and MCP tools are recorded inactive (never executed); nothing is written unless all of it is."""
        if name is not None and not name.strip():
            raise InvalidRequestError("name must not be empty; leave it out to keep the name in the file.")
        options = ImportOptions(
            now=utcnow(),
            owner=current_principal().name,
            default_model=self.settings.default_model,
            default_block_limit=self.settings.default_block_limit,
            max_steps=self.settings.max_steps,
            model_available=self._model_available,
            name=name,
            strip_messages=strip_messages,
        )
        try:
            # Parsing and validating up to 64 MiB is CPU work: off the event loop (it is pure).
            plan = await anyio.to_thread.run_sync(lambda: plan_import(parse_document(document), options))
        except AgentFileError as e:
            raise InvalidRequestError(str(e)) from e
        limits = PrincipalLimits.current(self.settings.limits)
        for planned in plan.agents:  # a file may ask for no more than create_agent could
            a = planned.agent
            limits.check_agent(
                AgentConfig(
                    model=a.model,
                    name=a.name,
                    description=a.description,
                    system=a.system,
                    tags=a.tags,
                    max_steps=a.max_steps,
                    context_window=a.context_window,
                )
            )
        try:
            await self._write_import(plan)
        except ArchivalError as e:
            raise InvalidRequestError(f"An archival passage of the Agent File can't be stored: {e}") from e
        if plan.agents and any(p.passages for p in plan.agents) and self.archival is not None:
            self.archival.memory.notify()
        for planned in plan.agents:
            await self.changes.emit(Change(planned.agent.owner, planned.agent.id, agent=True))
        return ImportResult(
            agents=[
                ImportedAgent(
                    agent=p.agent,
                    file_id=p.file_id,
                    blocks=len(p.block_ids),
                    messages=len(p.messages) + 1,  # and the system message
                    messages_in_context=sum(m.in_context for m in p.messages) + 1,
                    passages=len(p.passages),
                    inactive_tools=p.inactive_tools,
                    mapped_tools=p.mapped_tools,
                )
                for p in plan.agents
            ],
            groups=plan.groups,
            notes=plan.notes,
        )

    async def _write_import(self, plan: ImportPlan) -> None:
        blocks = {b.id: b for b in plan.blocks}
        now = plan.agents[0].agent.created_at
        async with self.store.write() as q:
            for block in plan.blocks:
                await q.blocks.insert(block)
                await record_history(q, block, actor="user", reason="import_agent")
            for planned in plan.agents:
                agent = planned.agent
                await q.agents.insert(agent)
                for block_id in planned.block_ids:
                    await q.blocks.link(agent.id, blocks[block_id])
                await refresh_system_message(q, agent, now)  # seq 0 first: history starts at seq 1
                await q.messages.insert(planned.messages)
                await q.inactive_tools.insert(agent.id, planned.inactive_tools)
                if planned.passages:
                    if self.archival is None:
                        raise InvalidRequestError("Archival memory is not available, so passages can't be imported.")
                    await self.archival.memory.insert(q, agent, planned.passages, now)
                await refresh_system_message(q, agent, now)  # the counts in <memory_metadata>
            for group in plan.groups:
                await q.groups.insert(group)

    def _model_available(self, handle: str) -> bool:
        try:
            self.providers.resolve(handle)
        except LLMConfigurationError:
            return False
        return True
