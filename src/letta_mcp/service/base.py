"""The state every use-case module shares, and the checks they all make.

`AgentService` (core.py) is assembled from one mixin per concern (agents.py, conversation.py,
memory.py, context.py, templates.py); each builds on `ServiceBase`, which holds the store, the
providers, the agent loop and the change feed, and owns the ownership checks that every use-case
passes through when it loads an agent or a template.
"""

from __future__ import annotations

from letta_mcp.config import Settings
from letta_mcp.llm.errors import LLMConfigurationError
from letta_mcp.llm.registry import ProviderRegistry
from letta_mcp.models import Agent, Block, Run, Template
from letta_mcp.runtime import AgentLoop
from letta_mcp.runtime.message_index import MessageIndex
from letta_mcp.service.access import current_principal
from letta_mcp.service.archival import ArchivalService
from letta_mcp.service.changes import Change, ChangeFeed
from letta_mcp.service.errors import (
    InvalidRequestError,
    NotFoundError,
)
from letta_mcp.service.runs import RunService
from letta_mcp.store import Store

_LIST_AGENTS_HINT = "Call list_agents to see the agents that exist."


class ServiceBase:
    store: Store
    providers: ProviderRegistry
    settings: Settings
    archival: ArchivalService | None
    message_index: MessageIndex | None  # message vectors, only with an embedder
    changes: ChangeFeed
    runs: RunService
    _loop: AgentLoop

    async def _template(self, name: str) -> Template:
        principal = current_principal()
        async with self.store.read() as q:
            template = await q.templates.get(name, owner=principal.owner_filter, prefer_owner=principal.name)
        if template is None:
            raise NotFoundError(f"No template named {name!r}. Call list_templates to see the templates.")
        return template

    def _check_model(self, model: str) -> None:
        try:
            self.providers.resolve(model)
        except LLMConfigurationError as e:
            raise InvalidRequestError(str(e)) from e

    async def _require_agent(self, q, agent_id: str) -> Agent:
        """The agent, if it exists and the acting principal may see it; otherwise the same not-found
        error either way, so another principal's ids cannot be told from unknown ones."""
        agent = await q.agents.get(agent_id)
        if agent is None or not current_principal().may_see(agent.owner):
            raise self._agent_not_found(agent_id)
        return agent

    async def _turn_finished(self, agent: Agent, blocks_before: list[Block], run: Run) -> None:
        """Everything a finished turn sets off: announcing it, then the work it triggers."""
        await self._emit_turn(agent, blocks_before, run.id)
        await self._after_turn(agent, run)

    async def _after_turn(self, agent: Agent, run: Run) -> None:
        """Work a finished turn triggers; `SleeptimeMixin` runs the agent's sleep-time agent."""

    async def _emit_turn(self, agent: Agent, blocks_before: list[Block], run_id: str) -> None:
        """Announce a finished turn: its run, new messages and the blocks the agent edited during it."""
        versions = {b.label: b.version for b in blocks_before}
        async with self.store.read() as q:
            edited = [b for b in await q.blocks.for_agent(agent.id) if versions.get(b.label) != b.version]
            shared = [c for b in edited for c in await self._block_changes(q, b, skip=agent.id)]
        labels = tuple(b.label for b in edited)
        await self.changes.emit(Change(agent.owner, agent.id, blocks=labels, messages=True, run_id=run_id))
        for change in shared:  # the other agents the edited blocks are attached to
            await self.changes.emit(change)

    async def _block_changes(self, q, block: Block, *, skip: str | None = None) -> list[Change]:
        """One change per agent ``block`` is attached to (but ``skip``), for their memory subscribers."""
        changes = []
        for agent_id in await q.blocks.attached_agents(block.id):
            agent = await q.agents.get(agent_id) if agent_id != skip else None
            if agent is not None:
                changes.append(Change(agent.owner, agent_id, blocks=(block.label,)))
        return changes

    async def _agent_block(self, q, agent_id: str, label: str) -> tuple[Agent, Block]:
        """The agent (as `_require_agent`) and its block ``label``, or a not-found error naming its blocks."""
        agent = await self._require_agent(q, agent_id)
        block = await q.blocks.by_label(agent_id, label)
        if block is None:
            raise await self._block_not_found(q, agent_id, label)
        return agent, block

    @staticmethod
    def _agent_not_found(agent_id: str) -> NotFoundError:
        return NotFoundError(f"No agent with id {agent_id!r}. {_LIST_AGENTS_HINT}")

    @staticmethod
    async def _block_not_found(q, agent_id: str, label: str) -> NotFoundError:
        labels = [b.label for b in await q.blocks.for_agent(agent_id)]
        return NotFoundError(
            f"Agent {agent_id!r} has no block labelled {label!r}. Its blocks are: {', '.join(labels) or 'none'}."
        )
