"""Change events: what the service committed, for live views to refetch.

The service announces each committed change (a block edit, a finished turn, a reconfigured agent)
to the listeners registered with `AgentService.on_change`; server/ turns them into MCP
resource-updated notifications. The service never imports ``mcp``: this feed is the seam.

Events are cues, not payloads, and are delivered after the commit, at most once, in-process only
(another process sharing the data directory does not hear them). A listener that raises is logged
and skipped so one broken subscriber cannot fail the caller's request. Listeners are awaited in the
request that made the change, so they must only enqueue and return: anything that can wait (sending
to a client) happens in the listener's own task (`letta_mcp.server.live` keeps one per connection).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


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


ChangeListener = Callable[[Change], Awaitable[None]]


class ChangeFeed:
    """Fan-out of `Change` events to async listeners, in registration order."""

    def __init__(self) -> None:
        self._listeners: dict[object, ChangeListener] = {}

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Register ``listener``; returns an idempotent unsubscribe callable."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def emit(self, change: Change) -> None:
        for listener in list(self._listeners.values()):
            try:
                await listener(change)
            except Exception:  # a subscriber's failure must not fail the committed request
                log.exception("change listener failed for %r", change)
