"""Archival memory: insert passages, search them (full-text, vector, hybrid), keep the index in step.

`ArchivalMemory` is the one engine behind both the agent's own tools (``archival_memory_insert``,
``archival_memory_search``, which run inside a step's write transaction) and `ArchivalService`
(the MCP tools and library callers).

The write rule: **SQLite first, then LanceDB with the same id.** A passage is committed to SQLite
with ``fts_indexed = vec_indexed = 0``; indexing then happens in the background (embedding is slow
and may call a network service) and, for the full-text index, again at the start of every search,
so an acknowledged insert is always found. An index write runs inside a SQLite write transaction
that also sets the passage's flag, so the flags never claim more than LanceDB has: a crash or a
LanceDB error between the two leaves the flag at 0 and the row is indexed again (``merge_insert``
by id, so never twice). SQLite's write lock also keeps two processes from indexing the same rows.
Rows LanceDB has but SQLite does not (a crash after a delete committed) are harmless, because
results are read back from SQLite, and are removed by the drift check when the index opens.

Vectors are kept per embedder (name + dimension): when the configured embedder changes, every
passage is re-embedded in the background into a new table; until a passage has its new vector it
is still found through full-text search, and vectors of two models are never compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from letta_mcp.embed.base import Embedder
from letta_mcp.embed.errors import EmbedError
from letta_mcp.models import Agent, Archive, NewPassage, Passage, PassageHit, new_id
from letta_mcp.store import Queries, Store
from letta_mcp.store.archival import ArchivalQueries
from letta_mcp.store.lance import LanceIndex, build_filter

log = logging.getLogger(__name__)

SearchMode = Literal["auto", "fts", "vector", "hybrid"]
TagMatch = Literal["any", "all"]

MAX_TOP_K = 100
MAX_INSERT_CHARS = 1_000_000
"""Longest text one insert accepts (it is split into passages of ``chunk_chars``)."""
MAX_QUERY_CHARS = 10_000
MAX_TAGS = 50
MAX_TAG_CHARS = 100
RRF_K = 60
"""Reciprocal-rank fusion constant: score = Σ 1 / (RRF_K + rank) over the full-text and vector lists."""
FTS_BATCH = 2_000
MAINTAIN_EVERY = 5_000
"""Rows written by this process between two ``optimize`` runs (folds new rows into the indexes)."""
CLOSE_GRACE_S = 5.0
_SPACE_KEY = "vector_space"
_RETRY_DELAYS_S = (1.0, 5.0, 30.0, 120.0)


class ArchivalError(Exception):
    """Input the caller must fix; nothing was written. The message says what to change."""


@dataclass(frozen=True)
class IndexStatus:
    passages: int
    fts_pending: int  # passages not yet in the full-text index
    vec_pending: int  # passages without a vector of the current embedder (0 when there is no embedder)
    embedder: str | None


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars``, at paragraph, then sentence, then word
    boundaries, so each passage is a self-contained unit an embedder can take whole."""
    text = text.strip()
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, max_chars):
        joined = f"{current}{piece}" if current else piece.lstrip()
        if len(joined.rstrip()) <= max_chars:
            current = joined
        else:
            if current.strip():
                chunks.append(current.strip())
            current = piece.lstrip()
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _pieces(text: str, max_chars: int) -> list[str]:
    """Units no longer than ``max_chars``: paragraphs, else sentences, else words, else hard cuts."""
    out: list[str] = []
    for pattern in (r"(?<=\n\n)", r"(?<=[.!?])\s+|(?<=\n)", r"(?=\s)"):
        if not out:
            parts = re.split(pattern, text)
        else:
            parts = [sub for part in out for sub in (re.split(pattern, part) if len(part) > max_chars else [part])]
            parts = [p if p.startswith((" ", "\n")) or i == 0 else " " + p for i, p in enumerate(parts)]
        out = [p for p in parts if p]
        if all(len(p) <= max_chars for p in out):
            return out
    return [p[i : i + max_chars] for p in out for i in range(0, len(p), max_chars)]


