"""Archives, passages and their index bookkeeping (SQLite is the truth; LanceDB only indexes it).

Every query a search or an agent step runs is bounded by an index: archive ids come from the
agent's few ``agent_archives`` rows, counts and tags from trigger-maintained tables, and "what is
not indexed yet" from partial indexes that stay small in steady state.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

from letta_mcp.models import Archive, Passage
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Row

IndexTarget = Literal["fts", "vec"]
_FLAG: dict[str, str] = {"fts": "fts_indexed", "vec": "vec_indexed"}


def _archive(row: Row) -> Archive:
    return Archive(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        owner=row["owner"],
        owner_agent_id=row["owner_agent_id"],
        passage_count=row["passage_count"],
        created_at=from_ts(row["created_at"]),
    )


def _passage(row: Row) -> Passage:
    return Passage(
        id=row["id"],
        archive_id=row["archive_id"],
        text=row["text"],
        tags=loads(row["tags"], []),
        metadata=loads(row["metadata"], {}),
        created_at=from_ts(row["created_at"]),
    )


def encode_cursor(created_at: str, rowid: int) -> str:
    """An opaque paging cursor: the (created_at, rowid) of the last passage of a page. The rowid
    orders passages stored at the same moment (the chunks of one text) in insertion order."""
    raw = json.dumps([created_at, rowid], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """Raises ``ValueError`` for anything `encode_cursor` did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, rowid = json.loads(raw)
    except (ValueError, TypeError) as e:
        raise ValueError(f"not a cursor: {cursor!r}") from e
    # A forged cursor could carry any JSON: the rowid must fit SQLite's INTEGER (bool is an int too).
    if not isinstance(created_at, str) or type(rowid) is not int or not 0 <= rowid < 2**63:
        raise ValueError(f"not a cursor: {cursor!r}")
    return created_at, rowid


def _names(prefix: str, values: list[str], params: dict[str, Any]) -> str:
    keys = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        keys.append(f":{prefix}{i}")
    return ", ".join(keys)


