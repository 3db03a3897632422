"""Conversation search with vectors: messages embedded in the background, searched hybrid.

`MessageIndex` (one per process, only when an embedder is configured) keeps a vector of every user
and assistant message with text (`letta_mcp.store.message_vectors`), and fuses the full-text list
of `letta_mcp.store.messages.MessageQueries.search` (BM25 with neighbour context) with the nearest
vectors, as archival hybrid search does (`letta_mcp.runtime.fusion`), so a message is found by what
it means as well as by its words. Both the agent's ``conversation_search`` and the client's
``search_messages`` search through it.

Embedding happens off every turn's path: a turn's end (or any change naming an agent) calls
`notify`, which only queues the agent; a background task then embeds what is above the agent's
watermark, between transactions (`embed` refuses to run inside a write transaction), and writes
vectors then watermark. A restart resumes from the watermarks (every agent is checked once, in the
background). Messages not embedded yet are still found by full text, and without an embedder
nothing here exists: conversation search is full-text only, as before.

The index is shared by processes sharing the data directory: each embeds the turns it ran (and
checks every agent once when it starts); two processes indexing the same messages write the same
rows (``merge_insert`` by message id), which wastes work but never duplicates or loses a vector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from letta_mcp.models import Message, Role
from letta_mcp.runtime.archival import ArchivalMemory
from letta_mcp.runtime.archival_index import (
    MAINTAIN_AT_LEAST,
    MAINTAIN_EVERY,
    MAINTAIN_FRACTION,
    gather,
)
from letta_mcp.runtime.fusion import fuse
from letta_mcp.store import Queries, Store
from letta_mcp.store.message_vectors import MessageVectors

log = logging.getLogger(__name__)

EMBEDDED_ROLES = (Role.user, Role.assistant)
"""What is embedded: what was said. Tool results and system text are found by full text only."""
RRF_K = 40
FUSION_WEIGHTS = (1.0, 0.3)
"""Full-text and vector list weights of the fusion: archival's values, kept after a sweep on LoCoMo
dev conversations 0-1 only (``recall_messages.py --split tune --sweep``, all-MiniLM-L6-v2): R@10
full text alone .693; vector weight .2-.4 at k 10-60 a plateau of .729-.750 (3×3 neighbourhood
means .731-.739, these values .736), equal weights .666-.716 (the weaker vector list pushes good
full-text hits down, as in archival)."""
MAX_QUERY_CHARS = 10_000
_AGENTS_PAGE = 500
_RETRY_DELAYS_S = (1.0, 5.0, 30.0, 120.0)
CLOSE_GRACE_S = 5.0


class MessageIndex:
    """Create with the archival engine whose embedder (and LanceDB connection) it shares, then
    ``start()``; ``await aclose()`` before the archival engine closes (that closes the embedder)."""

    def __init__(self, store: Store, archival: ArchivalMemory, *, batch_size: int = 64) -> None:
        if archival.embedder is None or archival.space is None:
            raise ValueError("MessageIndex needs an embedder")
        self._store = store
        self._archival = archival
        self.space = archival.space
        self._batch_size = batch_size
        self._vectors: MessageVectors | None = None  # set on first use (imports lancedb)
        self._open_lock = asyncio.Lock()
        self._marks: dict[str, int] = {}  # loaded from LanceDB with the vectors, then kept here
        self._pending: set[str] = set()  # agents that may have messages above their mark
        self._forget: set[str] = set()  # deleted agents whose vectors are to go
        self._check_all = False  # look at every agent (start, reindex)
        self._work_lock = asyncio.Lock()  # one indexer at a time: the background task or `wait_indexed`
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._written = 0  # vectors written since the last compaction

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Check every agent for messages above its mark, in the background (no I/O here)."""
        self._check_all = True
        self._wake_worker()

    async def aclose(self) -> None:
        """Stop the background indexer (what is left is picked up by the next start)."""
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            await asyncio.wait({self._worker}, timeout=CLOSE_GRACE_S)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def notify(self, agent_id: str) -> None:
        """Queue the agent for embedding (after its new messages committed); only enqueues."""
        self._pending.add(agent_id)
        self._wake_worker()

    def forget(self, agent_ids: Sequence[str]) -> None:
        """Queue the removal of deleted agents' vectors (their messages are already gone)."""
        self._forget.update(agent_ids)
        self._wake_worker()

    def _wake_worker(self) -> None:
        if self._closed:
            return
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="message-indexer")

    async def _work(self) -> None:
        failures = 0
        while not self._closed:
            await self._wake.wait()
            await self._gather()
            if self._closed:  # woken to stop: not even opening the vectors (seconds, the first time)
                return
            try:
                await self.wait_indexed()
                if self._written >= MAINTAIN_AT_LEAST and not self._closed:
                    await self._maintain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = _RETRY_DELAYS_S[min(failures, len(_RETRY_DELAYS_S) - 1)]
                failures += 1
                log.exception("Embedding messages failed; retrying in %.0fs (full-text search still works)", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                self._wake.set()

    async def _gather(self) -> None:
        """Wait until turns pause (archival's `GATHER_S`), so back-to-back turns become one write;
        clears the wake-up flag."""
        await gather(self._wake, lambda: self._closed)

    async def _maintain(self) -> None:
        """Compact as archival does: after `MAINTAIN_AT_LEAST` to `MAINTAIN_EVERY` new rows."""
        vectors = await self.open()
        if self._written >= min(MAINTAIN_EVERY, max(MAINTAIN_AT_LEAST, await vectors.count() // MAINTAIN_FRACTION)):
            await self.optimize()

    async def optimize(self) -> None:
        """Compact the vector tables now (benchmarks: search the steady state a long-running server
        reaches); never at the same time as the background indexer's own compaction."""
        vectors = await self.open()
        async with self._work_lock:
            self._written = 0
            await vectors.maintain()

    # --- indexing -------------------------------------------------------------------------------

    async def open(self) -> MessageVectors:
        """The vector tables, opened on first use (through the archival index's LanceDB connection);
        drops other embedders' message vectors and loads the watermarks."""
        if self._vectors is not None:
            return self._vectors
        async with self._open_lock:
            if self._vectors is None:
                lance = await self._archival.open_index()
                vectors = MessageVectors(lance.db, self.space)
                dropped = await vectors.drop_others()
                if dropped:
                    log.info("Dropped message vectors of previous embedders: %s", ", ".join(dropped))
                self._marks = await vectors.marks()
                self._vectors = vectors
        return self._vectors

    async def wait_indexed(self) -> None:
        """Embed, in this task, everything queued so far (and every agent after `start`)."""
        async with self._work_lock:
            vectors = await self.open()
            if self._check_all:  # each flag is cleared once its work is done, so a failure retries it
                await self._queue_all(vectors)
                self._check_all = False
            if self._forget:
                gone = sorted(self._forget)
                await vectors.delete_agents(gone)
                self._forget.difference_update(gone)
                for agent_id in gone:
                    self._marks.pop(agent_id, None)
            while self._pending and not self._closed:
                agent_id = self._pending.pop()
                try:
                    while await self._index_batch(vectors, agent_id):
                        pass
                except BaseException:
                    self._pending.add(agent_id)  # retried with the next attempt
                    raise

    async def _queue_all(self, vectors: MessageVectors) -> None:
        """Queue every agent, and forget marked agents that no longer exist (deleted while no
        process was there to remove their vectors)."""
        existing: set[str] = set()
        async with self._store.read() as q:
            while True:
                page = await q.agents.list(limit=_AGENTS_PAGE, offset=len(existing))
                existing.update(a.id for a in page)
                if len(page) < _AGENTS_PAGE:
                    break
        self._pending |= existing
        stale = sorted(set(self._marks) - existing)
        if stale:
            await vectors.delete_agents(stale)
            for agent_id in stale:
                self._marks.pop(agent_id, None)

    async def _index_batch(self, vectors: MessageVectors, agent_id: str) -> bool:
        """Embed the next batch of the agent's messages above its mark; False when none is left."""
        mark = self._marks.get(agent_id, 0)  # seq 0 is the system message, never embedded
        async with self._store.read() as q:
            last = await q.messages.next_seq(agent_id) - 1  # read first: what the page covers at least
            if last <= mark:
                return False
            page = await q.messages.page(
                agent_id, after_seq=mark, roles=list(EMBEDDED_ROLES), limit=self._batch_size, newest_first=False
            )
        said = [m for m in page if m.content and m.content.strip()]
        if said:
            await vectors.upsert(said, await self.embed([m.content or "" for m in said]))
            self._written += len(said)
        full = len(page) == self._batch_size
        new_mark = page[-1].seq if full else max(last, page[-1].seq if page else last)
        await vectors.set_marks({agent_id: new_mark})
        self._marks[agent_id] = new_mark
        async with self._store.read() as q:
            exists = await q.agents.exists(agent_id)
        if not exists:  # deleted while this batch was embedded: its rows must not outlive it
            await vectors.delete_agents([agent_id])
            self._marks.pop(agent_id, None)
            return False
        return full

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed with the archival engine's embedder (which refuses to run inside a write transaction)."""
        return await self._archival.embed(texts)

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop every message vector and embed all messages again; returns how many were embedded."""
        vectors = await self.open()
        async with self._work_lock:
            await vectors.drop()
            self._marks.clear()
            self._check_all = True
        await self.wait_indexed()
        total = await vectors.count()
        if progress is not None:
            progress(total, total)
        return total

    # --- search ---------------------------------------------------------------------------------

    async def prepare(self, query: str | None) -> list[float] | None:
        """Before a search's transaction opens: open the vectors (the first time imports lancedb) and
        embed the query (maybe a network call). None when there is nothing to embed or either failed:
        that search is then full text only, as conversation search was before it had vectors."""
        if query is None or not query.strip() or len(query) > MAX_QUERY_CHARS:
            return None
        try:
            await self.open()
            (vector,) = await self.embed([query])
        except Exception:  # LanceDB and the embedder each raise their own kinds; neither is fatal here
            log.warning("Message vectors unavailable; searching messages by full text only", exc_info=True)
            return None
        return vector

    async def search(
        self,
        q: Queries,
        agent_id: str,
        *,
        query: str | None,
        roles: list[Role],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        query_vector: list[float] | None,
    ) -> list[Message]:
        """The agent's messages for ``query``, best first: the full-text list (with neighbour context)
        fused with the nearest vectors, both under the same role and date filters. Without a query
        vector (or before the vectors opened: never inside the caller's transaction) full text only."""
        pool = min(max(limit * 3, 50), 300)  # candidates per list: fusion needs more than ``limit``
        text = q.messages.search(agent_id, query=query, roles=roles, start=start, end=end, limit=pool)
        vectors = self._vectors
        if query_vector is None or vectors is None or not query or not query.strip():
            return (await text)[:limit]

        async def nearest() -> list[tuple[str, int, float]] | None:
            try:
                return await vectors.search(agent_id, query_vector, roles=roles, start=start, end=end, limit=pool)
            except Exception:  # e.g. `letta-mcp reindex` dropped the table a moment ago; it is derived data
                log.warning("Searching message vectors failed; full text only", exc_info=True)
                return None

        # Both at once: SQLite runs on its connection's thread, LanceDB on a worker thread.
        found, near = await asyncio.gather(text, nearest())
        if near is None:
            return found[:limit]
        by_id = {m.id: m for m in found}
        seqs = {mid: seq for mid, seq, _ in near}
        out: list[Message] = []
        for mid, _, _ in fuse([list(by_id), list(seqs)], FUSION_WEIGHTS, RRF_K):
            message = by_id.get(mid) or await _at_seq(q, agent_id, seqs[mid])
            if message is not None and message.id == mid:  # else a vector whose message is gone
                out.append(message)
                if len(out) == limit:
                    break
        return out


async def _at_seq(q: Queries, agent_id: str, seq: int) -> Message | None:
    """One message by its place in the agent's history (an indexed look-up)."""
    page = await q.messages.page(agent_id, after_seq=seq - 1, before_seq=seq + 1, limit=1)
    return page[0] if page else None


async def search_messages(
    q: Queries,
    index: MessageIndex | None,
    agent_id: str,
    *,
    query: str | None,
    roles: list[Role],
    start: datetime | None,
    end: datetime | None,
    limit: int,
    query_vector: list[float] | None = None,
) -> list[Message]:
    """Conversation search: hybrid through ``index`` when there is one, else full text alone."""
    if index is None:
        return await q.messages.search(agent_id, query=query, roles=roles, start=start, end=end, limit=limit)
    return await index.search(
        q, agent_id, query=query, roles=roles, start=start, end=end, limit=limit, query_vector=query_vector
    )