def _check_tags(tags: Sequence[str]) -> list[str]:
    cleaned = sorted({t.strip() for t in tags})
    if len(cleaned) > MAX_TAGS:
        raise ArchivalError(f"At most {MAX_TAGS} tags per passage; got {len(cleaned)}.")
    for tag in cleaned:
        if not tag:
            raise ArchivalError("Tags must not be empty strings.")
        if len(tag) > MAX_TAG_CHARS:
            raise ArchivalError(f"Tag {tag[:40]!r}… is longer than {MAX_TAG_CHARS} characters.")
    return cleaned


def fuse(ranked: Sequence[Sequence[str]]) -> list[tuple[str, float, list[int | None]]]:
    """Reciprocal-rank fusion of several best-first id lists: (id, score, 1-based rank in each list)."""
    scores: dict[str, float] = {}
    ranks: dict[str, list[int | None]] = {}
    for n, ids in enumerate(ranked):
        for rank, pid in enumerate(dict.fromkeys(ids), start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (RRF_K + rank)
            ranks.setdefault(pid, [None] * len(ranked))[n] = rank
    order = sorted(scores, key=lambda pid: -scores[pid])
    return [(pid, scores[pid], ranks[pid]) for pid in order]


class ArchivalMemory:
    """The archival engine of one process. Create, then ``await start()``; ``await aclose()`` at the end.

    Methods taking ``q`` run inside the caller's open write transaction (an agent step's, or the
    service's); the caller commits and then calls `notify` so the background indexer picks the
    new passages up.
    """

    def __init__(
        self,
        store: Store,
        *,
        uri: str,
        storage_options: dict[str, str] | None = None,
        embedder: Embedder | None = None,
        chunk_chars: int = 2000,
        batch_size: int = 64,
        ann_threshold: int = 100_000,
    ) -> None:
        self._store = store
        self._uri = uri
        self._storage_options = storage_options
        self.embedder = embedder
        self._chunk_chars = chunk_chars
        self._batch_size = batch_size
        self._ann_threshold = ann_threshold
        self._lance: LanceIndex | None = None  # set once connected and repaired
        self._connected: LanceIndex | None = None
        self._open_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._written = 0
        self._closed = False
        # The vector space: the embedder's name and dimension (just the name while the dimension is
        # unknown, for endpoint models learnt from their first answer). Fixed for this process.
        self.space: str | None = None
        if embedder is not None:
            self.space = f"{embedder.name}:{embedder.dim}" if embedder.dim else embedder.name

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Record the embedder; when it differs from the one the vectors were made with, schedule a
        full re-embedding. Starts background indexing when anything is waiting. No LanceDB here."""
        async with self._store.write() as q:
            aq = ArchivalQueries(q.conn)
            if self.space is not None:
                previous = await aq.get_state(_SPACE_KEY)
                if previous != self.space:
                    if previous is not None:
                        log.info("Embedder changed from %s to %s: re-embedding archival memory", previous, self.space)
                    await aq.set_state(_SPACE_KEY, self.space)
                    await aq.reset_index("vec")
            _, fts_pending, vec_pending = await aq.counts()
        if fts_pending or (self.space is not None and vec_pending):
            self.notify()

    async def aclose(self) -> None:
        """Stop the background indexer: a batch in flight may finish (briefly), then it is cancelled;
        whatever is left is picked up at the next start."""
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            await asyncio.wait({self._worker}, timeout=CLOSE_GRACE_S)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self.embedder is not None:
            await self.embedder.aclose()

    def notify(self) -> None:
        """Wake the background indexer (after committing new passages). Safe to call inside a
        transaction: the indexer's own write waits for that transaction to commit."""
        if self._closed:
            return
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="archival-indexer")

    async def _work(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                await self._drain()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = _RETRY_DELAYS_S[min(failures, len(_RETRY_DELAYS_S) - 1)]
                failures += 1
                log.exception("Archival indexing failed; retrying in %.0fs (search still works)", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                self._wake.set()

    async def _drain(self) -> None:
        while not self._closed:
            done = await self._index_text(None, FTS_BATCH)
            if self.embedder is not None:
                done += await self._index_vectors()
            if not done:
                break
        if self._written >= MAINTAIN_EVERY and not self._closed:
            self._written = 0
            await (await self._index()).maintain(space=self.space)

    async def _index(self, q: Queries | None = None) -> LanceIndex:
        """The LanceDB index, opened (and checked for drift against SQLite) on first use.

        ``q``: the write transaction the caller already holds, if any. Lock order is always the
        store's write lock first; connecting (which imports lancedb, seconds) takes neither.
        """
        if self._lance is not None:
            return self._lance
        async with self._open_lock:
            if self._connected is None:
                self._connected = await LanceIndex.open(
                    self._uri, storage_options=self._storage_options, ann_threshold=self._ann_threshold
                )
        lance = self._connected
        first = False
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.write())
            if self._lance is None:  # the write lock serializes the check: one repair per process
                await self._repair(lance, q)
                self._lance = lance
                first = True
        if first and self.space is not None:
            dropped = await lance.drop_vector_tables(keep=self.space)
            if dropped:
                log.info("Dropped vector tables of previous embedders: %s", ", ".join(dropped))
        return lance

    # --- writes ---------------------------------------------------------------------------------

    async def own_archive(self, q: Queries, agent: Agent, now: datetime) -> Archive:
        """The agent's own archive (where its inserts go), created and attached on first use."""
        aq = ArchivalQueries(q.conn)
        archive = await aq.own_archive(agent.id)
        if archive is None:
            archive = Archive(
                id=new_id("archive"),
                name=f"{agent.name} archive",
                owner=agent.owner,
                owner_agent_id=agent.id,
                created_at=now,
            )
            await aq.insert_archive(archive, attach_to=agent.id, now=now)
        return archive

    async def add(self, q: Queries, archive_id: str, items: Sequence[NewPassage], now: datetime) -> list[Passage]:
        """Write passages (long texts chunked) in the caller's transaction; nothing is indexed yet."""
        passages: list[Passage] = []
        for item in items:
            if not item.text.strip():
                raise ArchivalError("The text is empty; give the text to store in archival memory.")
            if len(item.text) > MAX_INSERT_CHARS:
                raise ArchivalError(
                    f"The text has {len(item.text)} characters, more than the {MAX_INSERT_CHARS} one insert "
                    "accepts. Split it into several inserts."
                )
            tags = _check_tags(item.tags)
            created = item.created_at or now
            for chunk in chunk_text(item.text, self._chunk_chars):
                passages.append(
                    Passage(
                        id=new_id("passage"),
                        archive_id=archive_id,
                        text=chunk,
                        tags=tags,
                        metadata=item.metadata,
                        created_at=created,
                    )
                )
        await ArchivalQueries(q.conn).insert_passages(passages)
        return passages

    async def unindex(self, passage_ids: list[str]) -> None:
        """Remove deleted passages from the index (after the SQLite delete committed)."""
        await self._unindex(passage_ids=passage_ids)

    async def unindex_archives(self, archive_ids: list[str]) -> None:
        await self._unindex(archive_ids=archive_ids)

    async def _unindex(self, **what: list[str]) -> None:
        try:
            await (await self._index()).delete(**what)
        except Exception:  # the rows are gone from SQLite, so they can no longer be returned
            log.exception("Could not remove deleted passages from the index; the next start removes them")

    # --- indexing -------------------------------------------------------------------------------

    async def _index_text(self, archive_ids: list[str] | None, limit: int, q: Queries | None = None) -> int:
        """Put up to ``limit`` pending passages into the full-text table; returns how many.

        Runs in ``q`` (the caller's write transaction) or its own: the SQLite write lock is what
        serializes index writes, within this process and across processes.
        """
        lance = await self._index(q)  # first: opening may import lancedb, never under our write lock
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.write())
            aq = ArchivalQueries(q.conn)
            rows = await aq.pending("fts", archive_ids, limit)
            if rows:
                await lance.upsert_text(rows)
                await aq.mark_indexed("fts", [p.id for p in rows])
                self._written += len(rows)
        return len(rows)

    async def _index_vectors(self) -> int:
        """Embed one batch of passages without a current vector (outside any transaction), then write
        them if they are still pending and the embedder is still the recorded one."""
        assert self.embedder is not None
        lance = await self._index()
        async with self._store.read() as q:
            rows = await ArchivalQueries(q.conn).pending("vec", None, self._batch_size)
        if not rows:
            return 0
        vectors = await self.embedder.embed([p.text for p in rows])
        async with self._store.write() as q:
            aq = ArchivalQueries(q.conn)
            if await aq.get_state(_SPACE_KEY) != self.space:
                log.warning("Another process switched the embedder; this one stops writing vectors")
                return 0
            still = await aq.pending_among("vec", [p.id for p in rows])
            keep = [(p, v) for p, v in zip(rows, vectors, strict=True) if p.id in still]
            if keep:
                await lance.upsert_vectors(self.space or "", [p for p, _ in keep], [v for _, v in keep])
                await aq.mark_indexed("vec", [p.id for p, _ in keep])
                self._written += len(keep)
        return len(rows)

    async def _flush_text(self, archive_ids: list[str], q: Queries | None) -> None:
        """Index what is still pending for these archives before searching them (read-your-writes)."""
        if q is None:
            async with self._store.read() as r:
                if not await ArchivalQueries(r.conn).has_pending("fts", archive_ids):
                    return
        while await self._index_text(archive_ids, FTS_BATCH, q) == FTS_BATCH:
            pass

    async def wait_indexed(self) -> None:
        """Index everything pending now, in this task, until nothing is left."""
        while True:
            done = await self._index_text(None, FTS_BATCH)
            if self.embedder is not None:
                done += await self._index_vectors()
            if not done:
                return

    async def status(self) -> IndexStatus:
        async with self._store.read() as q:
            total, fts_pending, vec_pending = await ArchivalQueries(q.conn).counts()
        return IndexStatus(total, fts_pending, vec_pending if self.embedder else 0, self.space)

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the LanceDB tables and index every passage again from SQLite."""
        lance = await self._index()
        async with self._store.write() as q:
            aq = ArchivalQueries(q.conn)
            await aq.reset_index("fts")
            await aq.reset_index("vec")
            await lance.drop_all()
            total = (await aq.counts())[0]
        steps = total * (2 if self.embedder is not None else 1)

        async def report() -> None:  # from the flags: the background indexer may do some of the work
            if progress is not None:
                async with self._store.read() as r:
                    _, fts_pending, vec_pending = await ArchivalQueries(r.conn).counts()
                left = fts_pending + (vec_pending if self.embedder is not None else 0)
                progress(max(0, steps - left), steps)

        await report()
        while await self._index_text(None, FTS_BATCH):
            await report()
        while self.embedder is not None and await self._index_vectors():
            await report()
        await report()
        await lance.maintain(space=self.space)
        return total

    async def _repair(self, lance: LanceIndex, q: Queries) -> None:
        """Make SQLite's index flags and LanceDB agree (run once, when the index first opens).

        Runs inside a SQLite write transaction, so no other process is between its two writes.
        """
        aq = ArchivalQueries(q.conn)
        repaired = await self._repair_table(lance, aq, None)
        if self.space is not None and await aq.get_state(_SPACE_KEY) == self.space:
            repaired = await self._repair_table(lance, aq, self.space) or repaired
        if repaired:
            self.notify()  # index what was found missing (its write waits for this transaction)

    @staticmethod
    async def _repair_table(lance: LanceIndex, aq: ArchivalQueries, space: str | None) -> bool:
        """Compare one table with the flags (by count, then by id when they differ); True if it drifted."""
        target = "vec" if space else "fts"
        marked = await aq.indexed_ids(target)
        if await lance.count(space=space) == len(marked):
            return False
        ids = await lance.ids(space=space)
        present = set(ids)
        duplicated = {pid for pid in present if ids.count(pid) > 1} if len(ids) != len(present) else set()
        extra = sorted((present - marked) | duplicated)
        missing = sorted((marked - present) | duplicated)
        if extra:
            log.warning("Removing %d index rows with no passage in SQLite (%s)", len(extra), target)
            await lance.delete(passage_ids=extra)
        if missing:
            log.warning("Re-indexing %d passages missing from the index (%s)", len(missing), target)
            await aq.mark_indexed(target, missing, indexed=False)
        return bool(extra or missing)

    # --- search ---------------------------------------------------------------------------------

    async def search(
        self,
        archive_ids: list[str],
        query: str,
        *,
        tags: Sequence[str] = (),
        tag_match_mode: TagMatch = "any",
        top_k: int = 10,
        start: datetime | None = None,
        end: datetime | None = None,
        mode: SearchMode = "auto",
        q: Queries | None = None,
    ) -> list[PassageHit]:
        """The best passages of ``archive_ids`` for ``query``, best first (see `ArchivalService.search`).

        ``q``: the open write transaction to work in (an agent step's); None opens its own.
        """
        if not query.strip():
            raise ArchivalError("The query is empty; give the words or question to search for.")
        if not 1 <= top_k <= MAX_TOP_K:
            raise ArchivalError(f"top_k must be between 1 and {MAX_TOP_K}; got {top_k}.")
        if mode in ("vector", "hybrid") and self.embedder is None:
            raise ArchivalError(
                f"mode={mode!r} needs an embedder, and none is configured (setting `embedder`, e.g. "
                "'local' or 'openai/text-embedding-3-small'). Use mode='fts' or 'auto'."
            )
        tag_list = _check_tags(tags) if tags else []
        if not archive_ids:
            return []
        lance = await self._index(q)  # first: opening checks for drift and may mark rows to re-index
        await self._flush_text(archive_ids, q)
        where = build_filter(archive_ids, tags=tag_list, match_all_tags=tag_match_mode == "all", start=start, end=end)
        pool = min(max(top_k * 3, 30), 300)
        lists: list[list[tuple[str, float]]] = []
        if mode != "vector":
            lists.append(await lance.search_text(query, where, pool))
        if mode in ("vector", "hybrid") or (mode == "auto" and await self._vectors_usable(lance, q)):
            assert self.embedder is not None and self.space is not None
            try:
                (vector,) = await self.embedder.embed([query])
            except EmbedError:
                if mode != "auto":
                    raise
                log.warning("Embedding the query failed; searching full-text only", exc_info=True)
            else:
                lists.append(await lance.search_vectors(self.space, vector, where, pool))
        return await self._hits(lists, archive_ids, mode, top_k, q)

    async def _vectors_usable(self, lance: LanceIndex, q: Queries | None) -> bool:
        if self.space is None:
            return False
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.read())
            if await ArchivalQueries(q.conn).get_state(_SPACE_KEY) != self.space:
                return False
        return await lance.has_vector_table(self.space)

    async def _hits(
        self,
        lists: list[list[tuple[str, float]]],
        archive_ids: list[str],
        mode: SearchMode,
        top_k: int,
        q: Queries | None,
    ) -> list[PassageHit]:
        if len(lists) == 1:
            ranked = [(pid, score, [rank]) for rank, (pid, score) in enumerate(dict(lists[0]).items(), start=1)]
        else:
            ranked = [(pid, score, ranks) for pid, score, ranks in fuse([[pid for pid, _ in lst] for lst in lists])]
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.read())
            found = await ArchivalQueries(q.conn).get_passages([pid for pid, _, _ in ranked[: top_k * 2 + 20]])
        allowed = set(archive_ids)
        hits: list[PassageHit] = []
        for pid, score, ranks in ranked:
            passage = found.get(pid)
            if passage is None or passage.archive_id not in allowed:
                continue  # an index row whose passage was deleted (SQLite is the truth)
            fts_rank = ranks[0] if mode != "vector" else None
            vector_rank = ranks[-1] if (mode == "vector" or len(ranks) == 2) else None
            hits.append(PassageHit(passage=passage, score=score, fts_rank=fts_rank, vector_rank=vector_rank))
            if len(hits) == top_k:
                break
        return hits
