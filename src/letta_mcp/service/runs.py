"""Runs: accepting messages, executing turns one at a time per agent, background work, cancellation.

A message is *accepted* when its run row (holding the input) and its turn ticket are committed;
from then on it is never lost. Every turn executes in a task owned by this service, not by the
caller: a foreground caller awaits the task, a background caller gets the run id at once, and
either way the run survives the client disconnecting. Turns of one agent wait for their ticket
(`LeaseManager`), so they run strictly one after another, in arrival order, across every process
sharing the data directory; different agents run in parallel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from letta_mcp.models import Agent, Message, Role, Run, RunStatus, Step, StopReason, new_id, utcnow
from letta_mcp.runtime import AgentLoop, TurnResult
from letta_mcp.runtime.loop import Approval, StepCallback
from letta_mcp.service.errors import ConflictError, NotFoundError
from letta_mcp.store import Store
from letta_mcp.store.errors import LeaseLostError
from letta_mcp.store.lease import Adopted, LeaseManager

log = logging.getLogger(__name__)

RunHook = Callable[[Run], Awaitable[None]]
AdoptedHooks = Callable[[Run], Awaitable[tuple[RunHook | None, RunHook | None]]]
"""(on_progress, on_done) for a run adopted from a dead process."""


@dataclass(frozen=True)
class RunDetails:
    run: Run
    steps: list[Step]
    messages: list[Message]  # what the run added to the history so far, in order
    reply: str | None


class RunService:
    def __init__(self, store: Store, loop: AgentLoop, lease: LeaseManager) -> None:
        self._store = store
        self._loop = loop
        self.lease = lease
        self._tasks: dict[str, asyncio.Task[TurnResult | None]] = {}
        self.adopted_hooks: AdoptedHooks | None = None
        """What announces an adopted run's progress and end (set by the service, like a caller's hooks)."""
        lease.on_adopted = self._adopt

    async def submit(
        self,
        agent: Agent,
        message: str,
        *,
        role: Role,
        max_steps: int | None,
        background: bool,
        on_step: StepCallback | None = None,
        on_progress: RunHook | None = None,
        on_done: RunHook | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Accept a message: commit the run and its turn ticket, then execute it in its own task.

        ``on_progress(run)`` is awaited after each committed step, ``on_done(run)`` once it ends.
        ``parent_run_id``: the run of the agent that sent the message (agent-to-agent messaging)."""
        run = Run(
            id=new_id("run"),
            agent_id=agent.id,
            status=RunStatus.created,
            input=message,
            input_role=role,
            background=background,
            holder=self.lease.holder,
            created_at=utcnow(),
            parent_run_id=parent_run_id,
        )

        async def accept() -> Run:
            # One transaction for the run and its ticket; then, with no await in between, the
            # ticket is registered and the task started. Shielded: a caller hanging up mid-way
            # cannot leave a committed ticket that nobody will ever run or release.
            async with self._store.write(lazy=True) as q:  # the lock, the run and the ticket: one round trip
                await q.runs.insert(run)
                ticket = await self.lease.take_ticket(q, agent.id, run.id)
            self._start(run, ticket, max_steps, on_step, on_progress, on_done, None)
            return run

        return await asyncio.shield(accept())

    async def resume(
        self,
        run: Run,
        approval: Approval,
        *,
        on_progress: RunHook | None = None,
        on_done: RunHook | None = None,
    ) -> Run:
        """Queue a run paused for approval to go on (``approval`` says what to do with its pending
        tool calls), in the agent's turn order like a new message. Raises `ConflictError` unless the
        run is waiting for approval (also when another client decided first)."""

        async def accept() -> Run:
            async with self._store.write() as q:
                current = await q.runs.get(run.id)
                if current is None or current.status is not RunStatus.requires_approval:
                    status = current.status.value if current else "gone"
                    raise ConflictError(f"Run {run.id} is not waiting for approval (its status is {status}).")
                resumed = current.model_copy(
                    update={
                        "status": RunStatus.created,
                        "stop_reason": None,
                        "completed_at": None,
                        "holder": self.lease.holder,
                    }
                )
                await q.runs.update(resumed)
                ticket = await self.lease.take_ticket(q, run.agent_id, run.id)
            self._start(resumed, ticket, None, None, on_progress, on_done, approval)
            return resumed

        return await asyncio.shield(accept())

    def _start(
        self,
        run: Run,
        ticket: int,
        max_steps: int | None,
        on_step: StepCallback | None,
        on_progress: RunHook | None,
        on_done: RunHook | None,
        approval: Approval | None,
    ) -> None:
        """Register the committed ticket and start the run's task (no await: nothing can interleave)."""
        self.lease.register(run.agent_id, ticket)
        if on_progress is not None:
            on_step = _with_progress(run, on_step, on_progress)
        task = asyncio.get_running_loop().create_task(
            self._execute(run, ticket, max_steps, on_step, on_done, approval), name=f"letta-mcp-run-{run.id}"
        )
        self._tasks[run.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.id, None))

    def _adopt(self, adopted: Adopted) -> None:
        """Execute a queued background run taken over from a dead process (its ticket is registered)."""

        async def execute() -> TurnResult | None:
            try:
                async with self._store.read() as q:
                    run = await q.runs.get(adopted.run_id)
            except Exception:
                # The ticket must not outlive this: a live process's tickets are never swept, and it
                # would block the agent's turns everywhere. The run (held by this process) is marked
                # interrupted when this process stops, or by whoever sweeps it.
                log.exception("Run %s: reading it to take it over failed; giving its turn up", adopted.run_id)
                await asyncio.shield(self.lease.release(adopted.agent_id, adopted.ticket))
                return None
            if run is None:  # deleted with its agent since: nothing to run
                await asyncio.shield(self.lease.release(adopted.agent_id, adopted.ticket))
                return None
            on_progress: RunHook | None = None
            on_done: RunHook | None = None
            if self.adopted_hooks is not None:
                try:
                    on_progress, on_done = await self.adopted_hooks(run)
                except Exception:  # announcements only: the turn runs without them
                    log.exception("Run %s: its announcements could not be set up", run.id)
            on_step = _with_progress(run, None, on_progress) if on_progress is not None else None
            # The caller's per-call max_steps is not stored: the agent's own limit applies.
            return await self._execute(run, adopted.ticket, None, on_step, on_done)

        task = asyncio.get_running_loop().create_task(execute(), name=f"letta-mcp-run-{adopted.run_id}")
        self._tasks[adopted.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(adopted.run_id, None))

    async def wait(self, run: Run) -> TurnResult | None:
        """The finished turn (None if it did not finish normally: cancelled before it started,
        failed, or interrupted; `get_run` says which). Cancelling the waiter (a client hanging
        up) leaves the run going."""
        task = self._tasks.get(run.id)
        if task is None:
            raise NotFoundError(f"Run {run.id} is not executing in this process.")
        return await asyncio.shield(task)

    async def _execute(
        self,
        run: Run,
        ticket: int,
        max_steps: int | None,
        on_step: StepCallback | None,
        on_done: RunHook | None,
        approval: Approval | None = None,
    ) -> TurnResult | None:
        """The run's task. Nothing escapes it but cancellation: a background run has nobody
        awaiting it, so every failure is logged here, once, and recorded on the run."""
        try:
            return await self._run_when_due(run, ticket, max_steps, on_step, approval)
        finally:
            if on_done is not None:
                try:
                    await asyncio.shield(on_done(run))
                except Exception:
                    log.exception("Run %s: announcing its end failed", run.id)

    async def _run_when_due(
        self,
        run: Run,
        ticket: int,
        max_steps: int | None,
        on_step: StepCallback | None,
        approval: Approval | None,
    ) -> TurnResult | None:
        """The finished turn; None if it never ran or failed (the run row says why)."""
        try:
            async with self.lease.hold(run.agent_id, ticket):
                async with self._store.read() as q:
                    cancelled = await q.runs.cancel_requested(run.id)
                if cancelled and approval is None:  # a resumed run first answers its pending calls
                    await self._close(run, StopReason.cancelled, "Cancelled before it started.")
                    return None
                return await self._loop.run_turn(run, max_steps=max_steps, on_step=on_step, approval=approval)
        except asyncio.CancelledError:
            raise  # the process is shutting down: the next start marks the run interrupted
        except LeaseLostError as e:
            # The sweeper already marked the run interrupted; writing anything now could overlap
            # the turn another process is running.
            log.warning("Run %s stopped without writing more: %s", run.id, e)
            return None
        except Exception as e:
            log.exception("Run %s failed unexpectedly", run.id)
            try:
                await asyncio.shield(self._close(run, StopReason.error, f"Internal error: {type(e).__name__}: {e}"))
            except Exception:
                log.exception("Run %s: recording its failure failed too", run.id)
            return None

    async def _close(self, run: Run, stop: StopReason, error: str | None) -> None:
        run.stop_reason, run.status, run.error, run.completed_at = stop, stop.run_status, error, utcnow()
        async with self._store.write() as q:
            await q.runs.update(run)

    async def cancel(self, run: Run) -> Run:
        """Ask the run to stop at its next step boundary (from any process sharing the data dir)."""
        if run.status in (RunStatus.created, RunStatus.running, RunStatus.requires_approval):
            async with self._store.write() as q:
                await q.runs.request_cancel(run.id)
                run = await q.runs.get(run.id) or run
        return run

    async def details(self, run: Run) -> RunDetails:
        async with self._store.read() as q:
            steps = await q.runs.steps(run.id)
            messages = await q.messages.for_run(run.id)
        reply = None
        if run.stop_reason is not None and messages and messages[-1].role is Role.assistant:
            last = messages[-1]
            reply = last.content if not last.tool_calls else None
        return RunDetails(run=run, steps=steps, messages=messages, reply=reply)

    async def close(self) -> None:
        """Stop executing (shutdown): unfinished runs are marked interrupted, tickets released."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        async with self._store.write() as q:
            await q.runs.mark_interrupted([self.lease.holder])
        await self.lease.stop()


def _with_progress(run: Run, on_step: StepCallback | None, on_progress: RunHook) -> StepCallback:
    """``on_step`` that first tells ``on_progress`` the run moved on (the loop passes no run)."""

    async def stepped(index: int, max_steps: int) -> None:
        await on_progress(run)
        if on_step is not None:
            await on_step(index, max_steps)

    return stepped
