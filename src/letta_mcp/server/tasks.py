"""The MCP Tasks extension (``io.modelcontextprotocol/tasks``, SEP-2663): long turns as tasks.

A client that declares the extension on its ``send_message`` (or ``approve_run``) request gets a
`CreateTaskResult` instead of waiting once the turn runs longer than ``[tasks] threshold_s`` (at
once with ``background=true``); other clients keep the plain result. The task id is the run id and the run
row is the task: it is committed before the answer, so ``tasks/get`` resolves at once, after a
restart and in any process sharing the data. Run status → task status: created/running →
``working`` (step n of max, last tool), requires_approval → ``input_required`` (the approval as an
elicitation; ``tasks/update`` delivers the answer to approve_run), completed (and turns the tool
reports as errors) → ``completed`` with the `CallToolResult` send_message would have returned,
cancelled/interrupted → ``cancelled`` with the reason, an internal error → ``failed``.
Visibility is the service's: another principal's task id reads as unknown. A client may listen
instead of polling: `server.listen` sends each change as ``notifications/tasks``.

``import_agent`` and ``compact_context`` have no run: such a call runs in a task of this process,
and once it takes longer than the threshold a tool task row is committed and answered with; the
call's answer is kept there, so ``tasks/get`` returns the same `CallToolResult`, also after a restart.
Each is one transaction, so ``tasks/cancel`` is acknowledged but cannot stop it (the spec lets a
server decline); a tool task whose process stopped first reads ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Annotated, Any

import pydantic_core
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from letta_mcp.config import TaskSettings
from letta_mcp.models import RunStatus, StopReason, ToolTask, ToolTaskStatus
from letta_mcp.server.schemas import SendMessageResult
from letta_mcp.service import AgentService, ConflictError, NotFoundError, RunProgress, ServiceError

log = logging.getLogger(__name__)

TASKS = "io.modelcontextprotocol/tasks"
# Tools whose calls may become tasks: each runs a turn (a new one, or a paused one going on),
# takes ``background`` and reports its run in ``run_id``.
TASK_TOOLS = frozenset({"send_message", "approve_run"})
# Tools without a run whose calls may become tasks too (tool tasks), with what they show while working.
TOOL_TASKS = {
    "import_agent": "Importing the Agent File.",
    "compact_context": "Summarizing the oldest messages out of the context window.",
}
TOOL_TASK_PREFIX = "tooltask-"
UNFINISHED = frozenset({RunStatus.created, RunStatus.running})
# The status-specific fields of a DetailedTask (tasks/get), absent from a CreateTaskResult.
DETAIL_KEYS = frozenset({"result", "error", "inputRequests"})

TaskId = Annotated[str, Field(max_length=100)]


class TaskParams(RequestParams):
    task_id: TaskId


class UpdateTaskParams(TaskParams):
    input_responses: dict[str, dict[str, Any]]


class TasksExtension(Extension):
    identifier = TASKS

    def __init__(self, service: AgentService) -> None:
        self._service = service
        self._settings: TaskSettings = service.settings.tasks
        self._jobs: set[asyncio.Task[Any]] = set()  # tool calls running as tasks, and their recorders

    def methods(self) -> tuple[MethodBinding, ...]:
        return (
            MethodBinding("tasks/get", TaskParams, self._get),
            MethodBinding("tasks/update", UpdateTaskParams, self._update),
            MethodBinding("tasks/cancel", TaskParams, self._cancel),
        )

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if params.name in TOOL_TASKS and declares_tasks(ctx):
            return await self._tool_call(params.name, ctx, call_next)
        if params.name not in TASK_TOOLS or not declares_tasks(ctx):
            return await call_next(ctx)
        arguments = params.arguments or {}
        wants_task = arguments.get("background") is True
        # The SDK hands the tool this request's own params object and offers no other way to change
        # its arguments: the turn is accepted in the background, and this call decides how to answer.
        params.arguments = {**arguments, "background": True}
        accepted = await call_next(ctx)
        if not isinstance(accepted, CallToolResult) or accepted.is_error or not accepted.structured_content:
            return accepted  # refused before a run was accepted: the usual error
        run_id = str(accepted.structured_content["run_id"])
        if not wants_task:
            run = await self._service.wait_for_run(run_id, within_s=self._settings.threshold_s)
            # A turn paused for approval stays a task: the client answers through input_required.
            if run.status not in UNFINISHED and run.status is not RunStatus.requires_approval:
                return await self._outcome(run_id)
        return created(await self._task(await self._service.run_progress(run_id)))

    async def _tool_call(self, tool: str, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Run the call in a task of its own: its answer if it comes within the threshold, else a tool
        task (committed before this answers) that keeps the answer when it comes. A quick call (a
        refused one too) leaves no row behind."""
        call = asyncio.get_running_loop().create_task(call_next(ctx), name=f"letta-mcp-{tool}")
        self._keep(call)
        # Not awaited directly: a client hanging up (cancelling this request) leaves the call going.
        await asyncio.wait({call}, timeout=self._settings.threshold_s)
        if call.done():
            return call.result()
        task = await self._service.begin_tool_task(tool)
        self._keep(asyncio.get_running_loop().create_task(self._record(task, call), name=f"letta-mcp-{task.id}"))
        return created(tool_task(task, self._settings))

    def _keep(self, job: asyncio.Task[Any]) -> None:
        """Hold ``job`` until it ends (the loop keeps only weak references to tasks)."""
        self._jobs.add(job)
        job.add_done_callback(self._forget)

    def _forget(self, job: asyncio.Task[Any]) -> None:
        self._jobs.discard(job)
        if not job.cancelled():
            job.exception()  # retrieved: `_record` logs and keeps a failure

    async def _record(self, task: ToolTask, call: asyncio.Task[HandlerResult]) -> None:
        """Keep the call's answer (or our failure) in its tool task."""
        try:
            result = await call
        except Exception as e:  # the SDK turns a tool's own errors into results: this is a fault of ours
            log.error("%s failed as task %s", task.tool, task.id, exc_info=e)
            await self._service.finish_tool_task(task, error=f"Internal error: {type(e).__name__}: {e}")
            return
        answer = (
            result.model_dump(by_alias=True, mode="json", exclude_none=True)
            if isinstance(result, BaseModel)
            else result
        )
        await self._service.finish_tool_task(task, result=json.dumps(answer))

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        require_client_extension(ctx, TASKS)
        if is_tool_task(params.task_id):
            return tool_task(await self._tool_task(params.task_id), self._settings)
        return await self._task(await self._progress(params.task_id))

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
        require_client_extension(ctx, TASKS)
        if is_tool_task(params.task_id):
            await self._tool_task(params.task_id)
            return {}  # a tool task never asks for input: nothing is outstanding
        progress = await self._progress(params.task_id)
        key = approval_key(progress)
        if key is None or (response := params.input_responses.get(key)) is None:
            return {}  # nothing outstanding under that key (answered already, or never asked): ignored
        approve, reason = approval_answer(key, response)
        with contextlib.suppress(ConflictError):  # another client decided first; the task goes on
            await self._service.approve_run(params.task_id, approve=approve, reason=reason, background=True)
        return {}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        require_client_extension(ctx, TASKS)
        if is_tool_task(params.task_id):
            await self._tool_task(params.task_id)
            return {}  # one transaction that cannot stop halfway: acknowledged, not honoured
        try:
            await self._service.cancel_run(params.task_id)
        except NotFoundError:
            raise unknown_task(params.task_id) from None
        return {}

    async def read(self, task_id: str) -> dict[str, Any] | None:
        """The task as ``tasks/get`` shows it to the acting principal; None when unknown to them
        (the ``notifications/tasks`` of `server.listen` carry exactly this)."""
        try:
            if is_tool_task(task_id):
                return tool_task(await self._service.get_tool_task(task_id), self._settings)
            return await self._task(await self._service.run_progress(task_id))
        except NotFoundError:
            return None

    async def _tool_task(self, task_id: str) -> ToolTask:
        try:
            return await self._service.get_tool_task(task_id)
        except NotFoundError:
            raise unknown_task(task_id) from None

    async def _progress(self, task_id: str) -> RunProgress:
        try:
            return await self._service.run_progress(task_id)
        except NotFoundError:
            raise unknown_task(task_id) from None

    async def _task(self, progress: RunProgress) -> dict[str, Any]:
        """The task as ``tasks/get`` shows it (a ``DetailedTask``)."""
        run = progress.details.run
        task = task_base(run.id, run.created_at, progress.updated_at, self._settings)
        if run.status in UNFINISHED:
            return {**task, "status": "working", "statusMessage": working_message(progress)}
        if run.status is RunStatus.requires_approval:
            key = approval_key(progress)
            message = approval_message(progress)
            requests = {key: approval_request(message)} if key else {}
            return {**task, "status": "input_required", "statusMessage": message, "inputRequests": requests}
        if run.status in (RunStatus.cancelled, RunStatus.interrupted):
            return {**task, "status": "cancelled", "statusMessage": cancelled_message(run.status, run.error)}
        if run.status is RunStatus.failed and run.stop_reason in (StopReason.error, None):
            # A fault of ours, not an outcome the tool reports: the spec's `failed`, with a JSON-RPC error.
            error = run.error or "The turn failed."
            return {
                **task,
                "status": "failed",
                "statusMessage": error,
                "error": {"code": INTERNAL_ERROR, "message": error},
            }
        result = await self._outcome(run.id)
        return {
            **task,
            "status": "completed",
            "result": result.model_dump(by_alias=True, mode="json", exclude_none=True),
        }

    async def _outcome(self, run_id: str) -> CallToolResult:
        """What send_message (or approve_run) would have returned for this finished run."""
        try:
            turn = await self._service.run_outcome(run_id)
        except ServiceError as e:
            return CallToolResult(content=[TextContent(type="text", text=str(e))], is_error=True)
        return structured_result(SendMessageResult.of(turn.run, turn.messages, turn.reply))


