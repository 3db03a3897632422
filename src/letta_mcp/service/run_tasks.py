"""Runs seen as long-lived tasks: waiting a bounded time for one, its progress, its outcome; and
tool tasks, the tool calls without a run that an MCP Tasks client let run in the background.

The MCP Tasks extension (server/tasks.py) serves runs as tasks; the run row *is* the task, so
everything here reads the store and survives restarts. Ownership is `get_run`'s: another
principal's run reads as unknown. A tool task (`ToolTask`, ``import_agent`` or
``compact_context``) keeps the tool's answer as the server hands it over (opaque JSON text), and is
visible to the principal that called the tool.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

import anyio

from letta_mcp.models import Run, RunStatus, ToolCall, ToolTask, ToolTaskStatus, new_id, utcnow
from letta_mcp.runtime import TurnResult
from letta_mcp.runtime.loop import unanswered_calls
from letta_mcp.service.access import current_principal
from letta_mcp.service.changes import Change
from letta_mcp.service.conversation import ConversationMixin, unavailable_error
from letta_mcp.service.errors import NotFoundError
from letta_mcp.service.runs import RunDetails


@dataclass(frozen=True)
class RunProgress:
    """A run with what a poller shows: how far it got, what it waits for, when it last changed."""

    details: RunDetails
    max_steps: int  # the agent's per-turn limit
    last_tool: str | None  # the tool the model called most recently in this run
    pending_calls: list[ToolCall]  # the calls waiting for approval (status requires_approval)
    updated_at: datetime


class RunTasksMixin(ConversationMixin):
    async def wait_for_run(self, run_id: str, *, within_s: float) -> Run:
        """The run once it stops running, or as it is after ``within_s`` seconds. Only a run
        executing in this process can be awaited; one executing elsewhere is returned at once."""
        run = await self.get_run(run_id)
        with anyio.move_on_after(within_s):
            # Not found: finished already, or executing in another process.
            with contextlib.suppress(NotFoundError):
                await self.runs.wait(run)  # shielded: giving up leaves the run going
        return await self.get_run(run_id)

    async def run_progress(self, run_id: str) -> RunProgress:
        details = await self.get_run_details(run_id)
        async with self.store.read() as q:
            agent = await self._require_agent(q, details.run.agent_id)
        calls = [call for message in details.messages for call in message.tool_calls]
        paused = details.run.status is RunStatus.requires_approval and details.messages
        pending = unanswered_calls(details.messages) if paused else []
        moments = [
            details.run.created_at,
            *(s.created_at for s in details.steps),
            *(m.created_at for m in details.messages),
        ]
        if details.run.completed_at is not None:
            moments.append(details.run.completed_at)
        return RunProgress(
            details=details,
            max_steps=agent.max_steps,
            last_tool=calls[-1].name if calls else None,
            pending_calls=pending,
            updated_at=max(moments),
        )

    async def run_outcome(self, run_id: str) -> TurnResult:
        """A finished run as `send_message` would have returned it, raising what it would have
        raised (`AgentUnavailableError` when the model failed)."""
        details = await self.get_run_details(run_id)
        async with self.store.read() as q:
            agent = await self._require_agent(q, details.run.agent_id)
        if (error := unavailable_error(agent, details.run)) is not None:
            raise error
        return TurnResult(run=details.run, messages=details.messages, reply=details.reply)

    async def begin_tool_task(self, tool: str) -> ToolTask:
        """Record a tool call running on in the background (committed before the client is told its
        id, so a ``tasks/get`` for it resolves at once, in any process)."""
        now = utcnow()
        task = ToolTask(
            id=new_id("tooltask"),
            owner=current_principal().name,
            tool=tool,
            status=ToolTaskStatus.working,
            holder=self.runs.lease.holder,
            created_at=now,
            updated_at=now,
        )
        async with self.store.write() as q:
            await q.tool_tasks.insert(task)
        return task

    async def finish_tool_task(self, task: ToolTask, *, result: str | None = None, error: str | None = None) -> None:
        """Keep the tool's answer (``result``), or why our code failed running it (``error``)."""
        status = ToolTaskStatus.failed if error is not None else ToolTaskStatus.completed
        async with self.store.write() as q:
            await q.tool_tasks.finish(task.id, status, result=result, error=error, at=utcnow())
        await self.changes.emit(Change(task.owner, task_id=task.id))

    async def get_tool_task(self, task_id: str) -> ToolTask:
        async with self.store.read() as q:
            task = await q.tool_tasks.get(task_id)
        if task is None or not current_principal().may_see(task.owner):
            raise NotFoundError(f"No tool task with id {task_id!r}.")
        return task
