"""Per-agent turn leases that work across processes sharing one data directory.

Claude Desktop and an IDE each run their own stdio server on the same files, so "one turn at a
time per agent, in arrival order" cannot rest on an in-process lock. Each turn takes a *ticket*
(a row in ``lease_tickets``, numbers never reused) when it arrives; it runs when its ticket is
the agent's lowest. Processes heartbeat (``processes.heartbeat_at``); a process that stops
heartbeating is *swept* by a live one: its tickets are deleted and its unfinished runs marked
``interrupted``, all in one transaction, so a killed process blocks an agent for about the TTL.

A swept process may not be dead, only stalled (laptop sleep, SIGSTOP, a long pause). So:

- a turn checks, first thing in each of its write transactions, that its ticket still exists
  (`Store.guarded`): once swept, the turn in flight can never commit again;
- a waiting turn whose ticket was swept gives up (its run is already ``interrupted``);
- the next heartbeat (or the next accepted message) re-registers the process, and only turns
  that take new tickets after that run — queued behind every ticket taken meanwhile.

The heartbeat has its own connection with a short busy timeout, so it never queues behind a write
transaction; when the database stays locked past that timeout the beat is skipped. Every process's
beats stall alike then, so a peer is judged dead by how far its heartbeat lags the freshest one
(the last moment the database took a beat), not by the clock alone.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from letta_mcp.models import utcnow
from letta_mcp.store.codec import ts
from letta_mcp.store.db import Db
from letta_mcp.store.errors import BusyError, LeaseLostError
from letta_mcp.store.store import Queries, SideDb, Store, WriteGuard

log = logging.getLogger(__name__)

_POLL_MIN_S = 0.005
_POLL_MAX_S = 0.1
# A beat that cannot get the write lock this fast is skipped (the next one comes a third of a TTL later).
_BEAT_BUSY_MAX_S = 1.0

_REGISTER = (
    "INSERT INTO processes (holder, pid, host, started_at, heartbeat_at) VALUES (:holder, :pid, :host, :started, :now)"
    " ON CONFLICT (holder) DO UPDATE SET pid = excluded.pid, host = excluded.host, started_at = excluded.started_at,"
    " heartbeat_at = excluded.heartbeat_at"
)


@dataclass(frozen=True)
class Adopted:
    """A queued run taken over from a dead process: its committed ticket is now this process's."""

    run_id: str
    agent_id: str
    ticket: int