def task_base(task_id: str, created_at: datetime, updated_at: datetime, settings: TaskSettings) -> dict[str, Any]:
    """What every task shows, whatever its status."""
    return {
        "taskId": task_id,
        "createdAt": timestamp(created_at),
        "lastUpdatedAt": timestamp(updated_at),
        "ttlMs": settings.ttl_ms,
        "pollIntervalMs": settings.poll_interval_ms,
    }


def created(task: dict[str, Any]) -> dict[str, Any]:
    """A CreateTaskResult: the bare Task (results and input requests come with tasks/get)."""
    return {"resultType": "task", **{k: v for k, v in task.items() if k not in DETAIL_KEYS}}


def is_tool_task(task_id: str) -> bool:
    return task_id.startswith(TOOL_TASK_PREFIX)


def tool_task(task: ToolTask, settings: TaskSettings) -> dict[str, Any]:
    """A tool task as ``tasks/get`` shows it (a ``DetailedTask``)."""
    base = task_base(task.id, task.created_at, task.updated_at, settings)
    if task.status is ToolTaskStatus.working:
        return {**base, "status": "working", "statusMessage": TOOL_TASKS.get(task.tool, "Working.")}
    if task.status is ToolTaskStatus.completed:
        return {**base, "status": "completed", "result": json.loads(task.result or "{}")}
    if task.status is ToolTaskStatus.failed:
        error = task.error or f"{task.tool} failed."
        return {**base, "status": "failed", "statusMessage": error, "error": {"code": INTERNAL_ERROR, "message": error}}
    message = (
        f"Interrupted: the server stopped while {task.tool} ran. Its one transaction either committed "
        "or left nothing: check (list_agents after an import, get_context after a compaction)."
    )
    return {**base, "status": "cancelled", "statusMessage": message}


def declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether this request may be answered with a task: the client declared the extension, and
    the wire is 2026-07-28 or later (older ones cannot carry a result type outside the core)."""
    capabilities = ctx.session.client_capabilities
    declared = capabilities is not None and TASKS in (capabilities.extensions or {})
    return declared and ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def structured_result(model: BaseModel) -> CallToolResult:
    """A tool's model result as the SDK sends it: JSON text plus structured content."""
    text = pydantic_core.to_json(model, fallback=str, indent=2).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=model.model_dump(mode="json", by_alias=True)
    )


def unknown_task(task_id: str) -> MCPError:
    return MCPError(
        code=INVALID_PARAMS,
        message=f"Failed to retrieve task: Task not found ({task_id!r}; task ids come from tools/call).",
    )


def timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def working_message(progress: RunProgress) -> str:
    run = progress.details.run
    if run.status is RunStatus.created:
        return "Queued: earlier messages to this agent run first."
    message = f"Step {run.step_count} of at most {progress.max_steps}"
    return f"{message}; last tool called: {progress.last_tool}." if progress.last_tool else f"{message}."


def cancelled_message(status: RunStatus, error: str | None) -> str:
    if status is RunStatus.interrupted:
        return f"Interrupted: the server stopped while the turn ran. {error or ''}".strip()
    return error or "Cancelled."


def approval_key(progress: RunProgress) -> str | None:
    """The input request for the calls a run paused on; the call ids make it unique for the task's
    lifetime, as the spec requires (a later pause has other calls)."""
    if not progress.pending_calls:
        return None
    return "approve:" + ",".join(call.id for call in progress.pending_calls)


def approval_message(progress: RunProgress) -> str:
    calls = "; ".join(f"{call.name}({call.arguments})" for call in progress.pending_calls)
    return f"The agent wants to call {calls}. Approve?"


def approval_request(message: str) -> dict[str, Any]:
    """An elicitation (form mode) asking whether to run the paused calls."""
    return {
        "method": "elicitation/create",
        "params": {
            "mode": "form",
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "approve": {"type": "boolean", "title": "Approve", "description": "Run the call(s)."},
                    "reason": {"type": "string", "title": "Reason", "description": "Told to the agent on denial."},
                },
                "required": ["approve"],
            },
        },
    }


def approval_answer(key: str, response: dict[str, Any]) -> tuple[bool, str | None]:
    """(approve, reason) from an elicitation result; declining the form denies the calls."""
    action = response.get("action")
    if action in ("decline", "cancel"):
        return False, "The user declined."
    content = response.get("content")
    approve = content.get("approve") if isinstance(content, dict) else None
    reason = content.get("reason") if isinstance(content, dict) else None
    if action != "accept" or not isinstance(approve, bool) or not isinstance(reason, str | None):
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"inputResponses[{key!r}] must be an elicitation result: "
            + json.dumps({"action": "accept", "content": {"approve": True, "reason": "optional text"}})
            + ", or action 'decline'.",
        )
    return approve, reason
