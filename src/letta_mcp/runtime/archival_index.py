"""Keeping the LanceDB index in step with SQLite, in the background and on demand.

`ArchivalIndexer` (the base of `letta_mcp.runtime.archival.ArchivalMemory`, one per process) opens
the index on first use (LanceDB is imported then, never at start-up), checks it against SQLite's
flags, indexes passages that are not in it yet (full-text; vectors when an embedder is set),
re-embeds everything when the embedder changes, and rebuilds it all on demand (``reindex``).

Every index write happens inside a SQLite write transaction that also sets the passages' flags,
so the flags never claim more than LanceDB has, and SQLite's write lock (cross-process) keeps two
writers from indexing the same rows. Lock order is always: the store's write lock, then LanceDB.
Embedding (possibly a network call) always happens between transactions: `embed` enforces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from letta_mcp.embed.base import Embedder
from letta_mcp.models import Passage
from letta_mcp.store import Queries, Store
from letta_mcp.store.archival import ArchivalQueries
from letta_mcp.store.lance import LanceIndex

log = logging.getLogger(__name__)

FTS_BATCH = 2_000
MAINTAIN_EVERY = 5_000
"""Most rows written by this process between two ``optimize`` runs (folds new rows into the indexes)."""
MAINTAIN_FRACTION = 20
MAINTAIN_AT_LEAST = 200
"""A smaller table is optimized sooner: after ``rows / MAINTAIN_FRACTION`` new rows (at least
``MAINTAIN_AT_LEAST``). Rows not yet folded in are searched by a flat scan over one small file per
write: 400 single inserts made each full-text search of a 700-row archive take 95 ms instead of 5."""
GATHER_S = 0.05
GATHER_MAX_S = 1.0
"""The background indexer starts once no insert has arrived for ``GATHER_S`` (at most ``GATHER_MAX_S``
after the first), so a run of single inserts becomes one index write: each LanceDB commit takes
~25 ms under the SQLite write lock, which the next insert would otherwise wait for."""
CLOSE_GRACE_S = 5.0
SPACE_KEY = "vector_space"
_RETRY_DELAYS_S = (1.0, 5.0, 30.0, 120.0)


async def gather(wake: asyncio.Event, closed: Callable[[], bool]) -> None:
    """Wait until wake-ups pause for `GATHER_S` (at most `GATHER_MAX_S`), so a run of writes becomes
    one index write; clears ``wake``. Shared by the archival and message indexers."""
    deadline = asyncio.get_running_loop().time() + GATHER_MAX_S
    while not closed():
        wake.clear()
        left = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(wake.wait(), min(GATHER_S, max(0.0, left)))
        except TimeoutError:
            return
        if left <= 0:
            return


@dataclass(frozen=True)
class IndexStatus:
    passages: int
    fts_pending: int  # passages not yet in the full-text index
    vec_pending: int  # passages without a vector of the current embedder (0 when there is no embedder)
    embedder: str | None


class ArchivalIndexer:
    """The index side of archival memory for one process. ``await start()``, ``await aclose()``."""

    def __init__(
        self,
        store: Store,
        *,
        uri: str,
        storage_options: dict[str, str] | None = None,
        embedder: Embedder | None = None,
        batch_size: int = 64,
        ann_threshold: int = 100_000,
        context_passages: int = 2,
    ) -> None:
        self._store = store
        self._context_passages = context_passages
        self._uri = uri
        self._storage_options = storage_options
        self.embedder = embedder
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
            aq = q.archival
            if self.space is not None:
                previous = await aq.get_state(SPACE_KEY)
                if previous != self.space:
                    if previous is not None:
                        log.info("Embedder changed from %s to %s: re-embedding archival memory", previous, self.space)
                    await aq.set_state(SPACE_KEY, self.space)
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
            await self._gather()
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

    async def _gather(self) -> None:
        """Wait until inserts pause (see `GATHER_S`); clears the wake-up flag."""
        await gather(self._wake, lambda: self._closed)

    async def _drain(self) -> None:
        while not self._closed:
            done = await self.index_text(None, FTS_BATCH)
            if self.embedder is not None:
                done += await self._index_vectors()
            if not done:
                break
        if self._written >= MAINTAIN_AT_LEAST and not self._closed:
            lance = await self.open_index()
            rows = await lance.count()
            if self._written >= min(MAINTAIN_EVERY, max(MAINTAIN_AT_LEAST, rows // MAINTAIN_FRACTION)):
                self._written = 0
                # One process at a time (of all replicas): a second optimize of the same tables would
                # only redo the work and conflict at commit. The others skip it; the next one is theirs.
                async with self._store.exclusive("archival-maintain") as elected:
                    if elected:
                        await lance.maintain(space=self.space)

    async def open_index(self, q: Queries | None = None) -> LanceIndex:
        """The LanceDB index, opened (and checked for drift against SQLite) on first use.

        ``q``: the write transaction the caller already holds, if any. Lock order is always the
        store's write lock first; connecting (which imports lancedb, seconds) takes neither.
        """
        if self._lance is not None:
            return self._lance
        lance = await self._connect()
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.write())
            if self._lance is None:  # the write lock serializes the check: one repair per process
                await self._repair(lance, q)
                # Vectors of any embedder but the recorded one (the last configured) are dead.
                recorded = await q.archival.get_state(SPACE_KEY)
                if recorded is not None:
                    dropped = await lance.drop_vector_tables(keep=recorded)
                    if dropped:
                        log.info("Dropped vector tables of previous embedders: %s", ", ".join(dropped))
                self._lance = lance
        return lance

    async def check_reachable(self) -> None:
        """Raise unless the index's storage answers (for health probes): connects on first use
        (without the drift check `open_index` makes), then counts the full-text rows."""
        await (await self._connect()).count()

    async def _connect(self) -> LanceIndex:
        async with self._open_lock:
            if self._connected is None:
                self._connected = await LanceIndex.open(
                    self._uri, storage_options=self._storage_options, ann_threshold=self._ann_threshold
                )
            return self._connected

    # --- writes ---

    async def unindex(self, passage_ids: list[str]) -> None:
        """Remove deleted passages from the index (after the SQLite delete committed)."""
        await self._unindex(passage_ids=passage_ids)

    async def unindex_archives(self, archive_ids: list[str]) -> None:
        await self._unindex(archive_ids=archive_ids)

    async def _unindex(self, **what: list[str]) -> None:
        try:
            await (await self.open_index()).delete(**what)
        except Exception:  # the rows are gone from SQLite, so they can no longer be returned
            log.exception("Could not remove deleted passages from the index; the next start removes them")

    # --- indexing -------------------------------------------------------------------------------

    async def index_text(self, archive_ids: list[str] | None, limit: int, q: Queries | None = None) -> int:
        """Put up to ``limit`` pending passages into the full-text table; returns how many.

        Runs in ``q`` (the caller's write transaction) or its own: the SQLite write lock is what
        serializes index writes, within this process and across processes.
        """
        lance = await self.open_index(q)  # first: opening may import lancedb, never under our write lock
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.write())
            aq = q.archival
            rows = await aq.pending("fts", archive_ids, limit)
            if rows:
                upserts, contexts = await self._with_context(aq, rows)
                await lance.upsert_text(upserts, contexts)
                # Every row written is now current in LanceDB, pending or a re-written neighbour.
                await aq.mark_indexed("fts", [p.id for p in upserts])
                self._written += len(upserts)
        return len(rows)

    async def _with_context(self, aq: ArchivalQueries, rows: list[Passage]) -> tuple[list[Passage], dict[str, str]]:
        """The rows to write and each one's context: the text of the ``context_passages`` passages
        stored just before and after it in its archive. A new passage changes its neighbours'
        context too, so they are written again (``merge_insert`` updates them in place)."""
        span = self._context_passages
        if span == 0:
            return rows, {}
        positions = await aq.positions([p.id for p in rows])
        pending = {p.id for p in rows if p.id in positions}
        by_archive: dict[str, list[Passage]] = {}
        for p in rows:
            if p.id in pending:
                by_archive.setdefault(p.archive_id, []).append(p)
        out: dict[str, Passage] = {}
        contexts: dict[str, str] = {}
        for archive_id, group in by_archive.items():
            group.sort(key=lambda p: positions[p.id])
            first, last = positions[group[0].id], positions[group[-1].id]
            # One ordered window when the new rows sit together (appends, imports), else one each.
            window = await aq.window(archive_id, first, last, around=2 * span, limit=3 * len(group) + 10)
            windows = [window] if window is not None else []
            if window is None:
                for p in group:
                    one = await aq.window(archive_id, positions[p.id], positions[p.id], around=2 * span, limit=1)
                    windows.append(one or [])
            for ordered in windows:
                marks = [i for i, p in enumerate(ordered) if p.id in pending]
                if not marks:
                    continue
                for i in range(max(0, marks[0] - span), min(len(ordered), marks[-1] + span + 1)):
                    around = ordered[max(0, i - span) : i] + ordered[i + 1 : i + span + 1]
                    out[ordered[i].id] = ordered[i]
                    contexts[ordered[i].id] = "\n".join(p.text for p in around)
        return list(out.values()), contexts

    async def _index_vectors(self) -> int:
        """Embed one batch of passages without a current vector (outside any transaction), then write
        them if they are still pending and the embedder is still the recorded one."""
        assert self.embedder is not None
        lance = await self.open_index()
        async with self._store.read() as q:
            rows = await q.archival.pending("vec", None, self._batch_size)
        if not rows:
            return 0
        vectors = await self.embed([p.text for p in rows])
        async with self._store.write() as q:
            aq = q.archival
            if await aq.get_state(SPACE_KEY) != self.space:
                log.warning("Another process switched the embedder; this one stops writing vectors")
                return 0
            still = await aq.pending_among("vec", [p.id for p in rows])
            keep = [(p, v) for p, v in zip(rows, vectors, strict=True) if p.id in still]
            if keep:
                await lance.upsert_vectors(self.space or "", [p for p, _ in keep], [v for _, v in keep])
                await aq.mark_indexed("vec", [p.id for p, _ in keep])
                self._written += len(keep)
        return len(rows)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed with the configured embedder; never from a task holding the write transaction, where
        a slow endpoint (timeouts × retries) would stall every writer of every process."""
        assert self.embedder is not None
        if self._store.in_write():
            raise RuntimeError("Embedding inside a write transaction: embed before it opens or after it commits.")
        return await self.embedder.embed(texts)

    async def flush_text(self, archive_ids: list[str], q: Queries | None) -> None:
        """Index what is still pending for these archives before searching them (read-your-writes)."""
        if q is None:
            async with self._store.read() as r:
                if not await r.archival.has_pending("fts", archive_ids):
                    return
        while await self.index_text(archive_ids, FTS_BATCH, q) == FTS_BATCH:
            pass

    async def wait_indexed(self) -> None:
        """Index everything pending now, in this task, until nothing is left."""
        while True:
            done = await self.index_text(None, FTS_BATCH)
            if self.embedder is not None:
                done += await self._index_vectors()
            if not done:
                return

    async def status(self) -> IndexStatus:
        async with self._store.read() as q:
            total, fts_pending, vec_pending = await q.archival.counts()
        return IndexStatus(total, fts_pending, vec_pending if self.embedder else 0, self.space)

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the LanceDB tables and index every passage again from SQLite."""
        lance = await self.open_index()
        async with self._store.write() as q:
            aq = q.archival
            await aq.reset_index("fts")
            await aq.reset_index("vec")
            await lance.drop_all()
            total = (await aq.counts())[0]
        steps = total * (2 if self.embedder is not None else 1)

        async def report() -> None:  # from the flags: the background indexer may do some of the work
            if progress is not None:
                async with self._store.read() as r:
                    _, fts_pending, vec_pending = await r.archival.counts()
                left = fts_pending + (vec_pending if self.embedder is not None else 0)
                progress(max(0, steps - left), steps)

        await report()
        while await self.index_text(None, FTS_BATCH):
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
        aq = q.archival
        repaired = await self._repair_table(lance, aq, None)
        if self.space is not None and await aq.get_state(SPACE_KEY) == self.space:
            repaired = await self._repair_table(lance, aq, self.space) or repaired
        if repaired:
            self.notify()  # index what was found missing (its write waits for this transaction)

    @staticmethod
    async def _repair_table(lance: LanceIndex, aq: ArchivalQueries, space: str | None) -> bool:
        """Compare one table with the flags (by count, then by id when they differ); True if it drifted."""
        target = "vec" if space else "fts"
        if await lance.count(space=space) == await aq.count_indexed(target):
            return False
        marked = await aq.indexed_ids(target)
        counts = Counter(await lance.ids(space=space))
        present = set(counts)
        duplicated = {pid for pid, n in counts.items() if n > 1}
        extra = sorted((present - marked) | duplicated)
        missing = sorted((marked - present) | duplicated)
        if extra:
            log.warning("Removing %d index rows with no passage in SQLite (%s)", len(extra), target)
            await lance.delete(passage_ids=extra, space=space, only=True)
        if missing:
            log.warning("Re-indexing %d passages missing from the index (%s)", len(missing), target)
            await aq.mark_indexed(target, missing, indexed=False)
        return bool(extra or missing)

    # --- search support ---

    async def vectors_usable(self, lance: LanceIndex, q: Queries | None) -> bool:
        if self.space is None:
            return False
        async with contextlib.AsyncExitStack() as stack:
            if q is None:
                q = await stack.enter_async_context(self._store.read())
            if await q.archival.get_state(SPACE_KEY) != self.space:
                return False
        return await lance.has_vector_table(self.space)