def new_holder() -> str:
    """An identity for this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseManager:
    """Tickets, heartbeats, sweeps and the wait for a turn. One per process, started with `start()`."""

    def __init__(self, store: Store, *, ttl_s: float = 15.0, holder: str | None = None) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.holder = holder or new_holder()
        self._local: dict[str, list[int]] = {}  # agent id -> this process's tickets, oldest first
        self._head: dict[int, asyncio.Event] = {}  # ticket -> set when it heads its agent's local queue
        self._beats: SideDb | None = None
        self._loops: list[asyncio.Task[None]] = []
        self.on_adopted: Callable[[Adopted], None] | None = None
        """Set by the process's run executor: the sweep then adopts dead processes' queued background
        runs (their tickets kept, so their place in each agent's turn order) and hands each, with its
        ticket registered, to this callback to execute."""

    async def start(self) -> None:
        """Register this process, sweep, and start heartbeating and sweeping (every third of the TTL)."""
        self._beats = await self.store.side_connection(busy_timeout_s=min(self.ttl_s / 3, _BEAT_BUSY_MAX_S))
        async with self.store.write() as q:
            await self._register(q.db)
        await self.sweep(orphans=True)
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._every(self.beat), name="letta-mcp-heartbeat"),
            loop.create_task(self._every(self.sweep), name="letta-mcp-sweep"),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with suppress(asyncio.CancelledError):
                await task
        self._loops = []
        if self._beats is not None:
            await self._beats.close()
            self._beats = None
        async with self.store.write() as q:
            await q.db.execute("DELETE FROM lease_tickets WHERE holder = :h", {"h": self.holder})
            await q.db.execute("DELETE FROM processes WHERE holder = :h", {"h": self.holder})

    async def _every(self, job: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await job()
            except Exception:  # a busy database must not end the heartbeat or the sweeps
                log.exception("lease %s failed", job.__name__)

    async def _register(self, db: Db) -> None:
        await db.execute(
            _REGISTER,
            {
                "holder": self.holder,
                "pid": os.getpid(),
                "host": _pid_space(),
                "started": ts(utcnow()),
                "now": time.time(),
            },
        )

    async def beat(self) -> None:
        """Record that this process is alive; re-register it if it was swept meanwhile.

        On the heartbeat connection, outside `Store.write`: a write transaction of this process or
        another one delays it by at most the short busy timeout, after which the beat is skipped.
        """
        if self._beats is None:
            raise RuntimeError("LeaseManager.beat() before start()")
        try:
            beaten = await self._beats.execute(
                "UPDATE processes SET heartbeat_at = :now WHERE holder = :h", {"now": time.time(), "h": self.holder}
            )
            if not beaten:
                log.warning(
                    "This server process was taken for dead (no heartbeat for over %.0f s): its unfinished runs "
                    "were marked interrupted by another process. Re-registering.",
                    self.ttl_s,
                )
                await self._register(self._beats)
        except BusyError as e:  # locked past the busy timeout: the sweep's rule allows for it
            log.warning("lease heartbeat skipped: %s", e)

    async def sweep(self, *, orphans: bool = False) -> int:
        """Clear up after dead processes: their runs become ``interrupted``, their tickets go.

        A process is dead when its heartbeat lags the freshest heartbeat (and the clock) by more
        than the TTL, or at once when it ran on this host and its pid is gone (so a restart after
        a crash need not wait for the TTL). The periodic sweep looks first on the reader and takes
        the write lock only when someone died; ``orphans`` (at start) always also marks the runs
        no live process holds. Returns the number of runs marked interrupted.
        """
        if not orphans:
            async with self.store.read() as q:
                if not await self._dead(q):
                    return 0
        async with self.store.write() as q:
            dead = await self._dead(q)  # again: the look above was outside this transaction
            adopted = await self._adopt(q, dead) if self.on_adopted is not None else []
            interrupted = await q.runs.mark_interrupted(dead)
            for holder in dead:
                await q.db.execute("DELETE FROM lease_tickets WHERE holder = :h", {"h": holder})
                await q.db.execute("DELETE FROM processes WHERE holder = :h", {"h": holder})
            # Tickets whose process row is gone entirely (e.g. deleted above by another sweeper).
            await q.db.execute("DELETE FROM lease_tickets WHERE holder NOT IN (SELECT holder FROM processes)")
        for run in adopted:  # committed: register at once (no await), then execute
            self.register(run.agent_id, run.ticket)
            assert self.on_adopted is not None
            self.on_adopted(run)
        if adopted:
            log.warning("Took over %d queued background run(s) of stopped server processes", len(adopted))
        if interrupted:
            log.warning("Marked %d run(s) of stopped server processes as interrupted", interrupted)
        return interrupted

    async def _adopt(self, q: Queries, dead: list[str]) -> list[Adopted]:
        """Make this process the holder of the dead processes' background runs that never started
        (a run that started may have done half a turn: those are interrupted), with their tickets."""
        if not dead:
            return []
        params: dict[str, object] = {f"h{i}": h for i, h in enumerate(dead)}
        names = ", ".join(f":{k}" for k in params)
        rows = await q.db.fetchall(
            "UPDATE lease_tickets SET holder = :me WHERE holder IN (" + names + ") AND run_id IN (SELECT id FROM runs"
            " WHERE background = 1 AND status = 'created' AND step_count = 0 AND cancel_requested = 0)"
            " RETURNING ticket, agent_id, run_id",
            {**params, "me": self.holder},
        )
        adopted = sorted((Adopted(r["run_id"], r["agent_id"], int(r["ticket"])) for r in rows), key=lambda a: a.ticket)
        await q.db.executemany(
            "UPDATE runs SET holder = :me WHERE id = :id", [{"me": self.holder, "id": a.run_id} for a in adopted]
        )
        return adopted

    async def _dead(self, q: Queries) -> list[str]:
        rows = await q.db.fetchall("SELECT holder, pid, host, heartbeat_at FROM processes")
        host = _pid_space()
        cutoff = min(time.time(), max((r["heartbeat_at"] for r in rows), default=0.0)) - self.ttl_s
        return [
            r["holder"]
            for r in rows
            if r["holder"] != self.holder
            and (r["heartbeat_at"] < cutoff or (r["host"] == host and not _pid_alive(r["pid"])))
        ]

    async def take_ticket(self, q: Queries, agent_id: str, run_id: str | None = None) -> int:
        """Insert a ticket inside the caller's write transaction; `register` it once committed.

        A process that was swept and has not re-registered yet does so here, in the same
        transaction: its tickets would otherwise be swept again as a dead process's.
        """
        params = {"a": agent_id, "h": self.holder, "now": time.time(), "r": run_id}
        # One round trip when registered (the usual case); the casts type the parameters for Postgres.
        row = await q.db.fetchone(
            "INSERT INTO lease_tickets (agent_id, holder, created_at, run_id)"
            " SELECT CAST(:a AS TEXT), CAST(:h AS TEXT), CAST(:now AS DOUBLE PRECISION), CAST(:r AS TEXT)"
            " WHERE EXISTS (SELECT 1 FROM processes WHERE holder = :h) RETURNING ticket",
            params,
        )
        if row is None:
            await self._register(q.db)
            row = await q.db.fetchone(
                "INSERT INTO lease_tickets (agent_id, holder, created_at, run_id) VALUES (:a, :h, :now, :r)"
                " RETURNING ticket",
                params,
            )
        assert row is not None  # RETURNING yields the row just inserted
        return int(row[0])

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
        """Return when ``ticket`` is the agent's lowest; raise `LeaseLostError` if it was swept.

        Tickets leave only by release or by a sweep, so a dead process's ticket blocks until a
        live process sweeps it. Only the local head polls the database (other processes'
        tickets); the rest wait for their local predecessors to release.
        """
        await self._head[ticket].wait()
        delay = _POLL_MIN_S
        while True:
            async with self.store.read() as q:
                row = await q.db.fetchone(
                    "SELECT MIN(ticket), SUM(CASE WHEN ticket = :t AND holder = :h THEN 1 ELSE 0 END)"
                    " FROM lease_tickets WHERE agent_id = :a",
                    {"a": agent_id, "t": ticket, "h": self.holder},
                )
            if row is None or not row[1]:
                raise LeaseLostError(_lost(agent_id, ticket))
            if int(row[0]) == ticket:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)

    async def release(self, agent_id: str, ticket: int) -> None:
        try:
            # Unguarded: the turn's own guard would refuse deleting the ticket it checks for.
            with self.store.guarded(None):
                async with self.store.write(lazy=True) as q:  # BEGIN, DELETE and COMMIT in one round trip
                    await q.db.defer(
                        "DELETE FROM lease_tickets WHERE ticket = :t AND holder = :h", {"t": ticket, "h": self.holder}
                    )
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
        """Run the body as the agent's only turn; ``ticket`` from an earlier `enqueue`, or a new one.

        Every write transaction the body opens first checks that the ticket still exists, and
        raises `LeaseLostError` (rolling back) once this process has been swept.
        """
        if ticket is None:
            ticket = await self.enqueue(agent_id)
        try:
            await self.wait_turn(agent_id, ticket)
            with self.store.guarded(_fence(agent_id, ticket, self.holder)):
                yield ticket
        finally:
            await asyncio.shield(self.release(agent_id, ticket))


def _fence(agent_id: str, ticket: int, holder: str) -> WriteGuard:
    async def check(q: Queries) -> None:
        # One round trip: this runs in every write transaction of every turn. The holder too: a
        # ticket adopted by another process (its run taken over) is no longer this process's turn.
        row = await q.db.fetchone(
            "SELECT 1 FROM lease_tickets WHERE ticket = :t AND holder = :h", {"t": ticket, "h": holder}
        )
        if row is None:
            raise LeaseLostError(_lost(agent_id, ticket))

    return check


def _lost(agent_id: str, ticket: int) -> str:
    return (
        f"Turn ticket {ticket} of agent {agent_id} was swept: this server process missed its heartbeats for "
        "longer than the lease TTL and was taken for dead, so its run was marked interrupted and another "
        "process may be running the agent's turns. Nothing more of this turn is written."
    )


def _pid_space() -> str:
    """Where this process's pid means something: the host name, and on Linux the pid namespace.
    Containers sharing a host name (host networking, a fixed ``hostname:``) each have their own pid
    namespace: a peer's pid missing from ours says nothing about whether it runs."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux
        return socket.gethostname()
    return f"{socket.gethostname()}/pid:{namespace}"


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
