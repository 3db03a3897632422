"""Conversation: sending messages (runs), reading and searching the history."""

from __future__ import annotations

from datetime import datetime

from letta_mcp.llm.client_model import CLIENT_HANDLE, require_client_model
from letta_mcp.llm.errors import LLMConfigurationError
from letta_mcp.models import (
    Agent,
    Message,
    Role,
    Run,
    RunStatus,
    StopReason,
)
from letta_mcp.runtime import TurnResult
from letta_mcp.runtime.loop import Approval, StepCallback, paused_run
from letta_mcp.runtime.message_index import search_messages
from letta_mcp.service.access import current_principal
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import (
    AgentUnavailableError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from letta_mcp.service.limits import PrincipalLimits
from letta_mcp.service.runs import RunDetails, RunHook


class ConversationMixin(ServiceBase):
    async def send_message(
        self,
        agent_id: str,
        message: str,
        *,
        role: Role = Role.user,
        max_steps: int | None = None,
        background: bool = False,
        on_step: StepCallback | None = None,
    ) -> TurnResult:
        """Run one turn, or (``background``) accept it and return its run at once.

        The message is accepted (committed with its run) before anything else happens, so it is
        never lost; turns of one agent run one at a time in arrival order. A foreground caller that
        goes away leaves the run going; its outcome stays readable with `get_run`.
        """
        if role not in (Role.user, Role.system):
            raise InvalidRequestError("role must be 'user' or 'system'.")
        if not message.strip():
            raise InvalidRequestError("message is empty; send the text the agent should respond to.")
        if max_steps is not None:
            PrincipalLimits.current(self.settings.limits).check_steps(max_steps)
        async with self.store.read() as q:  # no message counts: this is the per-message hot path
            agent = await self._require_agent(q, agent_id)
            blocks_before = await q.blocks.for_agent(agent_id)
            paused = await paused_run(q, agent)
        if paused is not None:
            raise ConflictError(
                f"Agent {agent_id!r} is waiting for approval of a tool call in run {paused}. Call "
                f"approve_run(run_id={paused!r}, approve=true or false) first (get_run shows the call)."
            )
        try:
            self.providers.resolve(agent.model)
        except LLMConfigurationError as e:
            raise AgentUnavailableError(str(e), run_id="") from e
        check_client_model(agent, background=background)

        async def announce(run: Run) -> None:
            # The input message is committed even when the turn fails, so readers always hear of it.
            await self._turn_finished(agent, blocks_before, run)

        run = await self.runs.submit(
            agent,
            message,
            role=role,
            max_steps=max_steps,
            background=background,
            on_step=on_step,
            on_progress=self._announce_progress(agent),
            on_done=announce,
        )
        if background:
            return TurnResult(run=run)
        return await self._outcome(agent, run)

    async def approve_run(
        self, run_id: str, *, approve: bool, reason: str | None = None, background: bool = False
    ) -> TurnResult:
        """Decide on the tool calls a run paused for (``requires_approval`` tool rules): run them
        (``approve``) or tell the model they were denied (with ``reason``); the turn then goes on,
        in the agent's turn order, and this returns like `send_message`."""
        if reason is not None and len(reason) > 10_000:
            raise InvalidRequestError("reason is over 10000 characters; shorten it.")
        run = await self.get_run(run_id)
        async with self.store.read() as q:
            agent = await self._require_agent(q, run.agent_id)
            blocks_before = await q.blocks.for_agent(agent.id)
        if background:  # a foreground resume without the client's model fails its run with the reason
            check_client_model(agent, background=True)

        async def announce(finished: Run) -> None:
            await self._turn_finished(agent, blocks_before, finished)

        decision = Approval(approve=approve, by=f"principal:{current_principal().name}", reason=reason)
        progressed = self._announce_progress(agent)
        resumed = await self.runs.resume(run, decision, on_progress=progressed, on_done=announce)
        await progressed(resumed)  # no longer waiting for approval
        if background:
            return TurnResult(run=resumed)
        return await self._outcome(agent, resumed)

    async def _adopted_hooks(self, run: Run) -> tuple[RunHook | None, RunHook | None]:
        """The hooks of a background run this process took over from a dead one: announced like
        `send_message`'s own (a committed step, the finished turn)."""
        async with self.store.read() as q:
            agent = await q.agents.get(run.agent_id)
            blocks_before = await q.blocks.for_agent(run.agent_id)
        if agent is None:
            return None, None

        async def announce(finished: Run) -> None:
            await self._turn_finished(agent, blocks_before, finished)

        return self._announce_progress(agent), announce

    def _announce_progress(self, agent: Agent) -> RunHook:
        """A hook announcing that one of ``agent``'s runs moved on (a committed step, a resume), for
        those watching the run (its resource, an MCP task); a finished turn is `_turn_finished`'s."""

        async def progressed(run: Run) -> None:
            await self.changes.emit(Change(agent.owner, run_id=run.id))

        return progressed

    async def _outcome(self, agent: Agent, run: Run) -> TurnResult:
        """Wait for a foreground run; model failures become `AgentUnavailableError`."""
        result = await self.runs.wait(run)
        if result is None:  # cancelled before it started
            return TurnResult(run=await self.get_run(run.id))
        if (error := unavailable_error(agent, result.run)) is not None:
            raise error
        return result

    async def get_run_details(self, run_id: str) -> RunDetails:
        """A run with its steps so far, the messages it added and its reply (once finished)."""
        return await self.runs.details(await self.get_run(run_id))

    async def list_runs(self, agent_id: str, *, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.runs.for_agent(agent_id, status=status, limit=limit)

    async def cancel_run(self, run_id: str) -> Run:
        """Stop a run at its next step boundary (or before it starts); finished runs are unchanged.
        A run waiting for approval is cancelled with its pending calls answered as denied."""
        run = await self.get_run(run_id)
        if run.status is RunStatus.requires_approval:
            cancelled = await self.runs.cancel(run)  # the resumed turn stops before its next step
            await self.approve_run(run_id, approve=False, reason="the run was cancelled")
            return await self.get_run(cancelled.id)
        return await self.runs.cancel(run)

    async def list_messages(
        self,
        agent_id: str,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        roles: list[Role] | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[Message]:
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
            return await q.messages.page(
                agent_id,
                before_seq=before_seq,
                after_seq=after_seq,
                roles=roles,
                limit=limit,
                newest_first=newest_first,
            )

    async def search_messages(
        self,
        agent_id: str,
        *,
        query: str | None = None,
        roles: list[Role] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10,
    ) -> list[Message]:
        """The agent's messages for ``query`` (the newest without one), best first; hybrid (full text
        fused with message vectors) when an embedder is configured."""
        index = self.message_index
        async with self.store.read() as q:
            await self._require_agent(q, agent_id)
        vector = await index.prepare(query) if index is not None else None  # before the transaction
        async with self.store.read() as q:
            return await search_messages(
                q,
                index,
                agent_id,
                query=query,
                roles=roles or [Role.user, Role.assistant],
                start=start,
                end=end,
                limit=limit,
                query_vector=vector,
            )

    async def _embed_new_messages(self, change: Change) -> None:
        """Change listener (with an embedder): queue the agent whose history may have grown for
        background embedding."""
        if self.message_index is not None and change.agent_id is not None and (change.messages or change.agent):
            self.message_index.notify(change.agent_id)

    async def get_run(self, run_id: str) -> Run:
        async with self.store.read() as q:
            run = await q.runs.get(run_id)
            agent = await q.agents.get(run.agent_id) if run is not None else None
        if run is None or agent is None or not current_principal().may_see(agent.owner):
            raise NotFoundError(f"No run with id {run_id!r}. Run ids are returned by send_message.")
        return run


def check_client_model(agent: Agent, *, background: bool) -> None:
    """Refuse, before anything is written, a turn of a ``client``-model agent that could not think:
    its model is the caller's, reachable only while the caller's request is open."""
    if agent.model != CLIENT_HANDLE:
        return
    try:
        require_client_model()
    except LLMConfigurationError as e:
        raise InvalidRequestError(
            f"{e} Or give the agent its own model with update_agent(model='provider/model')."
        ) from e
    if background:  # also a send_message turned into an MCP task
        raise InvalidRequestError(
            f"Agent {agent.id!r} thinks with your MCP client's model (model 'client'), which is only "
            "reachable while your call is open, so it cannot run in the background (nor as an MCP task): "
            "send with background=false, or give the agent its own model with update_agent(model='provider/model')."
        )


def unavailable_error(agent: Agent, run: Run) -> AgentUnavailableError | None:
    """The error a caller waiting for ``run`` gets when the agent could not reply at all."""
    if run.stop_reason is StopReason.context_window_overflow_in_system_prompt:
        return AgentUnavailableError(f"{run.error} (run {run.id})", run_id=run.id)
    if run.stop_reason is StopReason.llm_api_error:
        return AgentUnavailableError(
            f"The agent could not reply because its model ({agent.model}) failed: {run.error} "
            f"Your message was saved in the agent's history (run {run.id}); send a new message "
            "once the model is reachable.",
            run_id=run.id,
        )
    return None
