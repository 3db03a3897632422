"""The client side of the Tasks extension, as small as a client could write it with the SDK.

`TasksClient` declares ``io.modelcontextprotocol/tasks``, claims ``resultType: "task"`` and
resolves a task by polling ``tasks/get`` (polling is the protocol: the server names the interval),
answering ``input_required`` through ``answer`` with ``tasks/update``. The helpers send the
extension's requests directly, for tests that drive a task by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.types import CallToolResult, Request, RequestParams, Result

TASKS = "io.modelcontextprotocol/tasks"


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
        if until(state) or state.status in ("completed", "failed", "cancelled"):
            return state
        await anyio.sleep((state.poll_interval_ms or 100) / 1000)


class TasksClient(ClientExtension):
    identifier = TASKS

    def __init__(self, answer: Answer | None = None) -> None:
        self.created: list[CreateTaskResult] = []  # every task the server made, in order
        self.seen: list[TaskState] = []  # every tasks/get answer, in order
        self._answer = answer

    def claims(self) -> tuple[ResultClaim[CreateTaskResult], ...]:
        return (ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve),)

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
