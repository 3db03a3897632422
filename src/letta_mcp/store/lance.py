"""The LanceDB search index of archival passages (SQLite holds the passages themselves).

Two kinds of table under one Lance URI: a local directory, or ``s3://bucket/prefix`` with the
``storage_options`` that reach it (`letta_mcp.store.object_store` probes such a store first):

- ``archival_text``: id, archive_id, text, context, tags, created_at, with native full-text indexes
  (``FTS()``: BM25, English stemming, stop words, ASCII folding) on ``text`` and ``context`` (the
  passages stored just before and after it, weighted `CONTEXT_BOOST`: a conversation turn such as
  "we got the papers today!" is found by the question about the adoption discussed around it) and
  scalar indexes for the filters;
- ``archival_vec_<embedder>``: the same filter columns plus a vector, one table per embedder (name
  + dimension), so vectors of two models can never meet in one search.

Rows are keyed by the passage id and written with ``merge_insert``, so writing a row twice (a
retry after a crash) never duplicates it. Every call blocks, so each runs in a worker thread
(`anyio.to_thread.run_sync`); ``lancedb`` itself is imported on first use only (it takes seconds),
never when the server starts. Several processes may write the same tables: LanceDB commits are
optimistic, and a commit that lost a race is retried here. Replicas sharing one object store see
each other's writes because every read checks for the latest version first
(``read_consistency_interval=0``). That check is one listing per read: a full-text search of a
2,000-row table took 6.8 ms instead of 5.6 on local disk, 29 ms instead of 4.4 against
``moto_server`` on loopback (S3 itself adds its request latency), the price of never answering
from a stale version.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from letta_mcp.models import Passage

if TYPE_CHECKING:
    import pyarrow as pa
    from lancedb.db import DBConnection
    from lancedb.table import Table

log = logging.getLogger(__name__)

TEXT_TABLE = "archival_text"
CONTEXT_BOOST = 0.8
"""Weight of a match in the neighbours' text relative to one in the passage itself (LoCoMo dev:
recall@10 0.637 → 0.724 with two neighbours each side; 0.6-0.9 all within 0.01 of that)."""
_VEC_PREFIX = "archival_vec_"
_RETRIES = 12
_RETRYABLE = ("conflict", "retry", "concurrent", "too many open files")
T = TypeVar("T")


def space_slug(space: str) -> str:
    """A table-name-safe, unique tag of the embedder ``space`` (e.g. ``openai/text-embedding-3-small:1536``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", space.lower()).strip("_")[:40]
    return f"{slug}_{hashlib.sha256(space.encode()).hexdigest()[:8]}"


def vector_table_name(space: str) -> str:
    """The table holding archival vectors of the embedder ``space``."""
    return f"{_VEC_PREFIX}{space_slug(space)}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamp(moment: datetime) -> str:
    return f"timestamp {_literal(moment.isoformat(timespec='microseconds'))}"


def build_filter(
    archive_ids: list[str],
    *,
    tags: list[str] | None = None,
    match_all_tags: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """A LanceDB SQL filter: the archives (always; that is what isolates agents), tags, date range."""
    clauses = [f"archive_id IN ({', '.join(_literal(a) for a in archive_ids)})"]
    if tags:
        fn = "array_has_all" if match_all_tags else "array_has_any"
        clauses.append(f"{fn}(tags, [{', '.join(_literal(t) for t in tags)}])")
    if start is not None:
        clauses.append(f"created_at >= {_timestamp(start)}")
    if end is not None:
        clauses.append(f"created_at <= {_timestamp(end)}")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class PostFilter:
    """Search the whole table and keep the rows of ``archive_ids`` afterwards, instead of filtering
    first. LanceDB's prefilter costs time in proportion to the rows it keeps (1M-row table, one
    archive holding nearly all of it: full-text 36-44 ms prefiltered, 13-16 ms post-filtered), so
    when the archives searched hold ``share`` (most) of the table, fetching ``limit / share`` best
    rows and dropping the others' is cheaper. Falls back to the prefilter when too few survive."""

    archive_ids: frozenset[str]
    share: float

    def fetch(self, limit: int) -> int:
        return min(POST_FILTER_MAX_FETCH, math.ceil(limit / self.share * 1.5) + 10)


POST_FILTER_MAX_FETCH = 2_000


def _post_filtered(
    search: Callable[[bool, int], list[dict[str, Any]]], post: PostFilter | None, limit: int
) -> list[dict[str, Any]]:
    """``search(prefilter, fetch)``: post-filtered when that is cheaper and complete, else prefiltered."""
    if post is not None:
        fetch = post.fetch(limit)
        rows = search(False, fetch)
        kept = [r for r in rows if r["archive_id"] in post.archive_ids]
        # Complete when the limit is reached, or when the unfiltered search returned every match.
        if len(kept) >= limit or len(rows) < fetch:
            return kept[:limit]
    return search(True, limit)


def _retrying(fn: Callable[[], T]) -> T:
    """Run a LanceDB write, retrying when another writer's commit won the race."""
    for attempt in range(_RETRIES):
        try:
            return fn()
        except Exception as e:  # lancedb raises plain RuntimeError/OSError/ValueError for commit conflicts
            if attempt == _RETRIES - 1 or not any(word in str(e).lower() for word in _RETRYABLE):
                raise
            delay = min(2.0, 0.01 * 2**attempt) * (0.5 + random.random())
            log.debug("LanceDB commit conflict (attempt %d), retrying in %.3fs: %s", attempt + 1, delay, e)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _create_index(table: Table, column: str, config: Any) -> None:
    """Create an index unless another writer (process or thread) just did."""
    try:
        _retrying(lambda: table.create_index(column, config=config, replace=False))
    except Exception as e:
        if "already exists" not in str(e):
            raise


def table_names(db: DBConnection) -> set[str]:
    """Every table under the connection's URI (listed page by page)."""
    names: set[str] = set()
    token = None
    while True:
        page = db.list_tables(page_token=token)
        names.update(page.tables)
        token = page.page_token
        if not token:
            return names


class LanceIndex:
    """Open with `await LanceIndex.open(uri)`. Methods are async and run LanceDB in worker threads."""

    def __init__(self, db: DBConnection, *, ann_threshold: int) -> None:
        self._db = db
        self._ann_threshold = ann_threshold
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()  # serializes this process's table creation and writes

    @classmethod
    async def open(
        cls, uri: str, *, storage_options: dict[str, str] | None = None, ann_threshold: int = 100_000
    ) -> LanceIndex:
        def connect() -> LanceIndex:
            import lancedb  # seconds to import: only here, on first archival use

            # read_consistency_interval=0: every read sees other processes' (and replicas') latest commits.
            db = lancedb.connect(uri, read_consistency_interval=timedelta(0), storage_options=storage_options)
            index = cls(db, ann_threshold=ann_threshold)
            index._text_table()
            return index

        return await anyio.to_thread.run_sync(connect)

    @property
    def db(self) -> DBConnection:
        """The connection, shared with the conversation-message vectors (`letta_mcp.store.message_vectors`)."""
        return self._db

    # --- tables ---------------------------------------------------------------------------------

    def _table_names(self) -> set[str]:
        return table_names(self._db)

    def _schema(self, dim: int | None) -> pa.Schema:
        import pyarrow as pa

        fields = [
            pa.field("id", pa.string(), nullable=False),
            pa.field("archive_id", pa.string(), nullable=False),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("created_at", pa.timestamp("us", tz="UTC")),
        ]
        if dim is None:
            fields[2:2] = [pa.field("text", pa.string()), pa.field("context", pa.string())]
        else:
            fields.append(pa.field("vector", pa.list_(pa.float32(), dim)))
        return pa.schema(fields)

    def _open_or_create(self, name: str, dim: int | None) -> tuple[Table, bool]:
        from lancedb.index import FTS, BTree, LabelList

        with self._lock:
            if name in self._tables:
                return self._tables[name], False
            created = False
            if name in self._table_names():
                table = self._db.open_table(name)
            else:
                table = _retrying(lambda: self._db.create_table(name, schema=self._schema(dim), exist_ok=True))
                created = True
            present = {tuple(i.columns) for i in table.list_indices()}
            wanted: list[tuple[str, Any]] = [("id", BTree()), ("archive_id", BTree()), ("tags", LabelList())]
            if dim is None:
                for column in ("text", "context"):
                    wanted.append((column, FTS(stem=True, remove_stop_words=True, ascii_folding=True)))
            for column, config in wanted:
                if (column,) not in present:
                    _create_index(table, column, config)
            self._tables[name] = table
            return table, created

    def _text_table(self) -> Table:
        return self._open_or_create(TEXT_TABLE, None)[0]

    def _vec_table(self, space: str, dim: int) -> Table:
        return self._open_or_create(vector_table_name(space), dim)[0]

    async def has_vector_table(self, space: str) -> bool:
        name = vector_table_name(space)
        return await anyio.to_thread.run_sync(lambda: name in self._tables or name in self._table_names())

    async def drop_vector_tables(self, *, keep: str | None) -> list[str]:
        """Drop the vector tables of every embedder but ``keep``; returns the dropped table names."""

        def run() -> list[str]:
            keep_name = vector_table_name(keep) if keep else None
            dropped = []
            for name in sorted(self._table_names()):
                if name.startswith(_VEC_PREFIX) and name != keep_name:
                    with self._lock:
                        self._tables.pop(name, None)
                        self._db.drop_table(name, ignore_missing=True)  # another process may be first
                    dropped.append(name)
            return dropped

        return await anyio.to_thread.run_sync(run)

    async def drop_all(self) -> None:
        """Drop every table (before `letta-mcp reindex` rebuilds them from SQLite)."""

        def run() -> None:
            with self._lock:
                for name in self._table_names():
                    if name == TEXT_TABLE or name.startswith(_VEC_PREFIX):
                        self._db.drop_table(name, ignore_missing=True)
                self._tables.clear()
            self._text_table()

        await anyio.to_thread.run_sync(run)

    # --- writes ---------------------------------------------------------------------------------

    @staticmethod
    def _row(p: Passage) -> dict[str, Any]:
        return {"id": p.id, "archive_id": p.archive_id, "tags": p.tags, "created_at": p.created_at}

    def _upsert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        data = pa.Table.from_pylist(rows, schema=table.schema)
        with self._lock:
            _retrying(
                lambda: table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
            )

    async def upsert_text(self, passages: list[Passage], contexts: dict[str, str] | None = None) -> None:
        """Write passages with the text of their neighbours (``contexts`` by passage id)."""
        contexts = contexts or {}
        rows = [{**self._row(p), "text": p.text, "context": contexts.get(p.id, "")} for p in passages]
        await anyio.to_thread.run_sync(lambda: self._upsert(self._text_table(), rows))

    async def upsert_vectors(self, space: str, passages: list[Passage], vectors: list[list[float]]) -> None:
        if not passages:
            return
        dim = len(vectors[0])
        rows = [{**self._row(p), "vector": v} for p, v in zip(passages, vectors, strict=True)]
        await anyio.to_thread.run_sync(lambda: self._upsert(self._vec_table(space, dim), rows))

    async def delete(
        self,
        *,
        passage_ids: list[str] | None = None,
        archive_ids: list[str] | None = None,
        space: str | None = None,
        only: bool = False,
    ) -> None:
        """Delete rows by passage id or by archive (ids already gone are fine) from every table, or with
        ``only`` from just the text table (``space`` None) or ``space``'s vector table."""
        column, values = ("id", passage_ids) if passage_ids else ("archive_id", archive_ids or [])
        if not values:
            return

        def run() -> None:
            names = [n for n in self._table_names() if n == TEXT_TABLE or n.startswith(_VEC_PREFIX)]
            if only:
                wanted = vector_table_name(space) if space else TEXT_TABLE
                names = [n for n in names if n == wanted]
            for name in names:
                table = self._tables.get(name) or self._db.open_table(name)
                for i in range(0, len(values), 500):
                    where = f"{column} IN ({', '.join(_literal(v) for v in values[i : i + 500])})"
                    with self._lock:
                        _retrying(lambda t=table, w=where: t.delete(w))

        await anyio.to_thread.run_sync(run)

    # --- reads ----------------------------------------------------------------------------------

    async def search_text(
        self, query: str, where: str, limit: int, post: PostFilter | None = None
    ) -> list[tuple[str, float]]:
        """(passage id, BM25 score) for the best full-text matches of ``query`` among rows matching
        ``where`` (``post``: when ``where`` is just its archives, and they hold most rows)."""

        def search(prefilter: bool, fetch: int) -> list[dict[str, Any]]:
            from lancedb.query import MultiMatchQuery

            match = MultiMatchQuery(query, ["text", "context"], boosts=[1.0, CONTEXT_BOOST])
            found = self._text_table().search(match, query_type="fts")
            if prefilter:
                found = found.where(where, prefilter=True)
            return found.select(["id", "archive_id", "_score"]).limit(fetch).to_list()

        def run() -> list[tuple[str, float]]:
            return [(r["id"], float(r["_score"])) for r in _post_filtered(search, post, limit)]

        return await anyio.to_thread.run_sync(run)

    async def search_vectors(
        self, space: str, vector: list[float], where: str, limit: int, post: PostFilter | None = None
    ) -> list[tuple[str, float]]:
        """(passage id, cosine similarity) for the nearest vectors among rows matching ``where``."""

        def search(prefilter: bool, fetch: int) -> list[dict[str, Any]]:
            table = self._vec_table(space, len(vector))
            found = table.search(vector).distance_type("cosine")
            if prefilter:
                found = found.where(where, prefilter=True)
            found = found.select(["id", "archive_id", "_distance"]).limit(fetch)
            return found.refine_factor(5).nprobes(20).to_list()

        def run() -> list[tuple[str, float]]:
            return [(r["id"], 1.0 - float(r["_distance"])) for r in _post_filtered(search, post, limit)]

        return await anyio.to_thread.run_sync(run)

    async def ids(self, *, space: str | None = None) -> list[str]:
        """Every row's passage id in the text table, or in ``space``'s vector table (drift repair)."""

        def run() -> list[str]:
            name = vector_table_name(space) if space else TEXT_TABLE
            if name not in self._tables and name not in self._table_names():
                return []
            table = self._tables.get(name) or self._db.open_table(name)
            out: list[str] = []
            for batch in table.search().select(["id"]).to_batches():
                out.extend(batch.column("id").to_pylist())
            return out

        return await anyio.to_thread.run_sync(run)

    async def count(self, *, space: str | None = None) -> int:
        def run() -> int:
            name = vector_table_name(space) if space else TEXT_TABLE
            if name not in self._tables and name not in self._table_names():
                return 0
            return (self._tables.get(name) or self._db.open_table(name)).count_rows()

        return await anyio.to_thread.run_sync(run)

    async def has_ann_index(self, space: str) -> bool:
        """Whether ``space``'s vector table has its approximate-nearest-neighbour index yet."""

        def run() -> bool:
            name = vector_table_name(space)
            if name not in self._tables and name not in self._table_names():
                return False
            table = self._tables.get(name) or self._db.open_table(name)
            return any(i.columns == ["vector"] for i in table.list_indices())

        return await anyio.to_thread.run_sync(run)

    # --- maintenance ----------------------------------------------------------------------------

    async def maintain(self, *, space: str | None) -> None:
        """Fold new rows into the indexes and compact small files (``optimize``); build the ANN index
        of the vector table once it passes ``ann_threshold`` rows (below it, exact search is fast)."""

        def run() -> None:
            _retrying(lambda: self._text_table().optimize(cleanup_older_than=timedelta(minutes=10)))
            if space is None:
                return
            name = vector_table_name(space)
            if name not in self._table_names():
                return
            table = self._tables.get(name) or self._db.open_table(name)
            has_ann = any(i.columns == ["vector"] for i in table.list_indices())
            if not has_ann and table.count_rows() >= self._ann_threshold:
                log.info("Building the ANN index of %s (%d rows)", name, table.count_rows())
                from lancedb.index import IvfPq

                _create_index(table, "vector", IvfPq(distance_type="cosine"))
            _retrying(lambda: table.optimize(cleanup_older_than=timedelta(minutes=10)))

        await anyio.to_thread.run_sync(run)
