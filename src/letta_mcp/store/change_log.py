"""The ``change_log`` table: committed changes, read by the other processes sharing the database.

Rows are opaque to the store (``change`` is the service's JSON); ``origin`` names the process that
wrote the row, so a reader skips its own. See migration 12 for why ``seq`` is the reading order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from letta_mcp.store.codec import ts
from letta_mcp.store.db import Db


@dataclass(frozen=True)
class LoggedChange:
    seq: int
    origin: str
    change: str


CHANNEL = "letta_mcp_change_log"
"""The PostgreSQL notification channel an append signals (see `Store.listen`)."""


class ChangeLogQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def append(self, origin: str, changes: list[str], at: datetime) -> None:
        await self._db.defer_many(
            "INSERT INTO change_log (origin, change, at) VALUES (:origin, :change, :at)",
            [{"origin": origin, "change": change, "at": ts(at)} for change in changes],
        )
        if self._db.dialect == "postgresql":  # wakes the other replicas' readers when this commits
            await self._db.execute("SELECT pg_notify(:channel, '')", {"channel": CHANNEL})

    async def last_before(self, moment: datetime) -> int:
        """The ``seq`` of the last row written before ``moment`` (0 if none): where a reader that
        starts listening at ``moment`` begins."""
        row = await self._db.fetchone("SELECT COALESCE(MAX(seq), 0) FROM change_log WHERE at < :at", {"at": ts(moment)})
        return int(row[0]) if row is not None else 0

    async def after(self, seq: int, *, limit: int) -> list[LoggedChange]:
        """Rows after ``seq``, oldest first (one range scan of the primary key)."""
        rows = await self._db.fetchall(
            "SELECT seq, origin, change FROM change_log WHERE seq > :seq ORDER BY seq LIMIT :limit",
            {"seq": seq, "limit": limit},
        )
        return [LoggedChange(int(r["seq"]), r["origin"], r["change"]) for r in rows]

    async def trim(self, before: datetime) -> int:
        """Delete rows written before ``before``; the number deleted."""
        return await self._db.execute("DELETE FROM change_log WHERE at < :at", {"at": ts(before)})
