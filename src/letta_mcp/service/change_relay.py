"""`LogRelay`: changes between processes through the ``change_log`` table of the shared database.

Each process appends its changes (one write transaction per batch); a process with live
subscribers reads the rows after the last one it saw, one primary-key range scan every
`POLL_S` on SQLite, so another process's change reaches its subscribers within about that long.
On PostgreSQL each append also notifies (``LISTEN/NOTIFY``, delivered when it commits) and readers
read as soon as they are woken, polling only every `POLL_NOTIFIED_S` in case a notification was
lost with a connection. Writers trim rows older than `RETENTION_S` every `TRIM_EVERY` batches,
keeping the table small.

A reader never skips a row because write transactions commit one at a time (SQLite's write lock;
the PostgreSQL engine's per-database advisory lock), so ``seq`` order is commit order. Were
PostgreSQL writers ever to run in parallel, a row could commit after a later ``seq`` was read,
and the reader would need to carry the notification's payload instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from letta_mcp.models import utcnow
from letta_mcp.service.changes import Deliver
from letta_mcp.store import Store
from letta_mcp.store.change_log import CHANNEL

log = logging.getLogger(__name__)

POLL_S = 0.2
POLL_NOTIFIED_S = 5.0
RETRY_S = 1.0
RETENTION_S = 60.0
TRIM_EVERY = 100
READ_BATCH = 500


class LogRelay:
    """A `ChangeRelay` over the store's ``change_log`` table."""

    def __init__(self, store: Store, *, poll_s: float = POLL_S, notified_poll_s: float = POLL_NOTIFIED_S) -> None:
        self._store = store
        self._poll_s = poll_s
        self._notified_poll_s = notified_poll_s
        self.origin = uuid.uuid4().hex  # this process: its own rows are not read back
        self._published = 0

    async def publish(self, changes: list[str]) -> None:
        now = utcnow()
        async with self._store.write(lazy=True) as q:  # BEGIN, the rows and COMMIT: one round trip on SQLite
            await q.change_log.append(self.origin, changes, now)
            self._published += 1
            if self._published % TRIM_EVERY == 0:
                await q.change_log.trim(now - timedelta(seconds=RETENTION_S))

    async def follow(self, since: datetime, deliver: Deliver) -> None:
        cursor = _Cursor()
        while True:
            try:
                await self._follow(since, cursor, deliver)
            except asyncio.CancelledError:
                raise
            except Exception:  # a dropped connection, a restarting database: go on from the last row read
                log.exception("reading other processes' changes failed; retrying where it stopped")
                await asyncio.sleep(RETRY_S)

    async def _follow(self, since: datetime, cursor: _Cursor, deliver: Deliver) -> None:
        async with self._store.listen(CHANNEL) as woken:  # listening before the first read: nothing slips by
            if cursor.seq is None:
                async with self._store.read() as q:
                    cursor.seq = await q.change_log.last_before(since)
            while True:
                if woken is not None:
                    woken.clear()  # before the read: a commit notified during it wakes the next one
                async with self._store.read() as q:
                    rows = await q.change_log.after(cursor.seq, limit=READ_BATCH)
                for row in rows:
                    cursor.seq = row.seq
                    if row.origin != self.origin:
                        await deliver(row.change)
                if len(rows) == READ_BATCH:
                    continue
                if woken is None:
                    await asyncio.sleep(self._poll_s)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), self._notified_poll_s)


@dataclass
class _Cursor:
    """The ``seq`` of the last row a follower read (None until it knows where to start)."""

    seq: int | None = None
