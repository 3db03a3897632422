"""The LanceDB vectors of conversation messages (SQLite holds the messages themselves).

Two tables per embedder (name + dimension), beside the archival tables under the same Lance URI
and connection (`letta_mcp.store.lance.LanceIndex.db`):

- ``message_vec_<embedder>``: id, agent_id, seq, role, created_at and the vector of one user or
  assistant message, keyed by the message id and written with ``merge_insert`` (writing a row
  twice, a retry or two processes indexing the same agent, never duplicates it);
- ``message_mark_<embedder>``: one row per agent, the watermark: the highest ``seq`` whose
  messages have all been looked at (embedded, or skipped as having no text). A message's ``seq``
  is never reused while its agent exists, so everything above the mark is what is left to do.

Vectors are written before the mark, so a crash between the two only embeds a batch again. Every
call blocks, so each runs in a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from letta_mcp.models import Message, Role
from letta_mcp.store.lance import _create_index, _literal, _retrying, _timestamp, space_slug, table_names

if TYPE_CHECKING:
    import pyarrow as pa
    from lancedb.db import DBConnection
    from lancedb.table import Table

VEC_PREFIX = "message_vec_"
MARK_PREFIX = "message_mark_"
_DELETE_CHUNK = 500


class MessageVectors:
    """Message vectors and watermarks of one embedder ``space``, on an open LanceDB connection."""

    def __init__(self, db: DBConnection, space: str) -> None:
        self._db = db
        self.space = space
        self._vec_name = VEC_PREFIX + space_slug(space)
        self._mark_name = MARK_PREFIX + space_slug(space)
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()  # serializes this process's table creation and writes

    # --- tables ---------------------------------------------------------------------------------

    def _schema(self, name: str, dim: int) -> pa.Schema:
        import pyarrow as pa

        if name == self._mark_name:
            return pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("seq", pa.int64())])
        return pa.schema(
            [
                pa.field("id", pa.string(), nullable=False),
                pa.field("agent_id", pa.string(), nullable=False),
                pa.field("seq", pa.int64()),
                pa.field("role", pa.string()),
                pa.field("created_at", pa.timestamp("us", tz="UTC")),
                pa.field("vector", pa.list_(pa.float32(), dim)),
            ]
        )

    def _table(self, name: str, dim: int | None) -> Table | None:
        """The table, opened; created when ``dim`` is given (a write), else None when it does not exist."""
        from lancedb.index import BTree

        with self._lock:
            if name in self._tables:
                return self._tables[name]
            if name in table_names(self._db):
                table = self._db.open_table(name)
            elif dim is None:
                return None
            else:
                schema = self._schema(name, dim)
                table = _retrying(lambda: self._db.create_table(name, schema=schema, exist_ok=True))
            present = {tuple(i.columns) for i in table.list_indices()}
            for column in ("id", "agent_id") if name == self._vec_name else ("id",):
                if (column,) not in present:
                    _create_index(table, column, BTree())
            self._tables[name] = table
            return table

    def _upsert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        data = pa.Table.from_pylist(rows, schema=table.schema)
        with self._lock:
            _retrying(
                lambda: table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data)
            )

    async def drop_others(self) -> list[str]:
        """Drop the message tables of every other embedder (their vectors are never compared with
        this one's); returns the names dropped."""

        def run() -> list[str]:
            mine = {self._vec_name, self._mark_name}
            dropped = []
            for name in sorted(table_names(self._db)):
                if name.startswith((VEC_PREFIX, MARK_PREFIX)) and name not in mine:
                    self._db.drop_table(name, ignore_missing=True)  # another process may be first
                    dropped.append(name)
            return dropped

        return await anyio.to_thread.run_sync(run)

    async def drop(self) -> None:
        """Drop this embedder's vectors and marks (`letta-mcp reindex` embeds everything again)."""

        def run() -> None:
            with self._lock:
                for name in (self._vec_name, self._mark_name):
                    self._db.drop_table(name, ignore_missing=True)
                self._tables.clear()

        await anyio.to_thread.run_sync(run)

    # --- writes ---------------------------------------------------------------------------------

    async def upsert(self, messages: Sequence[Message], vectors: Sequence[list[float]]) -> None:
        if not messages:
            return
        rows = [
            {
                "id": m.id,
                "agent_id": m.agent_id,
                "seq": m.seq,
                "role": m.role.value,
                "created_at": m.created_at,
                "vector": v,
            }
            for m, v in zip(messages, vectors, strict=True)
        ]

        def run() -> None:
            table = self._table(self._vec_name, len(vectors[0]))
            assert table is not None
            self._upsert(table, rows)

        await anyio.to_thread.run_sync(run)

    async def set_marks(self, marks: dict[str, int]) -> None:
        """Record each agent's watermark (after its vectors are written)."""
        rows = [{"id": agent_id, "seq": seq} for agent_id, seq in marks.items()]

        def run() -> None:
            table = self._table(self._mark_name, 1)
            assert table is not None
            self._upsert(table, rows)

        if rows:
            await anyio.to_thread.run_sync(run)

    async def delete_agents(self, agent_ids: Sequence[str]) -> None:
        """Remove the vectors and marks of these agents (ids already gone are fine)."""

        def run() -> None:
            for name, column in ((self._vec_name, "agent_id"), (self._mark_name, "id")):
                table = self._table(name, None)
                if table is None:
                    continue
                for i in range(0, len(agent_ids), _DELETE_CHUNK):
                    where = f"{column} IN ({', '.join(_literal(a) for a in agent_ids[i : i + _DELETE_CHUNK])})"
                    with self._lock:
                        _retrying(lambda t=table, w=where: t.delete(w))

        if agent_ids:
            await anyio.to_thread.run_sync(run)

    async def maintain(self) -> None:
        """Compact the small files each write leaves (a search scans one per write until then) and
        fold new rows into the indexes."""

        def run() -> None:
            for name in (self._vec_name, self._mark_name):
                table = self._table(name, None)
                if table is not None:
                    _retrying(lambda t=table: t.optimize(cleanup_older_than=timedelta(minutes=10)))

        await anyio.to_thread.run_sync(run)

    # --- reads ----------------------------------------------------------------------------------

    async def marks(self) -> dict[str, int]:
        """Every agent's watermark (one small row per agent)."""

        def run() -> dict[str, int]:
            table = self._table(self._mark_name, None)
            if table is None:
                return {}
            out: dict[str, int] = {}
            for batch in table.search().select(["id", "seq"]).to_batches():
                out.update(zip(batch.column("id").to_pylist(), batch.column("seq").to_pylist(), strict=True))
            return out

        return await anyio.to_thread.run_sync(run)

    async def count(self, agent_id: str | None = None) -> int:
        """Vectors stored, of one agent or of all."""

        def run() -> int:
            table = self._table(self._vec_name, None)
            if table is None:
                return 0
            return table.count_rows(f"agent_id = {_literal(agent_id)}" if agent_id else None)

        return await anyio.to_thread.run_sync(run)

    async def search(
        self,
        agent_id: str,
        vector: list[float],
        *,
        roles: Sequence[Role],
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> list[tuple[str, int, float]]:
        """(message id, seq, cosine similarity) of the agent's nearest messages with one of ``roles``,
        created within the inclusive bounds, best first."""
        clauses = [f"agent_id = {_literal(agent_id)}", f"role IN ({', '.join(_literal(r.value) for r in roles)})"]
        if start is not None:
            clauses.append(f"created_at >= {_timestamp(start)}")
        if end is not None:
            clauses.append(f"created_at <= {_timestamp(end)}")

        def run() -> list[tuple[str, int, float]]:
            table = self._table(self._vec_name, None)
            if table is None or not roles:
                return []
            found = table.search(vector).distance_type("cosine").where(" AND ".join(clauses), prefilter=True)
            rows = found.select(["id", "seq", "_distance"]).limit(limit).to_list()
            return [(r["id"], int(r["seq"]), 1.0 - float(r["_distance"])) for r in rows]

        return await anyio.to_thread.run_sync(run)
