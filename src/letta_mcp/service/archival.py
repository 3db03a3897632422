"""`ArchivalService`: the archival-memory use-cases, usable as a plain Python library.

Passages live in SQLite (the source of truth) and are indexed in LanceDB for full-text and, when
an embedder is configured, vector search (`letta_mcp.runtime.archival.ArchivalMemory` does the
work; the agent's own tools use the same engine). This class adds what a caller needs on top:
access checks, validation with actionable messages before anything is written, chunking of long
texts, paging, and sharing archives between agents.

Usage::

    archival = service.archival  # created by AgentService.open
    ids = [p.id for p in await archival.insert(agent_id, "Sarah's birthday is 12 May.", tags=["sarah"])]
    hits = await archival.search(agent_id, "when is sarah's birthday", top_k=5)
    await archival.wait_indexed()  # benchmarks: wait until background indexing/embedding is done

Every error raised is in the `letta_mcp.service.errors` tree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from letta_mcp.config import Settings
from letta_mcp.embed.base import Embedder
from letta_mcp.embed.errors import EmbedError
from letta_mcp.embed.registry import build_embedder
from letta_mcp.models import Agent, Archive, NewPassage, Passage, PassageHit, utcnow
from letta_mcp.runtime.archival import (
    MAX_INSERT_CHARS,
    MAX_QUERY_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TOP_K,
    ArchivalMemory,
    SearchMode,
    TagMatch,
)
from letta_mcp.runtime.archival_index import IndexStatus
from letta_mcp.runtime.errors import ArchivalError
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.service.access import current_principal
from letta_mcp.service.errors import ConflictError, InvalidRequestError, NotFoundError, ServiceError
from letta_mcp.store import Queries, Store
from letta_mcp.store.archival import decode_cursor
from letta_mcp.store.object_store import check_object_store

log = logging.getLogger(__name__)

MAX_BATCH = 10_000
"""Most passages one `ArchivalService.insert_many` call accepts."""
MAX_PAGE = 200
_LIST_AGENTS_HINT = "Call list_agents to see the agents that exist."


@dataclass(frozen=True)
class PassagePage:
    """One page of passages; pass ``next_cursor`` back to get the next page (None: no more)."""

    passages: list[Passage]
    next_cursor: str | None


class ArchivalService:
    """The archival use-cases for one data directory. Create with `await ArchivalService.open(...)`."""

    def __init__(self, store: Store, memory: ArchivalMemory) -> None:
        self.store = store
        self.memory = memory  # the engine; the agent loop's tools use the same instance

    @classmethod
    async def open(cls, store: Store, settings: Settings, *, embedder: Embedder | None = None) -> ArchivalService:
        """Set up archival memory on an open store. ``embedder`` replaces the configured one (tests,
        benchmarks); without it the ``embedder`` setting decides. LanceDB is not imported here: the
        index opens on first use, so server start-up stays fast; an object-store ``lance_uri`` is
        probed first (`letta_mcp.store.object_store`), so a store that would lose writes is refused."""
        # An object store is checked before anything is written (raises `ObjectStoreError`).
        await check_object_store(settings.lance_target, settings.lance_options())
        if embedder is None:
            embedder = build_embedder(settings)
        memory = ArchivalMemory(
            store,
            uri=settings.lance_target,
            storage_options=settings.lance_options(),
            embedder=embedder,
            chunk_chars=settings.archival_chunk_chars,
            batch_size=settings.embedding_batch_size,
            ann_threshold=settings.archival_ann_threshold,
            context_passages=settings.archival_context_passages,
        )
        await memory.start()
        return cls(store, memory)

    async def close(self) -> None:
        """Stop background indexing (what is left is picked up by the next start) and close the embedder."""
        await self.memory.aclose()

    # --- passages -------------------------------------------------------------------------------

    async def insert(
        self,
        agent_id: str,
        text: str,
        *,
        tags: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        archive_id: str | None = None,
    ) -> list[Passage]:
        """Store ``text`` in the agent's own archive, or in ``archive_id`` (an archive shared with the
        agent writable); a long text becomes several passages (in order).

        The passages are committed before this returns; they are indexed in the background, and a
        search always indexes what is still pending first, so they are found right away.
        """
        item = NewPassage(text=text, tags=list(tags or []), metadata=metadata or {}, created_at=created_at)
        return await self.insert_many(agent_id, [item], archive_id=archive_id)

    async def insert_many(
        self, agent_id: str, items: Sequence[NewPassage], *, archive_id: str | None = None
    ) -> list[Passage]:
        """Store several texts in one transaction (each chunked like `insert`). For imports and benchmarks."""
        if not items:
            raise InvalidRequestError("Nothing to insert: give at least one text.")
        if len(items) > MAX_BATCH:
            raise InvalidRequestError(f"At most {MAX_BATCH} texts per call; split the batch.")
        for item in items:
            _check_text(item.text)
        now = utcnow()
        try:
            async with self.store.write() as q:
                agent = await self._require_agent(q, agent_id)
                if archive_id is not None:
                    await self._require_attached(q, agent_id, archive_id)
                passages = await self.memory.insert(q, agent, items, now, archive_id=archive_id)
                # As in Letta, an insert recompiles the system message: <memory_metadata> shows the count.
                await refresh_system_message(q, agent, now)
        except ArchivalError as e:
            raise InvalidRequestError(str(e)) from e
        self.memory.notify()
        return passages

    async def search(
        self,
        agent_id: str,
        query: str,
        *,
        tags: Sequence[str] | None = None,
        tag_match_mode: TagMatch = "any",
        top_k: int = 10,
        start: datetime | None = None,
        end: datetime | None = None,
        mode: SearchMode = "auto",
    ) -> list[PassageHit]:
        """The agent's passages (across every archive attached to it) that best match ``query``.

        ``mode``: ``auto`` = hybrid (full-text + vectors, reciprocal-rank fusion) when an embedder is
        configured, else full-text; ``fts``, ``vector`` and ``hybrid`` force one (``vector`` and
        ``hybrid`` need an embedder). ``tags`` filter by any or all of the tags; ``start``/``end``
        bound ``created_at`` (inclusive; naive datetimes are UTC). Best first.
        """
        _check_query(query)
        _check_top_k(top_k)
        start, end = _check_range(start, end)
        try:
            async with self.store.read() as q:
                await self._require_agent(q, agent_id)
                archive_ids = await q.archival.archive_ids_for_agent(agent_id)
            return await self.memory.search(
                archive_ids,
                query,
                tags=list(tags or []),
                tag_match_mode=tag_match_mode,
                top_k=top_k,
                start=start,
                end=end,
                mode=mode,
            )
        except ArchivalError as e:
            raise InvalidRequestError(str(e)) from e
        except EmbedError as e:
            raise ServiceError(f"The embedder failed: {e} Search with mode='fts' meanwhile.") from e

    async def get(self, agent_id: str, passage_id: str) -> Passage:
        """One passage the agent can see (in any archive attached to it)."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            passage = await self._visible_passage(q, agent_id, passage_id)
        return passage

    async def delete(self, agent_id: str, passage_id: str) -> Passage:
        """Delete one passage from SQLite and then from the index; returns what was deleted. The
        passage's archive must be the agent's own or shared with it writable."""
        async with self.store.write() as q:
            await self._require_agent(q, agent_id)
            passage = await self._visible_passage(q, agent_id, passage_id)
            try:
                await self.memory.check_writable(q, agent_id, passage.archive_id)
            except ArchivalError as e:
                raise InvalidRequestError(str(e)) from e
            await q.archival.delete_passages([passage.id])
        await self.memory.unindex([passage.id])
        return passage

    async def list(
        self,
        agent_id: str,
        *,
        tags: Sequence[str] | None = None,
        tag_match_mode: TagMatch = "any",
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> PassagePage:
        """Page through the agent's passages by ``created_at`` (newest first by default)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}; got {limit}.")
        _check_tags(list(tags or []))
        start, end = _check_range(start, end)
        after = None
        if cursor:
            try:
                after = decode_cursor(cursor)
            except ValueError as e:
                raise InvalidRequestError(
                    f"Invalid cursor {cursor!r}: pass next_cursor from the previous page unchanged."
                ) from e
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            aq = q.archival
            archive_ids = await aq.archive_ids_for_agent(agent_id)
            passages, next_cursor = await aq.page(
                archive_ids,
                tags=list(tags or []),
                match_all=tag_match_mode == "all",
                start=start,
                end=end,
                limit=limit,
                after=after,
                newest_first=newest_first,
            )
        return PassagePage(passages, next_cursor)

    async def count(self, agent_id: str) -> int:
        """Passages the agent can search (over all attached archives); kept by triggers, O(archives)."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            count, _ = await q.archival.stats_for_agent(agent_id)
        return count

    # --- archives -------------------------------------------------------------------------------

    async def archives(self, agent_id: str) -> list[Archive]:
        """The archives attached to the agent (its own first, once it has one)."""
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.archival.archives_for_agent(agent_id)

    async def share(self, agent_id: str, with_agent_id: str, *, writable: bool = False) -> Archive:
        """Share ``agent_id``'s own archive with ``with_agent_id``: that agent searches it too, and
        adds to and deletes from it only when ``writable``. Sharing again changes ``writable``.
        Both agents must be visible to the caller (another principal's: an admin only)."""
        if agent_id == with_agent_id:
            raise InvalidRequestError("An agent's own archive is always its own; give another agent to share it with.")
        now = utcnow()
        async with self.store.write() as q:
            agent = await self._require_agent(q, agent_id)
            await self._require_agent(q, with_agent_id)
            archive = await self.memory.own_archive(q, agent, now)
            await q.archival.attach(with_agent_id, archive.id, now, writable=writable)
        return archive

    async def unshare(self, agent_id: str, with_agent_id: str) -> Archive:
        """Stop sharing ``agent_id``'s own archive with ``with_agent_id`` (its passages stay)."""
        async with self.store.write() as q:
            await self._require_agent(q, agent_id)
            await self._require_agent(q, with_agent_id)
            archive = await q.archival.own_archive(agent_id)
            if archive is None or archive.id not in await q.archival.archive_ids_for_agent(with_agent_id):
                raise NotFoundError(f"Agent {agent_id!r} does not share its archive with agent {with_agent_id!r}.")
            await q.archival.detach(with_agent_id, archive.id)
        return archive

    async def attach(self, agent_id: str, archive_id: str, *, writable: bool = False) -> Archive:
        """Attach an existing archive (e.g. another agent's) so the agent searches it too (shared
        knowledge); it may add to and delete from it only when ``writable``."""
        now = utcnow()
        async with self.store.write() as q:
            await self._require_agent(q, agent_id)
            aq = q.archival
            archive = await aq.get_archive(archive_id)
            if archive is None or not current_principal().may_see(archive.owner):
                raise NotFoundError(
                    f"No archive with id {archive_id!r}. Archive ids are listed by ArchivalService.archives(agent_id)."
                )
            if archive_id in await aq.archive_ids_for_agent(agent_id):
                raise ConflictError(f"Archive {archive_id!r} is already attached to agent {agent_id!r}.")
            await aq.attach(agent_id, archive_id, now, writable=writable)
        return archive

    async def detach(self, agent_id: str, archive_id: str) -> None:
        """Detach an archive from the agent. The archive itself is kept while another agent uses it;
        detaching it from its last agent is refused (that would delete its passages)."""
        async with self.store.write() as q:
            await self._require_agent(q, agent_id)
            await self._require_attached(q, agent_id, archive_id)
            aq = q.archival
            if len(await aq.agents_for_archive(archive_id)) == 1:
                raise InvalidRequestError(
                    f"Archive {archive_id!r} is attached only to agent {agent_id!r}; detaching it would delete "
                    "its passages. Attach it to another agent first, or delete the passages one by one."
                )
            await aq.detach(agent_id, archive_id)

    async def forget_deleted_agents(self) -> int:
        """Delete archives no agent is attached to any more (after `AgentService.delete_agent`), with
        their passages and index rows. Archives still attached elsewhere are kept. Returns how many."""
        async with self.store.write() as q:
            removed = await q.archival.delete_unattached_archives()
        if removed:
            await self.memory.unindex_archives(removed)
        return len(removed)

    # --- index ----------------------------------------------------------------------------------

    async def wait_indexed(self) -> None:
        """Return once every committed passage is in the full-text index and, with an embedder, has a
        vector of the current embedder. For benchmarks and tests; normal use never needs it."""
        await self.memory.wait_indexed()

    async def status(self) -> IndexStatus:
        """Counts of passages and of those still waiting for the full-text index or a vector."""
        return await self.memory.status()

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the whole LanceDB index from SQLite (full-text and, with an embedder, vectors).

        ``progress(done, total)`` is called after each batch. Returns the number of passages indexed.
        """
        return await self.memory.reindex(progress)

    # --- helpers --------------------------------------------------------------------------------

    async def _require_agent(self, q: Queries, agent_id: str) -> Agent:
        agent = await q.agents.get(agent_id)
        if agent is None or not current_principal().may_see(agent.owner):
            raise NotFoundError(f"No agent with id {agent_id!r}. {_LIST_AGENTS_HINT}")
        return agent

    @staticmethod
    async def _require_attached(q: Queries, agent_id: str, archive_id: str) -> None:
        if archive_id not in await q.archival.archive_ids_for_agent(agent_id):
            raise NotFoundError(f"Archive {archive_id!r} is not attached to agent {agent_id!r}.")

    @staticmethod
    async def _visible_passage(q: Queries, agent_id: str, passage_id: str) -> Passage:
        aq = q.archival
        passage = await aq.get_passage(passage_id)
        if passage is None or passage.archive_id not in await aq.archive_ids_for_agent(agent_id):
            raise NotFoundError(
                f"Agent {agent_id!r} has no archival passage {passage_id!r}. Passage ids come from "
                "archival_insert, archival_search and archival_list."
            )
        return passage


def _check_text(text: str) -> None:
    if not text.strip():
        raise InvalidRequestError("The text is empty; give the text to store in archival memory.")
    if len(text) > MAX_INSERT_CHARS:
        raise InvalidRequestError(
            f"The text has {len(text)} characters, more than the {MAX_INSERT_CHARS} one insert accepts. "
            "Split it into several inserts."
        )


def _check_query(query: str) -> None:
    if not query.strip():
        raise InvalidRequestError("The query is empty; give the words or question to search for.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequestError(f"The query has {len(query)} characters; at most {MAX_QUERY_CHARS} are allowed.")


def _check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidRequestError(f"top_k must be between 1 and {MAX_TOP_K}; got {top_k}.")


def _check_tags(tags: list[str]) -> None:
    if len(tags) > MAX_TAGS or any(not t.strip() or len(t) > MAX_TAG_CHARS for t in tags):
        raise InvalidRequestError(
            f"Tags must be non-empty strings of at most {MAX_TAG_CHARS} characters, at most {MAX_TAGS} of them."
        )


def _check_range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    start = start.replace(tzinfo=UTC) if start is not None and start.tzinfo is None else start
    end = end.replace(tzinfo=UTC) if end is not None and end.tzinfo is None else end
    if start is not None and end is not None and start > end:
        raise InvalidRequestError(
            f"The start of the date range ({start.isoformat()}) is after its end ({end.isoformat()})."
        )
    return start, end
