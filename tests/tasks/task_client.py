"""The client side of the Tasks extension, as small as a client could write it with the SDK.

`TasksClient` declares ``io.modelcontextprotocol/tasks``, claims ``resultType: "task"`` and
resolves a task by polling ``tasks/get`` (polling is the protocol: the server names the interval),
answering ``input_required`` through ``answer`` with ``tasks/update``. It also records every
``notifications/tasks`` it receives; `listen_tasks` opens the ``subscriptions/listen`` stream that
asks for them (the SDK's ``listen()`` knows only the core kinds). The helpers send the extension's
requests directly, for tests that drive a task by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, NotificationBinding, ResultClaim
from mcp.client.session import ClientSession
from mcp.types import (
    CallToolResult,
    Request,
    RequestParams,
    Result,
    SubscriptionFilter,
    SubscriptionsListenRequest,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
)

TASKS = "io.modelcontextprotocol/tasks"
# A small Letta Agent File, for import_agent as a task.
AGENT_FILES = Path(__file__).parent.parent / "fixtures" / "agent_files"
AGENT_FILE = AGENT_FILES / "letta_test_basic_agent_with_blocks_tools_messages_v2.af"


class TaskParams(RequestParams):
    task_id: str


class UpdateTaskParams(TaskParams):
    input_responses: dict[str, Any]


class GetTask(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"  # SEP-2663: tasks/* carry the task id in the Mcp-Name header


class UpdateTask(Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class CancelTask(Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class CreateTaskResult(Result):
    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class TaskState(Result):
    """A ``tasks/get`` answer (a DetailedTask)."""

    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, Any] | None = None


def ended(state: TaskState) -> bool:
    return state.status in ("completed", "failed", "cancelled")


class TaskEndedError(Exception):
    """The task ended without a result (failed or cancelled)."""

    def __init__(self, state: TaskState) -> None:
        super().__init__(f"task {state.task_id} ended {state.status}: {state.status_message}")
        self.state = state


Answer = Callable[[TaskState], Awaitable[dict[str, Any]]]


async def get_task(session: ClientSession, task_id: str) -> TaskState:
    return await session.send_request(GetTask(params=TaskParams(task_id=task_id)), TaskState)


async def update_task(session: ClientSession, task_id: str, responses: dict[str, Any]) -> None:
    await session.send_request(UpdateTask(params=UpdateTaskParams(task_id=task_id, input_responses=responses)), Result)


async def cancel_task(session: ClientSession, task_id: str) -> None:
    await session.send_request(CancelTask(params=TaskParams(task_id=task_id)), Result)


async def poll(session: ClientSession, task_id: str, until: Callable[[TaskState], bool]) -> TaskState:
    """Poll ``tasks/get`` at the server's interval until ``until`` holds or the task ends."""
    while True:
        state = await get_task(session, task_id)
        if until(state) or ended(state):
            return state
        await anyio.sleep((state.poll_interval_ms or 100) / 1000)


class TasksClient(ClientExtension):
    identifier = TASKS

    def __init__(self, answer: Answer | None = None) -> None:
        self.created: list[CreateTaskResult] = []  # every task the server made, in order
        self.seen: list[TaskState] = []  # every tasks/get answer, in order
        self.notified: list[TaskState] = []  # every notifications/tasks, in order of arrival
        self._answer = answer
        self._arrived = anyio.Event()

    def claims(self) -> tuple[ResultClaim[CreateTaskResult], ...]:
        return (ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve),)

    def notifications(self) -> tuple[NotificationBinding[TaskState], ...]:
        return (NotificationBinding(method="notifications/tasks", params_type=TaskState, handler=self._notified),)

    async def _notified(self, state: TaskState) -> None:
        self.notified.append(state)
        self._arrived.set()
        self._arrived = anyio.Event()

    async def wait_notified(self, task_id: str, until: Callable[[TaskState], bool]) -> list[TaskState]:
        """Wait for a notification about ``task_id`` for which ``until`` holds; the task's notifications so far."""
        while True:
            arrived = self._arrived
            about = [n for n in self.notified if n.task_id == task_id]
            if any(until(n) for n in about):
                return about
            await arrived.wait()

    async def _resolve(self, created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created)
        answered: set[str] = set()
        while True:
            state = await poll(
                ctx.session,
                created.task_id,
                lambda s, answered=answered: (
                    s.status == "input_required" and bool(set(s.input_requests or {}) - answered)
                ),
            )
            self.seen.append(state)
            if state.status == "completed":
                assert state.result is not None
                return CallToolResult.model_validate(state.result)
            if state.status != "input_required" or self._answer is None:
                raise TaskEndedError(state)
            responses = await self._answer(state)
            answered |= set(state.input_requests or {})
            await update_task(ctx.session, created.task_id, responses)


def listen_request(task_ids: list[str]) -> SubscriptionsListenRequest:
    """``subscriptions/listen`` asking for ``notifications/tasks`` about ``task_ids``."""
    notifications = SubscriptionFilter.model_validate({"taskIds": task_ids})
    return SubscriptionsListenRequest(params=SubscriptionsListenRequestParams(notifications=notifications))


@asynccontextmanager
async def listen_tasks(session: ClientSession, task_ids: list[str]) -> AsyncIterator[None]:
    """A `listen_request` stream, open until the block ends (the request's response is the stream;
    leaving cancels it)."""
    async with anyio.create_task_group() as streams:
        streams.start_soon(session.send_request, listen_request(task_ids), SubscriptionsListenResult)
        yield
        streams.cancel_scope.cancel()
