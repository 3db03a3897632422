"""Live resources: the service's change events become MCP resource-updated notifications.

The service announces what it committed (`letta_mcp.service.changes.Change`); `LiveResources` maps each
change to the resource URIs whose content it altered and tells every subscriber allowed to see the
agent, in both protocol eras the SDK serves:

- 2026-07-28 clients subscribe with ``subscriptions/listen``; the SDK's listen handler reads events
  from the `OwnerScopedBus` passed to ``MCPServer(subscriptions=...)``.
- Handshake-era clients (2025-11-25 and before) use ``resources/subscribe``; those subscriptions
  live in `LegacySubscriptions` (see `server.capabilities` for how the methods are served).

Subscribers only hear of their own principal's agents (full-access principals hear everything),
so a subscription to another principal's URI is accepted but never fires: existence never leaks.
Notifications are cues to refetch, delivered best-effort and never replayed. Changes made by
other processes sharing the database arrive too: each live subscription (a listen stream, a legacy
connection with subscriptions) follows them for as long as it lasts (`AgentService.follow_changes`).

Delivery never delays or fails the request that made the change: the bus's listeners only enqueue,
and each handshake-era connection has its own delivery task fed by a set of pending URIs (bounded
by the URIs it watches; a URI changed twice before it was sent is sent once). A send that raises
or stalls (up to `SEND_TIMEOUT_S`) affects only its own connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
from mcp.server.subscriptions import ResourceUpdated, ServerEvent

from letta_mcp.service import AgentService, Change, Principal, current_principal

log = logging.getLogger(__name__)

MAX_URIS_PER_CONNECTION = 1000
SEND_TIMEOUT_S = 2.0

# Starts hearing other processes' changes; the callable it returns stops (`AgentService.follow_changes`).
Follow = Callable[[], Callable[[], None]]


def uris_for(change: Change) -> list[str]:
    """The resource URIs whose content ``change`` altered."""
    uris: list[str] = []
    if change.templates:
        uris.append("letta://templates")
    if change.agent_id is not None:
        agent = f"letta://agents/{change.agent_id}"
        if change.agent:
            uris.append("letta://agents")
        # The agent view shows blocks and message counts; the memory text shows blocks and the
        # recall count; the context view shows all of it.
        uris += [agent, f"{agent}/memory", f"{agent}/context"]
        uris += [f"{agent}/blocks/{label}" for label in change.blocks]
        if change.messages:
            uris.append(f"{agent}/messages")
    if change.run_id is not None:
        uris.append(f"letta://runs/{change.run_id}")
    return list(dict.fromkeys(uris))


class OwnerScopedBus:
    """A `SubscriptionBus` that delivers agent events only to listeners allowed to see the agent.

    The SDK's listen handler calls `subscribe` while serving the client's ``subscriptions/listen``
    request, inside our per-request principal scope, so each listener is tagged with its principal.
    """

    def __init__(self, follow: Follow) -> None:
        self._listeners: dict[object, tuple[Principal, Callable[[ServerEvent], None]]] = {}
        self._follow = follow

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (current_principal(), listener)
        stop_following = self._follow()

        def unsubscribe() -> None:
            self._listeners.pop(token, None)
            stop_following()

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        """Deliver an event that concerns no one agent (e.g. the tool list changed) to everyone."""
        await self._deliver(event, owner=None)

    async def publish_owned(self, event: ServerEvent, owner: str) -> None:
        """Deliver an event about ``owner``'s objects to the listeners allowed to see them."""
        await self._deliver(event, owner=owner)

    async def _deliver(self, event: ServerEvent, *, owner: str | None) -> None:
        for principal, listener in list(self._listeners.values()):
            if owner is not None and not principal.may_see(owner):
                continue
            try:
                listener(event)  # the SDK's listeners only enqueue; they never block
            except Exception:
                log.exception("subscription listener raised; continuing")
        await anyio.lowlevel.checkpoint()


Send = Callable[[str], Awaitable[None]]


@dataclass
class _Watcher:
    """One connection's subscriptions and its delivery queue (the URIs changed but not yet sent)."""

    principal: Principal
    send: Send
    stop_following: Callable[[], None]
    uris: set[str] = field(default_factory=set)
    pending: dict[str, None] = field(default_factory=dict)  # ordered set, at most len(uris)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def offer(self, uri: str) -> None:
        self.pending[uri] = None
        self.wake.set()
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._deliver(), name="letta-mcp-notify")

    async def _deliver(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending:
                uri = next(iter(self.pending))
                del self.pending[uri]
                try:
                    with anyio.move_on_after(SEND_TIMEOUT_S):
                        await self.send(uri)
                except Exception:  # a closed or broken connection: its own loss only
                    log.warning("Could not notify a subscriber of %s", uri, exc_info=True)


class LegacySubscriptions:
    """``resources/subscribe`` state of handshake-era connections: per connection, the URIs it watches.

    Connections are opaque keys; `server.capabilities` drops a connection's entry when it closes.
    """

    def __init__(self, follow: Follow) -> None:
        self._watchers: dict[object, _Watcher] = {}
        self._follow = follow

    def add(self, connection: object, send: Send, principal: Principal, uri: str) -> bool:
        """Watch ``uri`` on ``connection``; True when this is the connection's first subscription."""
        watcher = self._watchers.get(connection)
        first = watcher is None
        if watcher is None:
            watcher = self._watchers[connection] = _Watcher(principal, send, self._follow())
        if uri not in watcher.uris and len(watcher.uris) >= MAX_URIS_PER_CONNECTION:
            raise ValueError(f"A connection may watch at most {MAX_URIS_PER_CONNECTION} resources.")
        watcher.uris.add(uri)
        return first

    def remove(self, connection: object, uri: str) -> None:
        watcher = self._watchers.get(connection)
        if watcher is not None:
            watcher.uris.discard(uri)
            watcher.pending.pop(uri, None)

    def drop(self, connection: object) -> None:
        watcher = self._watchers.pop(connection, None)
        if watcher is None:
            return
        watcher.stop_following()
        if watcher.task is not None:
            watcher.task.cancel()

    def notify(self, uri: str, owner: str) -> None:
        """Queue ``uri`` for every connection watching it that may see ``owner``'s objects; never waits."""
        for watcher in list(self._watchers.values()):
            if uri in watcher.uris and watcher.principal.may_see(owner):
                watcher.offer(uri)


class LiveResources:
    """Listens to one service's changes and notifies both eras' subscribers."""

    def __init__(self, service: AgentService) -> None:
        self.bus = OwnerScopedBus(service.follow_changes)
        self.legacy = LegacySubscriptions(service.follow_changes)
        self._unsubscribe = service.on_change(self._on_change)

    async def _on_change(self, change: Change) -> None:
        # Both only enqueue (see the module docstring): the request that made the change never waits.
        for uri in uris_for(change):
            await self.bus.publish_owned(ResourceUpdated(uri=uri), change.owner)
            self.legacy.notify(uri, change.owner)

    def close(self) -> None:
        """Stop listening to the service (the server is being discarded)."""
        self._unsubscribe()
