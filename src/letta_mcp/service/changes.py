"""Change events: what the service committed, for live views to refetch.

The service announces each committed change (a block edit, a finished turn, a reconfigured agent)
to the listeners registered with `AgentService.on_change`; server/ turns them into MCP
resource-updated notifications. The service never imports ``mcp``: this feed is the seam.

Events are cues, not payloads, delivered after the commit, at most once. A listener that raises is
logged and skipped so one broken subscriber cannot fail the caller's request. Listeners are awaited
in the request that made the change (or in the relay's reading task), so they must only enqueue and
return: anything that can wait (sending to a client) happens in the listener's own task
(`letta_mcp.server.live` keeps one per connection).

Other processes sharing the database hear of the change through a `ChangeRelay` (see
`letta_mcp.service.change_relay`; on PostgreSQL it can be ``LISTEN/NOTIFY``): every change is handed to
it in the background, batched, after the local listeners ran, so the request never waits for it;
other processes' changes are read only while something here follows them (`ChangeFeed.follow`, held
by each live subscription), so a process nobody subscribes to reads nothing. Being cues, a change
whose process dies before handing it on is lost, never replayed: subscribers refetch on the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from letta_mcp.models import utcnow

log = logging.getLogger(__name__)

# How long `ChangeFeed.close` waits for the last changes to reach the relay.
CLOSE_GRACE_S = 2.0


@dataclass(frozen=True)
class Change:
    """One committed change, owned by ``owner`` (only that principal and full-access ones may hear it)."""

    owner: str
    agent_id: str | None = None
    agent: bool = False  # the agent was created, reconfigured or deleted
    blocks: tuple[str, ...] = ()  # labels of the agent's blocks whose text or settings changed
    messages: bool = False  # messages were appended to the agent's history
    run_id: str | None = None  # a run that started or ended
    task_id: str | None = None  # a tool task (`letta_mcp.models.ToolTask`) that finished
    templates: bool = False  # the owner's templates changed

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Change:
        """Raises ValueError (or TypeError) for text that is not a change this version knows."""
        fields = json.loads(text)
        return cls(**{**fields, "blocks": tuple(fields.get("blocks", ()))})


ChangeListener = Callable[[Change], Awaitable[None]]
Deliver = Callable[[str], Awaitable[None]]


class ChangeRelay(Protocol):
    """Carries changes (as `Change.to_json` text) between the processes sharing one database."""

    async def publish(self, changes: list[str]) -> None:
        """Hand this process's changes to the other processes."""
        ...

    async def follow(self, since: datetime, deliver: Deliver) -> None:
        """Call ``deliver`` with each change other processes committed from ``since`` on, in order,
        until cancelled."""
        ...


class ChangeFeed:
    """Fan-out of `Change` events to async listeners, in registration order, across processes when
    given a ``relay``."""

    def __init__(self, relay: ChangeRelay | None = None) -> None:
        self._listeners: dict[object, ChangeListener] = {}
        self._relay = relay
        self._outbox: list[str] = []
        self._sent = asyncio.Event()  # set while the outbox is empty
        self._sent.set()
        self._publisher: asyncio.Task[None] | None = None
        self._followers = 0
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Register ``listener``; returns an idempotent unsubscribe callable."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def emit(self, change: Change) -> None:
        """Announce a change this process committed: to the listeners here, then (in the background)
        to the other processes."""
        await self._deliver(change)
        if self._relay is not None and not self._closed:
            self._outbox.append(change.to_json())
            self._sent.clear()
            if self._publisher is None or self._publisher.done():
                self._publisher = asyncio.get_running_loop().create_task(self._publish(), name="letta-mcp-changes-out")

    def follow(self) -> Callable[[], None]:
        """Also hear other processes' changes until the returned (idempotent) callable is called.

        Held by each live subscription: the relay is read while at least one is held, from the
        moment the first was taken."""
        self._followers += 1
        if self._followers == 1 and self._relay is not None and not self._closed:
            since = utcnow()
            self._reader = asyncio.get_running_loop().create_task(self._read(since), name="letta-mcp-changes-in")
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._followers -= 1
            if self._followers == 0 and self._reader is not None:
                self._reader.cancel()
                self._reader = None

        return release

    async def flushed(self) -> None:
        """Return once every change emitted so far was handed to the relay (or failed to be)."""
        await self._sent.wait()

    async def close(self) -> None:
        """Hand the changes still waiting to the relay (briefly) and stop reading it."""
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._publisher is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flushed(), CLOSE_GRACE_S)
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher

    async def _deliver(self, change: Change) -> None:
        for listener in list(self._listeners.values()):
            try:
                await listener(change)
            except Exception:  # a subscriber's failure must not fail the committed request
                log.exception("change listener failed for %r", change)

    async def _publish(self) -> None:
        assert self._relay is not None
        while self._outbox:
            batch, self._outbox = self._outbox, []  # what piled up meanwhile goes in one write
            try:
                await self._relay.publish(batch)
            except Exception:  # cues: other processes miss these, and refetch on the next
                log.exception("could not hand %d change(s) to other processes", len(batch))
        self._sent.set()

    async def _read(self, since: datetime) -> None:
        assert self._relay is not None

        async def deliver(text: str) -> None:
            try:
                change = Change.from_json(text)
            except (ValueError, TypeError):  # written by another version of letta-mcp
                log.warning("skipping a change this version cannot read: %.200s", text)
                return
            await self._deliver(change)

        while True:
            try:
                await self._relay.follow(since, deliver)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy or briefly unreachable database: try again, from now
                log.exception("reading other processes' changes failed; retrying")
                await asyncio.sleep(1.0)
                since = utcnow()
