"""Archival memory: insert passages, search them (full-text, vector, hybrid), keep the index in step.

`ArchivalMemory` is the one engine behind both the agent's own tools (``archival_memory_insert``,
``archival_memory_search``, which run inside a step's write transaction) and `ArchivalService`
(the MCP tools and library callers). It is an `ArchivalIndexer` (the index upkeep, in its own
module) with the writes and the search on top: one object, reached the same way by both.

No network or model call happens inside a write transaction: the agent's searches get their
query vectors from `embed_query`, called before the step's transaction opens, and the indexer
embeds passages between transactions. `ArchivalIndexer.embed` refuses a call from a task that
holds the write transaction, so a violation fails loudly in tests instead of stalling writers.

An archive shared with an agent is read-only to it unless it was shared writable
(`letta_mcp.store.archival.ArchivalQueries.may_write`); `insert` and `check_writable` enforce it.

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

import contextlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from letta_mcp.embed.base import Embedder
from letta_mcp.embed.errors import EmbedError
from letta_mcp.models import Agent, Archive, NewPassage, Passage, PassageHit, new_id
from letta_mcp.runtime.archival_index import ArchivalIndexer
from letta_mcp.runtime.errors import ArchivalError, ArchiveReadOnlyError
from letta_mcp.runtime.fusion import fuse
from letta_mcp.store import Queries, Store
from letta_mcp.store.lance import PostFilter, build_filter

log = logging.getLogger(__name__)

SearchMode = Literal["auto", "fts", "vector", "hybrid"]
TagMatch = Literal["any", "all"]

MAX_TOP_K = 100
MAX_INSERT_CHARS = 1_000_000
"""Longest text one insert accepts (it is split into passages of ``chunk_chars``)."""
MAX_QUERY_CHARS = 10_000
MAX_TAGS = 50
MAX_TAG_CHARS = 100
POST_FILTER_SHARE = 0.5
"""Archives holding at least this share of all passages are searched unfiltered, then filtered
(`letta_mcp.store.lance.PostFilter`); smaller ones are filtered first, which is then cheap."""
RRF_K = 40
"""Reciprocal-rank fusion: score = Σ weight / (RRF_K + rank) over the full-text and vector lists."""
FUSION_WEIGHTS = (1.0, 0.3)
"""Weights of the full-text and vector lists. Chosen on LoCoMo dev conversations 0-1 only (the
``tune`` split of benchmarks/recall.py) with all-MiniLM-L6-v2: recall@10 full-text alone 0.767, k=40
with vectors at 0.3 0.779 (k 20-40 × weight 0.2-0.3 all 0.774-0.779; equal weights 0.69-0.75, below
full-text alone: the weaker vector list pushes good full-text hits down)."""


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


class ArchivalMemory(ArchivalIndexer):
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
        context_passages: int = 2,
    ) -> None:
        super().__init__(
            store,
            uri=uri,
            storage_options=storage_options,
            embedder=embedder,
            batch_size=batch_size,
            ann_threshold=ann_threshold,
            context_passages=context_passages,
        )
        self._chunk_chars = chunk_chars

    # --- writes ---------------------------------------------------------------------------------

    async def own_archive(self, q: Queries, agent: Agent, now: datetime) -> Archive:
        """The agent's own archive (where its inserts go), created and attached on first use."""
        aq = q.archival
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

    async def check_writable(self, q: Queries, agent_id: str, archive_id: str) -> None:
        """Raise `ArchiveReadOnlyError` unless the agent may add to and delete from the archive."""
        if not await q.archival.may_write(agent_id, archive_id):
            raise ArchiveReadOnlyError(
                f"Archive {archive_id!r} is shared with agent {agent_id!r} read-only: the agent can search "
                "it but not add to it or delete from it. Its owner can share it writable "
                "(share_archive with writable=true)."
            )

    async def insert(
        self, q: Queries, agent: Agent, items: Sequence[NewPassage], now: datetime, *, archive_id: str | None = None
    ) -> list[Passage]:
        """Store passages for ``agent`` in the caller's transaction: in its own archive, or in
        ``archive_id``, which must be attached to it writable. Nothing is indexed yet."""
        if archive_id is None:
            archive_id = (await self.own_archive(q, agent, now)).id
        else:
            await self.check_writable(q, agent.id, archive_id)
        return await self._add(q, archive_id, items, now)

    async def _add(self, q: Queries, archive_id: str, items: Sequence[NewPassage], now: datetime) -> list[Passage]:
        """Write passages (long texts chunked) in the caller's transaction."""
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
        await q.archival.insert_passages(passages)
        return passages

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
        query_vector: list[float] | None = None,
    ) -> list[PassageHit]:
        """The best passages of ``archive_ids`` for ``query``, best first (see `ArchivalService.search`).

        ``q``: the open write transaction to work in (an agent step's); None opens its own. Inside
        a transaction the query is never embedded here: pass ``query_vector`` from `embed_query`
        (called before the transaction opened), or the search is full-text only.
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
        lance = await self.open_index(q)  # first: opening checks for drift, may mark rows to re-index
        await self.flush_text(archive_ids, q)
        where = build_filter(archive_ids, tags=tag_list, match_all_tags=tag_match_mode == "all", start=start, end=end)
        post = None if tag_list or start or end else await self._post_filter(archive_ids, q)
        pool = min(max(top_k * 3, 50), 300)  # candidates per list: fusion needs more than top_k
        lists: list[list[tuple[str, float]]] = []
        if mode != "vector":
            lists.append(await lance.search_text(query, where, pool, post))
        if mode in ("vector", "hybrid") or (mode == "auto" and await self.vectors_usable(lance, q)):
            assert self.space is not None
            vector = query_vector
            if vector is None and q is None:
                try:
                    (vector,) = await self.embed([query])
                except EmbedError:
                    if mode != "auto":
                        raise
                    log.warning("Embedding the query failed; searching full-text only", exc_info=True)
            if vector is not None:
                lists.append(await lance.search_vectors(self.space, vector, where, pool, post))
        return await self._hits(lists, archive_ids, mode, top_k, q)

    async def _post_filter(self, archive_ids: list[str], q: Queries | None) -> PostFilter | None:
        """A `PostFilter` when these archives hold at least `POST_FILTER_SHARE` of all passages."""
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.read())
            share = await q.archival.share_of(archive_ids)
        return PostFilter(frozenset(archive_ids), share) if share >= POST_FILTER_SHARE else None

    async def embed_query(self, query: str) -> list[float] | None:
        """The query's vector for a search that will run inside a write transaction (an agent step's),
        computed before it opens. None when there is nothing to embed or embedding failed (that
        search is then full-text only, as ``auto`` mode does whenever embedding fails)."""
        if self.embedder is None or not query.strip() or len(query) > MAX_QUERY_CHARS:
            return None
        try:
            (vector,) = await self.embed([query])
        except EmbedError:
            log.warning("Embedding the query failed; searching full-text only", exc_info=True)
            return None
        return vector

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
            ranked = fuse([[pid for pid, _ in lst] for lst in lists], FUSION_WEIGHTS, RRF_K)
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.read())
            found = await q.archival.get_passages([pid for pid, _, _ in ranked[: top_k * 2 + 20]])
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
