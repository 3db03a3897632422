"""Live events for the inspector: the service's change feed (and run steps) as server-sent events.

Each open page holds one stream. A stream belongs to the principal that opened it and only hears
of agents that principal may see (optionally one agent only). Events are cues to refetch, never
data, so nothing private travels in them beyond ids and labels the principal can read anyway.

Bounded on every side: a stream buffers at most `QUEUE_SIZE` events (a page that stops reading
gets one ``resync`` cue once it catches up, instead of an unbounded backlog); there are at most
`MAX_STREAMS` streams, `MAX_STREAMS_PER_PRINCIPAL` per principal. Delivery never blocks the
service: listeners only enqueue.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from letta_mcp.service import AgentService, Change, Principal

QUEUE_SIZE = 256
MAX_STREAMS = 256
MAX_STREAMS_PER_PRINCIPAL = 16
KEEPALIVE_S = 15.0


class TooManyStreamsError(Exception):
    """The stream limit is reached; the message says which one."""


@dataclass
class _Stream:
    principal: Principal
    agent_id: str | None
    send: MemoryObjectSendStream[dict[str, Any]]
    overflowed: bool = False


@dataclass
class EventHub:
    """Fans service changes out to the open inspector streams."""

    streams: dict[object, _Stream] = field(default_factory=dict)
    # Starts hearing other processes' changes while a page is open (`AgentService.follow_changes`).
    follow: Callable[[], Callable[[], None]] | None = None

    @classmethod
    def for_service(cls, service: AgentService) -> EventHub:
        """A hub listening to ``service`` for as long as the service is open."""
        hub = cls(follow=service.follow_changes)
        service.on_change(hub.on_change)
        return hub

    async def on_change(self, change: Change) -> None:
        event = {
            "type": "change",
            "agent_id": change.agent_id,
            "agent": change.agent,
            "blocks": list(change.blocks),
            "messages": change.messages,
            "run_id": change.run_id,
            "templates": change.templates,
        }
        self.publish(event, owner=change.owner, agent_id=change.agent_id)

    def publish_step(self, owner: str, agent_id: str, run_id: str, step: int) -> None:
        """A run committed step ``step`` (runs started from the inspector report each step)."""
        event = {"type": "step", "agent_id": agent_id, "run_id": run_id, "step": step}
        self.publish(event, owner=owner, agent_id=agent_id)

    def publish(self, event: dict[str, Any], *, owner: str, agent_id: str | None) -> None:
        for stream in list(self.streams.values()):
            if not stream.principal.may_see(owner):
                continue
            if stream.agent_id is not None and agent_id is not None and stream.agent_id != agent_id:
                continue
            try:
                stream.send.send_nowait(event)
            except anyio.WouldBlock:
                stream.overflowed = True  # the page is behind: it gets one resync cue instead
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the page went away; its stream is being removed

    def open(self, principal: Principal, agent_id: str | None) -> AsyncIterator[bytes]:
        """The SSE byte stream for one page; raises `TooManyStreamsError` when a limit is reached."""
        if len(self.streams) >= MAX_STREAMS:
            raise TooManyStreamsError(f"The server has {MAX_STREAMS} live inspector streams open; try again later.")
        mine = sum(1 for s in self.streams.values() if s.principal == principal)
        if mine >= MAX_STREAMS_PER_PRINCIPAL:
            raise TooManyStreamsError(
                f"{principal.name} already has {MAX_STREAMS_PER_PRINCIPAL} live inspector pages open; close one."
            )
        return self._serve(principal, agent_id)

    async def _serve(self, principal: Principal, agent_id: str | None) -> AsyncIterator[bytes]:
        # Registered only once the response starts streaming, so a request that goes away before
        # that leaves nothing behind (the limits above may overshoot by the opens in flight).
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE_SIZE)
        key = object()
        self.streams[key] = stream = _Stream(principal, agent_id, send)
        stop_following = self.follow() if self.follow is not None else None
        try:
            yield _frame({"type": "ready"})
            while True:
                event: dict[str, Any] | None = None
                with anyio.move_on_after(KEEPALIVE_S):
                    event = await receive.receive()
                if event is None:
                    yield b": keep-alive\n\n"  # proxies close idle connections
                    continue
                if stream.overflowed and receive.statistics().current_buffer_used == 0:
                    stream.overflowed = False
                    yield _frame({"type": "resync"})
                yield _frame(event)
        finally:
            if stop_following is not None:
                stop_following()
            self.streams.pop(key, None)
            stream.send.close()
            receive.close()


def _frame(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()