class ArchivalQueries:
    """Bound to one connection; write methods only inside `Store.write()`."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # --- archives -------------------------------------------------------------------------------

    async def insert_archive(self, archive: Archive, *, attach_to: str, now: datetime) -> None:
        await self._db.execute(
            "INSERT INTO archives (id, name, description, owner, owner_agent_id, created_at)"
            " VALUES (:id, :name, :description, :owner, :owner_agent_id, :created_at)",
            {
                "id": archive.id,
                "name": archive.name,
                "description": archive.description,
                "owner": archive.owner,
                "owner_agent_id": archive.owner_agent_id,
                "created_at": ts(archive.created_at),
            },
        )
        await self.attach(attach_to, archive.id, now, writable=True)

    async def get_archive(self, archive_id: str) -> Archive | None:
        row = await self._db.fetchone("SELECT * FROM archives WHERE id = :id", {"id": archive_id})
        return _archive(row) if row else None

    async def own_archive(self, agent_id: str) -> Archive | None:
        """The archive the agent's inserts go to (created on its first insert)."""
        row = await self._db.fetchone("SELECT * FROM archives WHERE owner_agent_id = :agent_id", {"agent_id": agent_id})
        return _archive(row) if row else None

    async def archives_for_agent(self, agent_id: str) -> list[Archive]:
        return [
            _archive(row)
            for row in await self._db.fetchall(
                "SELECT a.* FROM agent_archives aa JOIN archives a ON a.id = aa.archive_id"
                " WHERE aa.agent_id = :agent_id ORDER BY a.owner_agent_id IS NOT :agent_id, aa.attached_at, a.id",
                {"agent_id": agent_id},
            )
        ]

    async def archive_ids_for_agent(self, agent_id: str) -> list[str]:
        return [
            row[0]
            for row in await self._db.fetchall(
                "SELECT archive_id FROM agent_archives WHERE agent_id = :agent_id ORDER BY archive_id",
                {"agent_id": agent_id},
            )
        ]

    async def agents_for_archive(self, archive_id: str) -> list[str]:
        return [
            row[0]
            for row in await self._db.fetchall(
                "SELECT agent_id FROM agent_archives WHERE archive_id = :archive_id ORDER BY agent_id",
                {"archive_id": archive_id},
            )
        ]

    async def attach(self, agent_id: str, archive_id: str, now: datetime, *, writable: bool) -> None:
        """Attach the archive to the agent, or change whether it may write to it if already attached."""
        await self._db.execute(
            "INSERT INTO agent_archives (agent_id, archive_id, attached_at, writable)"
            " VALUES (:agent_id, :archive_id, :now, :writable)"
            " ON CONFLICT (agent_id, archive_id) DO UPDATE SET writable = excluded.writable",
            {"agent_id": agent_id, "archive_id": archive_id, "now": ts(now), "writable": int(writable)},
        )

    async def may_write(self, agent_id: str, archive_id: str) -> bool:
        """Whether the agent may add to and delete from the archive: its own, or shared with it writable."""
        return (
            await self._db.fetchone(
                "SELECT 1 FROM agent_archives aa JOIN archives a ON a.id = aa.archive_id"
                " WHERE aa.agent_id = :agent_id AND aa.archive_id = :archive_id"
                " AND (aa.writable = 1 OR a.owner_agent_id = :agent_id)",
                {"agent_id": agent_id, "archive_id": archive_id},
            )
            is not None
        )

    async def detach(self, agent_id: str, archive_id: str) -> None:
        await self._db.execute(
            "DELETE FROM agent_archives WHERE agent_id = :agent_id AND archive_id = :archive_id",
            {"agent_id": agent_id, "archive_id": archive_id},
        )

    async def delete_unattached_archives(self) -> list[str]:
        """Delete archives that no agent is attached to (their passages cascade); returns their ids.

        Also clears ``owner_agent_id`` of archives whose owner is gone but which are still shared,
        so a later agent can never inherit them as its own.
        """
        await self._db.execute(
            "UPDATE archives SET owner_agent_id = NULL WHERE owner_agent_id IS NOT NULL"
            " AND owner_agent_id NOT IN (SELECT id FROM agents)"
        )
        return [
            row[0]
            for row in await self._db.fetchall(
                "DELETE FROM archives WHERE id NOT IN (SELECT archive_id FROM agent_archives) RETURNING id"
            )
        ]

    async def stats_for_agent(self, agent_id: str, *, max_tags: int = 100) -> tuple[int, list[str]]:
        """(passages the agent can search, its archives' tags alphabetically, at most ``max_tags``)."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(a.passage_count), 0) FROM agent_archives aa JOIN archives a ON a.id = aa.archive_id"
            " WHERE aa.agent_id = :agent_id",
            {"agent_id": agent_id},
        )
        count = int(row[0]) if row else 0
        if count == 0:
            return 0, []
        tags = [
            r[0]
            for r in await self._db.fetchall(
                "SELECT DISTINCT t.tag FROM agent_archives aa JOIN archive_tags t ON t.archive_id = aa.archive_id"
                " WHERE aa.agent_id = :agent_id ORDER BY t.tag LIMIT :limit",
                {"agent_id": agent_id, "limit": max_tags},
            )
        ]
        return count, tags

    # --- passages -------------------------------------------------------------------------------

    async def insert_passages(self, passages: list[Passage]) -> None:
        await self._db.executemany(
            "INSERT INTO passages (id, archive_id, text, tags, metadata, created_at)"
            " VALUES (:id, :archive_id, :text, :tags, :metadata, :created_at)",
            [
                {
                    "id": p.id,
                    "archive_id": p.archive_id,
                    "text": p.text,
                    "tags": dumps(p.tags),
                    "metadata": dumps(p.metadata),
                    "created_at": ts(p.created_at),
                }
                for p in passages
            ],
        )
        await self._db.executemany(
            "INSERT INTO passage_tags (passage_id, archive_id, tag) VALUES (:id, :archive_id, :tag)"
            " ON CONFLICT DO NOTHING",
            [{"id": p.id, "archive_id": p.archive_id, "tag": tag} for p in passages for tag in p.tags],
        )

    async def get_passage(self, passage_id: str) -> Passage | None:
        row = await self._db.fetchone("SELECT * FROM passages WHERE id = :id", {"id": passage_id})
        return _passage(row) if row else None

    async def get_passages(self, passage_ids: list[str]) -> dict[str, Passage]:
        """The passages among ``passage_ids`` that exist, by id."""
        out: dict[str, Passage] = {}
        for i in range(0, len(passage_ids), 500):
            params: dict[str, Any] = {}
            names = _names("p", passage_ids[i : i + 500], params)
            out.update(
                (row["id"], _passage(row))
                for row in await self._db.fetchall(f"SELECT * FROM passages WHERE id IN ({names})", params)
            )
        return out

    async def delete_passages(self, passage_ids: list[str]) -> None:
        await self._db.executemany("DELETE FROM passages WHERE id = :id", [{"id": pid} for pid in passage_ids])

    async def page(
        self,
        archive_ids: list[str],
        *,
        tags: list[str],
        match_all: bool,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        after: tuple[str, int] | None,
        newest_first: bool,
    ) -> tuple[list[Passage], str | None]:
        """One page ordered by (created_at, insertion), and the cursor of the next page (None at the end)."""
        if not archive_ids:
            return [], None
        params: dict[str, Any] = {"limit": limit + 1}
        where = [f"p.archive_id IN ({_names('a', archive_ids, params)})"]
        if tags:
            matched = f"SELECT passage_id FROM passage_tags WHERE tag IN ({_names('t', tags, params)})"
            if match_all:
                matched += f" GROUP BY passage_id HAVING COUNT(DISTINCT tag) = {len(set(tags))}"
            where.append(f"p.id IN ({matched})")
        if start is not None:
            where.append("p.created_at >= :start")
            params["start"] = ts(start)
        if end is not None:
            where.append("p.created_at <= :end")
            params["end"] = ts(end)
        if after is not None:
            where.append(f"(p.created_at, p.rowid) {'<' if newest_first else '>'} (:after_ts, :after_rowid)")
            params["after_ts"], params["after_rowid"] = after
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT p.*, p.rowid AS row_number FROM passages p WHERE {' AND '.join(where)}"
            f" ORDER BY p.created_at {order}, p.rowid {order} LIMIT :limit"
        )
        rows = await self._db.fetchall(sql, params)
        passages = [_passage(row) for row in rows[:limit]]
        if len(rows) > limit:
            last = rows[limit - 1]
            return passages, encode_cursor(last["created_at"], last["row_number"])
        return passages, None

    # --- index bookkeeping ------------------------------------------------------------------------

    async def pending(self, target: IndexTarget, archive_ids: list[str] | None, limit: int) -> list[Passage]:
        """Up to ``limit`` passages not yet in the ``target`` index (of ``archive_ids``, or of all)."""
        params: dict[str, Any] = {"limit": limit}
        where = f"{_FLAG[target]} = 0"
        if archive_ids is not None:
            if not archive_ids:
                return []
            where += f" AND archive_id IN ({_names('a', archive_ids, params)})"
        return [
            _passage(row)
            for row in await self._db.fetchall(f"SELECT * FROM passages WHERE {where} LIMIT :limit", params)
        ]

    async def has_pending(self, target: IndexTarget, archive_ids: list[str]) -> bool:
        return bool(await self.pending(target, archive_ids, 1))

    async def mark_indexed(self, target: IndexTarget, passage_ids: list[str], indexed: bool = True) -> None:
        await self._db.executemany(
            f"UPDATE passages SET {_FLAG[target]} = :flag WHERE id = :id",
            [{"id": pid, "flag": int(indexed)} for pid in passage_ids],
        )

    async def reset_index(self, target: IndexTarget) -> None:
        """Mark every passage as not in the ``target`` index (before a rebuild or a re-embedding)."""
        await self._db.execute(f"UPDATE passages SET {_FLAG[target]} = 0 WHERE {_FLAG[target]} = 1")

    async def counts(self) -> tuple[int, int, int]:
        """(passages, not in the full-text index, without a current vector) over the whole store."""
        row = await self._db.fetchone(
            "SELECT (SELECT COUNT(*) FROM passages), (SELECT COUNT(*) FROM passages WHERE fts_indexed = 0),"
            " (SELECT COUNT(*) FROM passages WHERE vec_indexed = 0)"
        )
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    async def share_of(self, archive_ids: list[str]) -> float:
        """The fraction of all passages that these archives hold (from the archives' counters: no scan)."""
        params: dict[str, Any] = {}
        row = await self._db.fetchone(
            f"SELECT COALESCE(SUM(CASE WHEN id IN ({_names('a', archive_ids, params)}) THEN passage_count END), 0),"
            " COALESCE(SUM(passage_count), 0) FROM archives",
            params,
        )
        return row[0] / row[1] if row and row[1] else 0.0

    async def count_indexed(self, target: IndexTarget) -> int:
        row = await self._db.fetchone(f"SELECT COUNT(*) FROM passages WHERE {_FLAG[target]} = 1")
        return int(row[0]) if row else 0

    async def indexed_ids(self, target: IndexTarget) -> set[str]:
        """Ids of every passage marked as in the ``target`` index (for the full drift check)."""
        return {row[0] for row in await self._db.fetchall(f"SELECT id FROM passages WHERE {_FLAG[target]} = 1")}

    async def get_state(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM archival_index_state WHERE key = :key", {"key": key})
        return str(row[0]) if row else None

    async def set_state(self, key: str, value: str | None) -> None:
        if value is None:
            await self._db.execute("DELETE FROM archival_index_state WHERE key = :key", {"key": key})
        else:
            await self._db.execute(
                "INSERT INTO archival_index_state (key, value) VALUES (:key, :value)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"key": key, "value": value},
            )

    async def pending_among(self, target: IndexTarget, passage_ids: list[str]) -> set[str]:
        """Those of ``passage_ids`` that exist and are not yet in the ``target`` index."""
        out: set[str] = set()
        for i in range(0, len(passage_ids), 500):
            params: dict[str, Any] = {}
            names = _names("p", passage_ids[i : i + 500], params)
            out.update(
                row[0]
                for row in await self._db.fetchall(
                    f"SELECT id FROM passages WHERE {_FLAG[target]} = 0 AND id IN ({names})", params
                )
            )
        return out

    # --- neighbours (the context a passage is indexed with) ------------------------------------------

    async def positions(self, passage_ids: list[str]) -> dict[str, tuple[str, int]]:
        """(created_at, rowid) of each passage: its place in its archive's order."""
        out: dict[str, tuple[str, int]] = {}
        for i in range(0, len(passage_ids), 500):
            params: dict[str, Any] = {}
            names = _names("p", passage_ids[i : i + 500], params)
            out.update(
                (row[0], (row[1], int(row[2])))
                for row in await self._db.fetchall(
                    f"SELECT id, created_at, rowid FROM passages WHERE id IN ({names})", params
                )
            )
        return out

    async def window(
        self, archive_id: str, first: tuple[str, int], last: tuple[str, int], *, around: int, limit: int
    ) -> list[Passage] | None:
        """The archive's passages from ``first`` to ``last`` (positions) in order, with ``around`` more
        on each side; None when more than ``limit`` lie between them (the caller goes passage by passage)."""
        params: dict[str, Any] = {"a": archive_id, "fc": first[0], "fr": first[1], "lc": last[0], "lr": last[1]}
        params["around"], params["limit"] = around, limit + 1
        middle = [
            _passage(row)
            for row in await self._db.fetchall(
                "SELECT * FROM passages WHERE archive_id = :a AND (created_at, rowid) >= (:fc, :fr)"
                " AND (created_at, rowid) <= (:lc, :lr) ORDER BY created_at, rowid LIMIT :limit",
                params,
            )
        ]
        if len(middle) > limit:
            return None
        before = [
            _passage(row)
            for row in await self._db.fetchall(
                "SELECT * FROM passages WHERE archive_id = :a AND (created_at, rowid) < (:fc, :fr)"
                " ORDER BY created_at DESC, rowid DESC LIMIT :around",
                params,
            )
        ][::-1]
        after = [
            _passage(row)
            for row in await self._db.fetchall(
                "SELECT * FROM passages WHERE archive_id = :a AND (created_at, rowid) > (:lc, :lr)"
                " ORDER BY created_at, rowid LIMIT :around",
                params,
            )
        ]
        return before + middle + after
