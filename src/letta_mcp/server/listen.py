"""``subscriptions/listen``: the core change events, and ``notifications/tasks`` (the Tasks extension).

A 2026-07-28 client opens one listen stream per filter; SEP-2663 adds ``taskIds`` to that filter
for task status notifications. The SDK's `ListenHandler` knows the core kinds only (it leaves
``taskIds`` out of its acknowledgement), so this handler takes its place and serves both on one
stream, with the SDK's event vocabulary for the core kinds:

- core events come from the `SubscriptionBus` (`server.live`), filtered as the SDK filters them;
- a task is watched only for a client that declared the extension (else -32021, as the spec
  requires) and only if the subscriber may see it: an unknown or another principal's id is left
  out of the acknowledgement and never fires, so existence never leaks;
- the service's change feed names the run that moved on (a committed step, a pause for approval, a
  resume, its end) or the tool task that finished; the stream then reads the task as ``tasks/get``
  would show it and sends that, unless it equals the last one sent. Right after the
  acknowledgement each watched task is sent as it is now, so a change between the
  ``CreateTaskResult`` and the subscription is not missed.

Listeners only enqueue; the reads and sends happen in the stream's own handler task, under the
subscriber's principal. Delivery is best-effort and never replayed, like the core events.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import require_client_extension
from mcp.server.subscriptions import SUBSCRIPTION_ID_META_KEY, ServerEvent, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import event_matches, event_to_notification
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    Notification,
    NotificationParams,
    SubscriptionFilter,
    SubscriptionsAcknowledgedNotification,
    SubscriptionsAcknowledgedNotificationParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
)
from pydantic import ConfigDict

from letta_mcp.server.tasks import TASKS
from letta_mcp.service import AgentService, Change

log = logging.getLogger(__name__)

MAX_TASKS_PER_STREAM = 1000
TERMINAL = frozenset({"completed", "failed", "cancelled"})

# The task as tasks/get shows it (a DetailedTask), or None when the subscriber may not see it.
TaskReader = Callable[[str], Awaitable[dict[str, Any] | None]]


class TaskStatusParams(NotificationParams):
    model_config = ConfigDict(extra="allow")  # the DetailedTask's fields


class TaskStatusNotification(Notification[TaskStatusParams, Literal["notifications/tasks"]]):
    method: Literal["notifications/tasks"] = "notifications/tasks"
    params: TaskStatusParams


@dataclass(frozen=True)
class TaskChanged:
    task_id: str


class ListenHandler:
    """Serves ``subscriptions/listen``: one call is one stream, until the client goes away."""

    def __init__(
        self,
        bus: SubscriptionBus,
        service: AgentService,
        read_task: TaskReader,
        *,
        max_subscriptions: int = 1024,
        max_buffered_events: int = 1024,
    ) -> None:
        self._bus = bus
        self._service = service
        self._read_task = read_task
        self._max_subscriptions = max_subscriptions
        self._max_buffered_events = max_buffered_events
        self._streams = 0

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(INVALID_REQUEST, "subscriptions/listen requires a request id")
        if self._streams >= self._max_subscriptions:
            raise MCPError(INTERNAL_ERROR, "Subscription limit reached")
        requested = requested_task_ids(params.notifications)
        if requested:
            require_client_extension(ctx, TASKS)
        watched = [task_id for task_id in requested if await self._read(task_id) is not None]
        honored = honored_filter(params.notifications, watched)
        honored_uris = frozenset(honored.resource_subscriptions or ())
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}

        # Buffered so publishers never wait for this client; a stream whose backlog fills is ended
        # (the client re-listens and refetches), as the SDK's handler does.
        send, recv = anyio.create_memory_object_stream[ServerEvent | TaskChanged](self._max_buffered_events)
        pending: set[str] = set()  # tasks queued and not yet read: a burst of steps is read once

        def offer(item: ServerEvent | TaskChanged) -> None:
            try:
                send.send_nowait(item)
            except anyio.ClosedResourceError:
                pass
            except anyio.WouldBlock:
                log.warning("listen stream %r backlog full; ending the stream", subscription_id)
                send.close()

        def deliver(event: ServerEvent) -> None:
            if event_matches(honored, honored_uris, event):
                offer(event)

        def task_changed(task_id: str) -> None:
            if task_id not in pending:
                pending.add(task_id)
                offer(TaskChanged(task_id))

        async def on_change(change: Change) -> None:
            for task_id in (change.run_id, change.task_id):  # a run's task, or a tool task
                if task_id is not None and task_id in watching:
                    task_changed(task_id)

        watching = set(watched)
        # Subscribed before the acknowledgement, so nothing published while it is written is lost.
        unsubscribe_bus = self._bus.subscribe(deliver)
        unsubscribe_changes = self._service.on_change(on_change) if watching else None
        for task_id in watched:
            task_changed(task_id)  # as it is now
        self._streams += 1
        try:
            await ctx.session.send_notification(
                SubscriptionsAcknowledgedNotification(
                    params=SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
                ),
                related_request_id=subscription_id,
            )
            last_sent: dict[str, dict[str, Any]] = {}
            async for item in recv:
                if isinstance(item, TaskChanged):
                    pending.discard(item.task_id)
                    task = await self._task_update(item.task_id, last_sent)
                    if task is None:
                        continue
                    if task["status"] in TERMINAL:
                        watching.discard(item.task_id)  # nothing follows a terminal status
                    notification: Any = TaskStatusNotification(
                        params=TaskStatusParams.model_validate({**task, "_meta": meta})
                    )
                else:
                    notification = event_to_notification(item, meta)
                await ctx.session.send_notification(notification, related_request_id=subscription_id)
        finally:
            self._streams -= 1
            unsubscribe_bus()
            if unsubscribe_changes is not None:
                unsubscribe_changes()
            send.close()
            recv.close()
        return SubscriptionsListenResult(_meta=meta)

    async def _read(self, task_id: str) -> dict[str, Any] | None:
        # Shielded: a stream is cancelled whenever its client leaves, and a store read cut short can
        # leave a statement open on the shared reader connection, so every later read of this
        # process would see a stale snapshot.
        with anyio.CancelScope(shield=True):
            return await self._read_task(task_id)

    async def _task_update(self, task_id: str, last_sent: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """The task as it is now, unless the subscriber was sent exactly this already (or it is gone)."""
        try:
            task = await self._read(task_id)
        except Exception:  # a failed read costs this one notification, not the stream
            log.warning("Could not read task %s for its subscribers", task_id, exc_info=True)
            return None
        if task is None or last_sent.get(task_id) == task:
            return None
        last_sent[task_id] = task
        return task


def requested_task_ids(requested: SubscriptionFilter) -> list[str]:
    """The ``taskIds`` of a listen filter (an extension key, so not a typed field of the SDK's)."""
    task_ids = (requested.model_extra or {}).get("taskIds")
    if task_ids is None:
        return []
    if not isinstance(task_ids, list) or not all(isinstance(t, str) for t in task_ids):
        raise MCPError(INVALID_PARAMS, "notifications.taskIds must be a list of task ids (strings from tools/call).")
    if len(task_ids) > MAX_TASKS_PER_STREAM:
        raise MCPError(
            INVALID_PARAMS, f"notifications.taskIds lists over {MAX_TASKS_PER_STREAM} tasks; open more streams."
        )
    return list(dict.fromkeys(task_ids))


def honored_filter(requested: SubscriptionFilter, task_ids: list[str]) -> SubscriptionFilter:
    """What the stream will deliver, for the acknowledgement: every core kind asked for (whether one
    fires depends on what is published), and the tasks the subscriber may see."""
    honored = {
        "toolsListChanged": requested.tools_list_changed or None,
        "promptsListChanged": requested.prompts_list_changed or None,
        "resourcesListChanged": requested.resources_list_changed or None,
        "resourceSubscriptions": requested.resource_subscriptions or None,
        "taskIds": task_ids or None,
    }
    return SubscriptionFilter.model_validate({k: v for k, v in honored.items() if v is not None})
