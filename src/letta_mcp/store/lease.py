"""Per-agent turn leases that work across processes sharing one data directory.

Claude Desktop and an IDE each run their own stdio server on the same files, so "one turn at a
time per agent, in arrival order" cannot rest on an in-process lock. Each turn takes a *ticket*
(a row in ``lease_tickets``) when it arrives; it runs when its ticket is the agent's lowest live
one. A ticket is live while its process heartbeats (``processes.heartbeat_at``), so a process
killed mid-turn blocks the agent for at most the TTL, never forever.

Within a process only the oldest local waiter of an agent polls the database; the others wait on
a local condition, so a queue of many turns costs one poll at a time.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from letta_mcp.models import utcnow
from letta_mcp.store.codec import ts
from letta_mcp.store.sqlite import Queries, Store

log = logging.getLogger(__name__)

_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.1


def new_holder() -> str:
    """An identity for this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseManager:
    """Tickets, heartbeats and the wait for a turn. One per process, started with `start()`."""

    def __init__(self, store: Store, *, ttl_s: float = 15.0, holder: str | None = None) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.holder = holder or new_holder()
        self._local: dict[str, list[int]] = {}  # agent id -> this process's tickets, oldest first
        self._head: dict[int, asyncio.Event] = {}  # ticket -> set when it heads its agent's local queue
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register this process and start heartbeating (every third of the TTL)."""
        async with self.store.write() as q:
            await q.conn.execute(
                "INSERT OR REPLACE INTO processes (holder, pid, host, started_at, heartbeat_at)"
                " VALUES (:holder, :pid, :host, :started, :now)",
                {"holder": self.holder, "pid": os.getpid(), "host": socket.gethostname(),
                 "started": ts(utcnow()), "now": time.time()},
            )
        await self.sweep()
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="letta-mcp-heartbeat")

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await self._heartbeat
        async with self.store.write() as q:
            await q.conn.execute("DELETE FROM lease_tickets WHERE holder = :h", {"h": self.holder})
            await q.conn.execute("DELETE FROM processes WHERE holder = :h", {"h": self.holder})

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                async with self.store.write() as q:
                    await q.conn.execute(
                        "UPDATE processes SET heartbeat_at = :now WHERE holder = :h",
                        {"now": time.time(), "h": self.holder},
                    )
                await self.sweep()
            except Exception:  # a busy database must not kill the heartbeat
                log.exception("lease heartbeat failed")

    async def sweep(self) -> int:
        """Clear up after dead processes: their runs become ``interrupted``, their tickets go.

        A process is dead when its heartbeat is older than the TTL, or at once when it ran on this
        host and its pid is gone (so a restart after a crash need not wait for the TTL).
        Returns the number of runs marked interrupted.
        """
        async with self.store.write() as q:
            async with q.conn.execute("SELECT holder, pid, host, heartbeat_at FROM processes") as cur:
                rows = await cur.fetchall()
            host, cutoff = socket.gethostname(), time.time() - self.ttl_s
            dead = [
                r["holder"] for r in rows
                if r["holder"] != self.holder
                and (r["heartbeat_at"] < cutoff or (r["host"] == host and not _pid_alive(r["pid"])))
            ]
            interrupted = await q.runs.mark_interrupted(dead)
            for holder in dead:
                await q.conn.execute("DELETE FROM lease_tickets WHERE holder = :h", {"h": holder})
                await q.conn.execute("DELETE FROM processes WHERE holder = :h", {"h": holder})
            # Tickets whose process row is gone entirely (e.g. deleted above by another sweeper).
            await q.conn.execute("DELETE FROM lease_tickets WHERE holder NOT IN (SELECT holder FROM processes)")
        if interrupted:
            log.warning("Marked %d run(s) of stopped server processes as interrupted", interrupted)
        return interrupted

    def live_holders_sql(self) -> str:
        """SQL for the holders alive now (parameter ``:alive`` = now - TTL)."""
        return "SELECT holder FROM processes WHERE heartbeat_at >= :alive"

    async def take_ticket(self, q: Queries, agent_id: str) -> int:
        """Insert a ticket inside the caller's write transaction; `register` it once committed."""
        cur = await q.conn.execute(
            "INSERT INTO lease_tickets (agent_id, holder, created_at) VALUES (:a, :h, :now)",
            {"a": agent_id, "h": self.holder, "now": time.time()},
        )
        return int(cur.lastrowid or 0)

    def register(self, agent_id: str, ticket: int) -> None:
        """Queue a committed ticket locally. Synchronous on purpose: no cancellation can fall
        between a committed ticket and its registration, which would leave it orphaned."""
        queue = self._local.setdefault(agent_id, [])
        # Sorted, not appended: concurrent turns may register in another order than their tickets.
        bisect.insort(queue, ticket)
        self._head[ticket] = asyncio.Event()
        self._head[queue[0]].set()

    async def enqueue(self, agent_id: str) -> int:
        """Take and register a ticket: from now on this turn is queued after all earlier ones."""

        async def take() -> int:
            async with self.store.write() as q:
                ticket = await self.take_ticket(q, agent_id)
            self.register(agent_id, ticket)
            return ticket

        return await asyncio.shield(take())

    async def wait_turn(self, agent_id: str, ticket: int) -> None:
        """Return when ``ticket`` is the agent's lowest live ticket.

        Only the local head polls the database (other processes' tickets); the rest wait for
        their local predecessors to release.
        """
        await self._head[ticket].wait()
        delay = _POLL_MIN_S
        while True:
            async with self.store.read() as q, q.conn.execute(
                "SELECT MIN(ticket) FROM lease_tickets WHERE agent_id = :a AND holder IN ("
                + self.live_holders_sql() + ")",
                {"a": agent_id, "alive": time.time() - self.ttl_s},
            ) as cur:
                row = await cur.fetchone()
            if row is None or row[0] is None or int(row[0]) >= ticket:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)

    async def release(self, agent_id: str, ticket: int) -> None:
        try:
            async with self.store.write() as q:
                await q.conn.execute("DELETE FROM lease_tickets WHERE ticket = :t", {"t": ticket})
        finally:
            queue = self._local[agent_id]
            queue.remove(ticket)
            del self._head[ticket]
            if queue:
                self._head[queue[0]].set()
            else:
                del self._local[agent_id]

    @asynccontextmanager
    async def hold(self, agent_id: str, ticket: int | None = None) -> AsyncIterator[int]:
        """Run the body as the agent's only turn; ``ticket`` from an earlier `enqueue`, or a new one."""
        if ticket is None:
            ticket = await self.enqueue(agent_id)
        try:
            await self.wait_turn(agent_id, ticket)
            yield ticket
        finally:
            await asyncio.shield(self.release(agent_id, ticket))


def _pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host (POSIX only; elsewhere assume alive and
    let the heartbeat TTL decide — on Windows ``os.kill`` would terminate the process)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
