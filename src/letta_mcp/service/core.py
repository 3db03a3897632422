"""`AgentService`: the use-cases, usable as a plain Python library.

One service per process, created at process start (not per MCP connection). It validates every
request before writing anything, runs every write in one transaction, and raises only the
`letta_mcp.service.errors` tree, with messages meant for the caller (often a model) to act on.

Usage::

    service = await AgentService.open(load_settings())
    agent = await service.create_agent(name="sam")
    result = await service.send_message(agent.id, "My name is Sarah")
    await service.close()
"""

from __future__ import annotations

from collections.abc import Callable

from letta_mcp.config import Settings
from letta_mcp.embed.base import Embedder
from letta_mcp.llm.base import LLMProvider
from letta_mcp.llm.registry import ProviderRegistry
from letta_mcp.llm.tokens import Calibration
from letta_mcp.runtime import AgentLoop
from letta_mcp.runtime.context import ContextConfig
from letta_mcp.runtime.message_index import MessageIndex
from letta_mcp.runtime.remote_tools import RemoteTools
from letta_mcp.service.agent_files import AgentFilesMixin
from letta_mcp.service.agents import AgentsMixin
from letta_mcp.service.archival import ArchivalService
from letta_mcp.service.blocks import BlocksMixin
from letta_mcp.service.browse import BrowseMixin
from letta_mcp.service.change_relay import LogRelay
from letta_mcp.service.changes import ChangeFeed, ChangeListener
from letta_mcp.service.context import ContextMixin
from letta_mcp.service.conversation import ConversationMixin
from letta_mcp.service.health import HealthMixin
from letta_mcp.service.memory import MemoryMixin
from letta_mcp.service.multi_agent import Messenger
from letta_mcp.service.run_tasks import RunTasksMixin
from letta_mcp.service.runs import RunService
from letta_mcp.service.sleeptime import SleeptimeMixin
from letta_mcp.service.templates import TemplatesMixin
from letta_mcp.store import Store
from letta_mcp.store.lease import LeaseManager


class AgentService(
    AgentsMixin,
    RunTasksMixin,
    ConversationMixin,
    MemoryMixin,
    BlocksMixin,
    ContextMixin,
    TemplatesMixin,
    BrowseMixin,
    AgentFilesMixin,
    SleeptimeMixin,
    HealthMixin,
):
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
        self.changes = ChangeFeed(LogRelay(store))  # live views in other processes hear of changes too
        self.runs = RunService(store, self._loop, LeaseManager(store, ttl_s=settings.lease_ttl_s))
        self.runs.adopted_hooks = self._adopted_hooks
        self._loop.messenger = Messenger(self, settings.multi_agent)
        # With an embedder, conversation search is hybrid: messages are embedded in the background.
        memory = archival.memory if archival is not None else None
        self.message_index = (
            MessageIndex(store, memory, batch_size=settings.embedding_batch_size)
            if memory is not None and memory.embedder is not None
            else None
        )
        self._loop.message_index = self.message_index
        if self.message_index is not None:
            self.changes.subscribe(self._embed_new_messages)

    def on_change(self, listener: ChangeListener) -> Callable[[], None]:
        """Call ``listener`` after each committed change (see `letta_mcp.service.changes`); returns unsubscribe."""
        return self.changes.subscribe(listener)

    def follow_changes(self) -> Callable[[], None]:
        """Also hear the changes other processes sharing the database commit, until the returned
        callable is called (each live subscription holds one; see `letta_mcp.service.changes`)."""
        return self.changes.follow()

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        providers: dict[str, LLMProvider] | None = None,
        embedder: Embedder | None = None,
        remote_tools: RemoteTools | None = None,
    ) -> AgentService:
        """Open the data directory. ``providers`` replaces the configured ones (tests, embedding);
        ``embedder`` replaces the configured archival embedder (tests, benchmarks); ``remote_tools``
        reaches the operator's other MCP servers (``letta_mcp.remote.RemoteServers``, built above
        this floor, which may not import ``mcp``); the service closes it."""
        store = await Store.open(settings.store_target)
        async with store.read() as q:
            calibration = Calibration(await q.calibration.load())
        registry = ProviderRegistry(providers if providers is not None else build_providers(settings))
        try:
            archival = await ArchivalService.open(store, settings, embedder=embedder)
        except BaseException:
            await store.close()
            raise
        service = cls(store, registry, settings, calibration, archival)
        service._loop.remote = remote_tools
        try:
            await service.runs.lease.start()  # also marks runs of dead processes as interrupted
            if service.message_index is not None:
                service.message_index.start()  # embeds, in the background, what the last run left
        except BaseException:
            await service.close()
            raise
        service._serving = True
        return service

    async def close(self) -> None:
        self._serving = False
        await self.changes.close()
        await self.runs.close()
        if self._loop.remote is not None:
            await self._loop.remote.aclose()
        if self.message_index is not None:  # first: it embeds with the archival engine's embedder
            await self.message_index.aclose()
        if self.archival is not None:
            await self.archival.close()
        await self.providers.aclose()
        await self.store.close()


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
