"""`AgentService`: the use-cases, usable as a plain Python library.

One service per process, created at process start (not per MCP connection). It validates every
request before writing anything, runs every write in one transaction, and raises only the
`letta_mcp.errors` tree, with messages meant for the caller (often a model) to act on.

Usage::

    service = await AgentService.open(load_settings())
    agent = await service.create_agent(name="sam")
    result = await service.send_message(agent.id, "My name is Sarah")
    await service.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from letta_mcp.access import current_principal
from letta_mcp.agent_specs import DEFAULT_TOOLS, block_specs, check_blocks, check_tools, new_block
from letta_mcp.changes import Change, ChangeFeed, ChangeListener
from letta_mcp.config import Settings
from letta_mcp.embed.base import Embedder
from letta_mcp.errors import (
    AgentUnavailableError,
    ConflictError,
    InvalidRequestError,
    MemoryLimitError,
    NotFoundError,
)
from letta_mcp.llm.base import LLMProvider
from letta_mcp.llm.errors import LLMConfigurationError
from letta_mcp.llm.registry import ProviderRegistry
from letta_mcp.llm.tokens import Calibration
from letta_mcp.models import (
    Agent,
    Block,
    BlockSpec,
    Message,
    Role,
    Run,
    RunStatus,
    StopReason,
    Template,
    new_id,
    utcnow,
)
from letta_mcp.runtime import AgentLoop, TurnResult
from letta_mcp.runtime.block_edits import READ_ONLY_ERROR, MemoryEditError
from letta_mcp.runtime.blocks import create_block, save_block
from letta_mcp.runtime.compaction import CompactionResult
from letta_mcp.runtime.context import ContextConfig, ContextOverview, overview
from letta_mcp.runtime.loop import StepCallback
from letta_mcp.runtime.memory import render_memory
from letta_mcp.runtime.prompts import (
    DEFAULT_SYSTEM_PROMPT,
)
from letta_mcp.runtime.system_message import memory_stats, refresh_system_message
from letta_mcp.runtime.tool_schemas import tool_schema
from letta_mcp.service_archival import ArchivalService
from letta_mcp.service_runs import RunDetails, RunService
from letta_mcp.store import Store
from letta_mcp.store import errors as store_errors
from letta_mcp.store.lease import LeaseManager

log = logging.getLogger(__name__)

_LIST_AGENTS_HINT = "Call list_agents to see the agents that exist."


@dataclass(frozen=True)
class AgentDetails:
    agent: Agent
    blocks: list[Block]
    messages_in_history: int
    messages_in_context: int


@dataclass(frozen=True)
class MemoryView:
    agent_id: str
    blocks: list[Block]
    rendered: str  # the memory sections exactly as the model sees them


class AgentService:
    def __init__(
        self,
        store: Store,
        providers: ProviderRegistry,
        settings: Settings,
        calibration: Calibration | None = None,
        archival: ArchivalService | None = None,
    ) -> None:
        self.store = store
        self.providers = providers
        self.settings = settings
        self.archival = archival  # archival memory (passages, search); set by `open`
        self._loop = AgentLoop(
            store,
            providers,
            default_block_limit=settings.default_block_limit,
            context=ContextConfig(
                trigger=settings.compaction_trigger,
                target=settings.compaction_target,
                warning=settings.memory_warning,
                summary_max_words=settings.summary_max_words,
                summarizer_model=settings.summarizer_model,
                windows=settings.context_windows,
            ),
            calibration=calibration,
            archival=archival.memory if archival is not None else None,
        )
        self.changes = ChangeFeed()
        self.runs = RunService(store, self._loop, LeaseManager(store, ttl_s=settings.lease_ttl_s))

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` after each committed change (see `letta_mcp.changes`); returns unsubscribe."""
        return self.changes.subscribe(listener)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        providers: dict[str, LLMProvider] | None = None,
        embedder: Embedder | None = None,
    ) -> AgentService:
        """Open the data directory. ``providers`` replaces the configured ones (tests, embedding);
        ``embedder`` replaces the configured archival embedder (tests, benchmarks)."""
        store = await Store.open(settings.data_dir / "letta.db")
        async with store.read() as q:
            calibration = Calibration(await q.calibration.load())
        registry = ProviderRegistry(providers if providers is not None else build_providers(settings))
        try:
            archival = await ArchivalService.open(store, settings, embedder=embedder)
        except BaseException:
            await store.close()
            raise
        service = cls(store, registry, settings, calibration, archival)
        try:
            await service.runs.lease.start()  # also marks runs of dead processes as interrupted
        except BaseException:
            await service.close()
            raise
        return service

    async def close(self) -> None:
        await self.runs.close()
        if self.archival is not None:
            await self.archival.close()
        await self.providers.aclose()
        await self.store.close()

    async def check_health(self) -> None:
        """Raise unless the database answers a read (for health probes)."""
        async with self.store.read() as q:
            await q.agents.exists("")

    # --- agents ---------------------------------------------------------------------------------

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
    ) -> AgentDetails:
        base = await self._template(template) if template else None
        specs = block_specs(base, blocks, persona=persona, human=human)
        model = model or (base.model if base else self.settings.default_model)
        tool_names = tools if tools is not None else (base.tools if base else list(DEFAULT_TOOLS))
        self._check_model(model)
        check_tools(tool_names)
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
            created_at=now,
            updated_at=now,
        )
        async with self.store.write() as q:
            await q.agents.insert(agent)
            created = [
                await create_block(
                    q,
                    agent.id,
                    new_block(spec, now, self.settings.default_block_limit),
                    actor="user",
                    reason="create_agent",
                )
                for spec in specs
            ]
            await refresh_system_message(q, agent, now)
        await self.changes.emit(Change(agent.owner, agent.id, agent=True))
        return AgentDetails(agent, created, messages_in_history=1, messages_in_context=1)

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
        return AgentDetails(agent, blocks, total, in_context)

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
    ) -> Agent:
        if model is not None:
            self._check_model(model)
        if tools is not None:
            check_tools(tools)
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
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            updated = agent.model_copy(update={**changes, "updated_at": utcnow()})
            await q.agents.update(updated)
            if system is not None:
                await refresh_system_message(q, updated, updated.updated_at)
        await self.changes.emit(Change(updated.owner, agent_id, agent=True))
        return updated

    async def delete_agent(self, agent_id: str) -> None:
        """Delete the agent, its history and runs; its blocks too unless another agent shares them."""
        async with self.runs.lease.hold(agent_id), self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            blocks = await q.blocks.for_agent(agent_id)
            await q.agents.delete(agent_id)
            await q.blocks.delete_unlinked([b.id for b in blocks])
        if self.archival is not None:  # its own archive too, unless another agent still uses it
            await self.archival.forget_deleted_agents()
        await self.changes.emit(Change(agent.owner, agent_id, agent=True))

    # --- conversation ---------------------------------------------------------------------------

    async def send_message(
        self,
        agent_id: str,
        message: str,
        *,
        role: Role = Role.user,
        max_steps: int | None = None,
        background: bool = False,
        on_step: StepCallback | None = None,
    ) -> TurnResult:
        """Run one turn, or (``background``) accept it and return its run at once.

        The message is accepted (committed with its run) before anything else happens, so it is
        never lost; turns of one agent run one at a time in arrival order. A foreground caller that
        goes away leaves the run going; its outcome stays readable with `get_run`.
        """
        if role not in (Role.user, Role.system):
            raise InvalidRequestError("role must be 'user' or 'system'.")
        if not message.strip():
            raise InvalidRequestError("message is empty; send the text the agent should respond to.")
        async with self.store.read() as q:  # no message counts: this is the per-message hot path
            agent = await self._require_agent(q, agent_id)
            blocks_before = await q.blocks.for_agent(agent_id)
        try:
            self.providers.resolve(agent.model)
        except LLMConfigurationError as e:
            raise AgentUnavailableError(str(e), run_id="") from e

        async def announce(run: Run) -> None:
            # The input message is committed even when the turn fails, so readers always hear of it.
            await self._emit_turn(agent, blocks_before, run.id)

        run = await self.runs.submit(
            agent, message, role=role, max_steps=max_steps, background=background, on_step=on_step, on_done=announce
        )
        if background:
            return TurnResult(run=run)
        result = await self.runs.wait(run)
        if result is None:  # cancelled before it started
            return TurnResult(run=await self.get_run(run.id))
        if result.run.stop_reason is StopReason.context_window_overflow_in_system_prompt:
            raise AgentUnavailableError(f"{result.run.error} (run {result.run.id})", run_id=result.run.id)
        if result.run.stop_reason is StopReason.llm_api_error:
            raise AgentUnavailableError(
                f"The agent could not reply because its model ({agent.model}) failed: {result.run.error} "
                f"Your message was saved in the agent's history (run {result.run.id}); send a new message "
                "once the model is reachable.",
                run_id=result.run.id,
            )
        return result

    async def get_run_details(self, run_id: str) -> RunDetails:
        """A run with its steps so far, the messages it added and its reply (once finished)."""
        return await self.runs.details(await self.get_run(run_id))

    async def list_runs(self, agent_id: str, *, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.runs.for_agent(agent_id, status=status, limit=limit)

    async def cancel_run(self, run_id: str) -> Run:
        """Stop a run at its next step boundary (or before it starts); finished runs are unchanged."""
        return await self.runs.cancel(await self.get_run(run_id))

    async def list_messages(
        self,
        agent_id: str,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        roles: list[Role] | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[Message]:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.messages.page(
                agent_id,
                before_seq=before_seq,
                after_seq=after_seq,
                roles=roles,
                limit=limit,
                newest_first=newest_first,
            )

    async def search_messages(
        self,
        agent_id: str,
        *,
        query: str | None = None,
        roles: list[Role] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10,
    ) -> list[Message]:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.messages.search(
                agent_id,
                query=query,
                roles=roles or [Role.user, Role.assistant],
                start=start,
                end=end,
                limit=limit,
            )

    async def get_run(self, run_id: str) -> Run:
        async with self.store.read() as q:
            run = await q.runs.get(run_id)
            agent = await q.agents.get(run.agent_id) if run is not None else None
        if run is None or agent is None or not current_principal().may_see(agent.owner):
            raise NotFoundError(f"No run with id {run_id!r}. Run ids are returned by send_message.")
        return run

    # --- memory ---------------------------------------------------------------------------------

    async def get_memory(self, agent_id: str) -> MemoryView:
        details = await self.get_agent(agent_id)
        async with self.store.read() as q:
            previous = details.messages_in_history - details.messages_in_context
            stats = await memory_stats(q, agent_id, previous_messages=previous)
        return MemoryView(agent_id, details.blocks, render_memory(agent_id, details.blocks, stats, utcnow()))

    async def get_block(self, agent_id: str, label: str) -> Block:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            block = await q.blocks.by_label(agent_id, label)
            if block is None:
                raise await self._block_not_found(q, agent_id, label)
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
        async with self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            block = await q.blocks.by_label(agent_id, label)
            if block is None:
                raise await self._block_not_found(q, agent_id, label)
            if block.read_only and value is not None and read_only is not False:
                raise MemoryLimitError(
                    f"{READ_ONLY_ERROR} Block '{label}' is read-only: to change its value, pass "
                    "read_only=false in the same call (or first)."
                )
            try:
                updated = await save_block(q, block, changes, actor="user", reason="update_block")
            except MemoryEditError as e:
                raise MemoryLimitError(str(e)) from e
            await refresh_system_message(q, agent, updated.updated_at)
        await self.changes.emit(Change(agent.owner, agent_id, blocks=(label,)))
        return updated

    # --- context window -------------------------------------------------------------------------

    async def get_context(self, agent_id: str) -> ContextOverview:
        """What the agent's model would be sent now, section by section, with token counts."""
        async with self.store.read() as q:
            agent = await self._require_agent(q, agent_id)
            blocks = await q.blocks.for_agent(agent_id)
            context = await q.messages.in_context(agent_id)
            total, _ = await q.messages.counts(agent_id)
        tools = [tool_schema(name) for name in agent.tools]
        return overview(agent, blocks, context, tools, total, self._loop.context, self._loop.calibration)

    async def compact_context(self, agent_id: str) -> CompactionResult | None:
        """Compact the agent's context now (down to the target); None when nothing can be evicted."""
        agent = (await self.get_agent(agent_id)).agent
        async with self.runs.lease.hold(agent_id):
            result = await self._loop.compact_now(agent)
        if result is not None:
            await self.changes.emit(Change(agent.owner, agent_id, messages=True))
        return result

    # --- templates ------------------------------------------------------------------------------

    async def create_template(
        self,
        name: str,
        *,
        agent_id: str | None = None,
        description: str | None = None,
    ) -> Template:
        """Save an agent's configuration (system, blocks, tools, model, tags) under ``name``."""
        if not agent_id:
            raise InvalidRequestError("agent_id is required: the template copies that agent's configuration.")
        details = await self.get_agent(agent_id)
        agent = details.agent
        template = Template(
            id=new_id("template"),
            name=name,
            description=description or agent.description,
            system=agent.system,
            model=agent.model,
            tools=agent.tools,
            tags=agent.tags,
            blocks=[
                BlockSpec(
                    label=b.label,
                    value=b.value,
                    limit=b.limit,
                    description=b.description,
                    read_only=b.read_only,
                    metadata=b.metadata,
                )
                for b in details.blocks
            ],
            max_steps=agent.max_steps,
            owner=current_principal().name,
            created_at=utcnow(),
        )
        try:
            async with self.store.write() as q:
                await q.templates.insert(template)
        except store_errors.ConflictError as e:
            raise ConflictError(f"{e} Choose another name, or call list_templates to see existing ones.") from e
        await self.changes.emit(Change(template.owner, templates=True))
        return template

    async def list_templates(self) -> list[Template]:
        async with self.store.read() as q:
            return await q.templates.list(owner=current_principal().owner_filter)

    # --- helpers --------------------------------------------------------------------------------

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

    async def _emit_turn(self, agent: Agent, blocks_before: list[Block], run_id: str) -> None:
        """Announce a finished turn: its run, new messages and the blocks the agent edited during it."""
        async with self.store.read() as q:
            after = await q.blocks.for_agent(agent.id)
        versions = {b.label: b.version for b in blocks_before}
        edited = tuple(b.label for b in after if versions.get(b.label) != b.version)
        await self.changes.emit(Change(agent.owner, agent.id, blocks=edited, messages=True, run_id=run_id))

    @staticmethod
    def _agent_not_found(agent_id: str) -> NotFoundError:
        return NotFoundError(f"No agent with id {agent_id!r}. {_LIST_AGENTS_HINT}")

    @staticmethod
    async def _block_not_found(q, agent_id: str, label: str) -> NotFoundError:
        labels = [b.label for b in await q.blocks.for_agent(agent_id)]
        return NotFoundError(
            f"Agent {agent_id!r} has no block labelled {label!r}. Its blocks are: {', '.join(labels) or 'none'}."
        )


def build_providers(settings: Settings) -> dict[str, LLMProvider]:
    """One OpenAI-compatible provider per configured endpoint (clients are created lazily)."""
    from letta_mcp.llm.openai import OpenAIProvider

    return {
        name: OpenAIProvider(
            name=name,
            api_key=settings.api_key(name),
            base_url=cfg.base_url,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
        )
        for name, cfg in settings.providers.items()
    }
