"""The agent step loop (Letta V3 semantics).

One turn = one run. The accepted input is committed first, so it is never lost. Then each step is
one LLM call with the compiled context and the agent's tools:

- tool calls → execute them, append their results, step again;
- plain text → that is the reply, the turn ends (``end_turn``, or ``max_tokens_exceeded`` when the
  model was cut off);
- ``max_steps`` LLM calls without a reply → ``max_steps``.

Each step commits atomically (assistant message, tool results, block edits, system message
rebuild, step record, run totals) in one write transaction; the LLM call happens outside any
transaction. Only in-context rows are read per step, and their token counts were stored when they
were written, so cost does not grow with history. Before each call the prompt is measured and,
when needed, compacted (`runtime.compaction`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from letta_mcp.llm.errors import ContextWindowExceededError, LLMError
from letta_mcp.llm.registry import ProviderRegistry
from letta_mcp.llm.tokens import Calibration, estimate_message, stored_tokens
from letta_mcp.models import (
    Agent,
    Message,
    ModelRequest,
    ModelResponse,
    Role,
    Run,
    RunStatus,
    Step,
    StopReason,
    ToolCall,
    ToolSchema,
    new_id,
    utcnow,
)
from letta_mcp.runtime import remote_tools
from letta_mcp.runtime.archival import ArchivalMemory
from letta_mcp.runtime.compaction import (
    WARNING_KIND,
    CompactionResult,
    Compactor,
    choose_cut,
    system_alert,
    warning_message,
)
from letta_mcp.runtime.context import ContextConfig, Measure, measure
from letta_mcp.runtime.context_cache import ContextCache
from letta_mcp.runtime.message_index import MessageIndex
from letta_mcp.runtime.multi_agent import AgentMessenger, run_outside
from letta_mcp.runtime.remote_tools import RemoteTools
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.runtime.tool_rules import NEEDS_APPROVAL, ToolRulesSolver
from letta_mcp.runtime.tool_schemas import BUILTIN_TOOL_SCHEMAS
from letta_mcp.runtime.tools import ToolContext, ToolOutcome, execute_tool, prepare_tools
from letta_mcp.store import Queries, Store

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int], Awaitable[None]]

# A model that keeps producing unusable tool calls is not going to recover; stop before max_steps.
MAX_CONSECUTIVE_INVALID_CALLS = 3


@dataclass
class TurnResult:
    """What a turn produced: the run, the messages it added (input first) and the reply text."""

    run: Run
    messages: list[Message] = field(default_factory=list)
    reply: str | None = None


class AgentLoop:
    """Runs turns. The caller holds the agent's turn lease (`store.lease`) for the whole turn."""

    def __init__(
        self,
        store: Store,
        providers: ProviderRegistry,
        *,
        default_block_limit: int,
        context: ContextConfig | None = None,
        calibration: Calibration | None = None,
        archival: ArchivalMemory | None = None,
    ) -> None:
        self._store = store
        self._archival = archival  # the engine behind the archival_memory_* tools
        self._providers = providers
        self._default_block_limit = default_block_limit
        self.context = context or ContextConfig()
        self.calibration = calibration or Calibration()
        self._contexts = ContextCache()
        self._compactor = Compactor(providers, summarizer_model=self.context.summarizer_model)
        # How the multi-agent tools reach other agents; set by the service that owns this loop.
        self.messenger: AgentMessenger | None = None
        # Tools of the operator's other MCP servers (`mcp:<server>/<tool>`); set by the service.
        self.remote: RemoteTools | None = None
        # Message vectors for conversation_search (hybrid), when an embedder is set; set by the service.
        self.message_index: MessageIndex | None = None

    async def run_turn(
        self,
        run: Run,
        *,
        max_steps: int | None = None,
        on_step: StepCallback | None = None,
        approval: Approval | None = None,
    ) -> TurnResult:
        """Run an accepted run (status ``created``, its input in ``run.input``) to its stop reason.

        With ``approval``, resume a run that stopped with ``requires_approval`` instead: its pending
        tool calls are executed (approved) or answered as denied, and the turn goes on.
        ``on_step(step_index, max_steps)`` is awaited after each committed step (progress reports).
        """
        settle: _Settlement | None = None
        if approval is not None:  # the network part (embedding, other agents) before the transaction
            settle = await self._prepare_settlement(run, approval)
        now = utcnow()
        async with self._store.write() as q:
            agent = await q.agents.get(run.agent_id)
            if agent is None:
                raise LookupError(run.agent_id)
            solver = ToolRulesSolver(remote_tools.provider_rules(agent.tool_rules))
            run.status = RunStatus.running
            await q.runs.update(run)
            if approval is None and (paused := await paused_run(q, agent)) is not None:
                # Its pending tool call must be answered before anything else enters the history.
                run.error = (
                    f"Agent {agent.id} is waiting for approval of a tool call in run {paused}; this message "
                    f"was not processed. Call approve_run(run_id={paused!r}) first, then send it again."
                )
                _close(run, StopReason.error)
                await q.runs.update(run)
                return TurnResult(run=run)
            if approval is None:
                # A call left unanswered (a resumed run that failed or was interrupted before it
                # answered) would make every later request invalid: answer it as not run.
                added, seq = await _answer_dangling_calls(q, agent.id, run.id, now)
                incoming = Message(
                    id=new_id("message"),
                    agent_id=agent.id,
                    seq=seq,
                    role=run.input_role,
                    content=run.input,
                    run_id=run.id,
                    created_at=now,
                )
                incoming.tokens = estimate_message(incoming)
                await q.messages.insert([incoming])
                added.append(incoming)
            else:
                assert settle is not None
                added, ended = await self._settle(q, agent, run, settle, solver, now)
                if ended is not None:  # an approved call that ends the turn (exit_loop, memory_finish_edits)
                    _close(run, ended)
                    await q.runs.update(run)
                    return TurnResult(run=run, messages=added)
        self._contexts.appended(agent.id, added)
        result = TurnResult(run=run, messages=added)
        limit = max_steps or agent.max_steps
        invalid_streak = 0
        for index in range(run.step_count, max(limit, run.step_count + 1)):
            if index and await self._cancel_requested(run.id):
                await self._finish(run, StopReason.cancelled)
                break
            stop, invalid = await self._step(agent, result, index, solver, last_step=index >= limit - 1)
            invalid_streak = invalid_streak + 1 if invalid else 0
            if stop is None and invalid_streak >= MAX_CONSECUTIVE_INVALID_CALLS:
                stop = StopReason.invalid_tool_call
                result.run.error = (
                    f"The model made {invalid_streak} invalid tool calls in a row (unknown tool or "
                    "malformed arguments); the turn was stopped."
                )
                await self._finish(result.run, stop)
            if on_step is not None:
                try:
                    await on_step(index + 1, limit)
                except Exception:  # progress is best-effort: a gone client must not fail the run
                    log.debug("progress callback failed", exc_info=True)
            if stop is not None:
                break
        return result

    async def _prepare_settlement(self, run: Run, approval: Approval) -> _Settlement:
        """The run's tool calls still waiting for approval, and what running them needs from the network."""
        async with self._store.read() as q:
            agent = await q.agents.get(run.agent_id)
            messages = await q.messages.for_run(run.id)
        if agent is None:
            raise LookupError(run.agent_id)
        pending = unanswered_calls(messages)
        earlier = [m for m in messages if m.role is Role.tool and m.tool_name]
        prepared = await self._prepare(agent, run.id, pending) if approval.approve else _Prepared({}, {})
        return _Settlement(approval, pending, earlier, prepared)

    async def _prepare(self, agent: Agent, run_id: str, calls: list[ToolCall]) -> _Prepared:
        """What ``calls`` need from the network, done before the write transaction: the archival
        index and query embeddings, and the calls that wait on other agents or other MCP servers."""
        vectors = await prepare_tools(self._archival, calls, self.message_index)
        outside = await run_outside(self.messenger, agent, run_id, calls)
        outside |= await remote_tools.run_outside(self.remote, agent, calls)
        return _Prepared(vectors, outside)

    def _tool_context(self, q: Queries, agent: Agent, run_id: str, prepared: _Prepared) -> ToolContext:
        return ToolContext(
            agent=agent,
            q=q,
            run_id=run_id,
            default_block_limit=self._default_block_limit,
            archival=self._archival,
            message_index=self.message_index,
            query_vectors=prepared.vectors,
            done_outside=prepared.outside,
        )

    async def _settle(
        self, q: Queries, agent: Agent, run: Run, settle: _Settlement, solver: ToolRulesSolver, now: datetime
    ) -> tuple[list[Message], StopReason | None]:
        """Inside the resuming transaction: answer each pending call, run (approved) or denied.
        Also returns the stop reason when an approved call ends the turn."""
        for earlier in settle.earlier:  # the turn's calls so far count for its rules
            solver.record(earlier.tool_name or "", _tool_message(earlier))
        ctx = self._tool_context(q, agent, run.id, settle.prepared)
        seq = await q.messages.next_seq(agent.id)
        added: list[Message] = []
        ended: StopReason | None = None
        for call in settle.pending:
            if settle.approval.approve:
                outcome = await execute_tool(ctx, call)
                solver.record(call.name, outcome.message)
                if outcome.ok and solver.ends_turn(call.name) and not solver.uncalled_before_exit():
                    ended = StopReason.tool_rule
                elif outcome.ok and outcome.terminal:
                    ended = StopReason.end_turn
            else:
                why = f": {settle.approval.reason}" if settle.approval.reason else "."
                outcome = ToolOutcome(False, f"The call was denied by {settle.approval.by}{why} Do not retry it.")
            added.append(_tool_return(agent.id, seq, call, outcome, run.id, None, now))
            seq += 1
        await q.messages.insert(added)
        if ctx.blocks_changed:
            await refresh_system_message(q, agent, now)
        return added, ended

    async def _cancel_requested(self, run_id: str) -> bool:
        async with self._store.read() as q:
            return await q.runs.cancel_requested(run_id)

    async def _step(
        self, agent: Agent, result: TurnResult, index: int, solver: ToolRulesSolver, *, last_step: bool
    ) -> tuple[StopReason | None, bool]:
        """One LLM call and its consequences. Returns (stop reason if the turn ended, invalid call?)."""
        run = result.run
        offered = await self.offered_tools(agent)
        names = [t.name for t in offered]
        permitted = solver.allowed(names)
        tools = [t for t in offered if t.name in permitted]  # the model sees only what the rules allow
        choice = "required" if solver.must_call(names) else "auto"
        started = utcnow()
        fitted = await self._fit(agent, result, tools)
        if fitted is None:
            await self._finish(run, StopReason.context_window_overflow_in_system_prompt)
            return StopReason.context_window_overflow_in_system_prompt, False
        context, raw_tokens = fitted
        try:
            provider, model = self._providers.resolve(agent.model)
            try:
                response = await provider.complete(self._request(agent.id, model, context, tools, choice))
            except ContextWindowExceededError:
                # Our estimate was too low for this model: compact now and retry once.
                fitted = await self._fit(agent, result, tools, force=True)
                if fitted is None:
                    raise
                context, raw_tokens = fitted
                response = await provider.complete(self._request(agent.id, model, context, tools, choice))
        except LLMError as e:
            run.error = str(e)
            failed = Step(
                id=new_id("step"),
                run_id=run.id,
                agent_id=agent.id,
                index=index,
                model=agent.model,
                error=f"{type(e).__name__}: {e}",
                created_at=started,
            )
            await self._finish(run, StopReason.llm_api_error, failed_step=failed)
            return StopReason.llm_api_error, False
        ratio = self.calibration.observe(agent.model, raw_tokens, response.usage.prompt_tokens)

        step = Step(
            id=new_id("step"),
            run_id=run.id,
            agent_id=agent.id,
            index=index,
            model=agent.model,
            usage=response.usage,
            finish_reason=response.finish_reason,
            created_at=started,
        )
        run.usage = run.usage + response.usage
        run.step_count += 1
        if not response.tool_calls and not (response.content or "").strip():
            run.error = "The model returned an empty response (no text and no tool call)."
            await self._finish(run, StopReason.invalid_llm_response, failed_step=step)
            return StopReason.invalid_llm_response, False

        # The rules' verdicts are decided once, in call order, before anything runs: a call that
        # runs outside the transaction (another agent, another MCP server) must never be reported
        # refused afterwards, and the same calls get the same answers inside the transaction.
        verdicts = solver.verdicts(names, response.tool_calls)
        runnable = [c for c in response.tool_calls if verdicts[c.id] is None]
        prepared = await self._prepare(agent, run.id, runnable)  # no network under the write lock
        async with self._store.write() as q:
            await q.runs.insert_step(step)
            if ratio is not None:
                await q.calibration.save(agent.model, ratio)
            now = utcnow()
            seq = await q.messages.next_seq(agent.id)
            assistant = Message(
                id=new_id("message"),
                agent_id=agent.id,
                seq=seq,
                role=Role.assistant,
                content=response.content,
                reasoning=response.reasoning,
                tool_calls=response.tool_calls,
                run_id=run.id,
                step_id=step.id,
                created_at=now,
            )
            assistant.tokens = estimate_message(assistant)
            added = [assistant]
            outcomes: list[ToolOutcome] = []
            ctx = self._tool_context(q, agent, run.id, prepared)
            pending = []  # calls that wait for a client's approval (requires_approval rules)
            for call in response.tool_calls:
                violation = verdicts[call.id]
                if violation == NEEDS_APPROVAL:
                    pending.append(call)
                    continue
                if violation is not None:
                    outcome = ToolOutcome(False, violation, invalid_call=True)
                else:
                    outcome = await execute_tool(ctx, call)
                    solver.record(call.name, outcome.message)
                    if outcome.ok and solver.ends_turn(call.name):
                        outcome = replace(outcome, terminal=True, by_rule=True)
                outcomes.append(outcome)
                seq += 1
                added.append(_tool_return(agent.id, seq, call, outcome, run.id, step.id, now))
            await q.messages.insert(added)
            if ctx.blocks_changed:
                await refresh_system_message(q, agent, now)

            stop = _stop_reason(response, outcomes, last_step=last_step)
            if pending:
                stop = StopReason.requires_approval
            elif stop in (StopReason.end_turn, StopReason.max_tokens_exceeded, StopReason.tool_rule):
                missing = solver.uncalled_before_exit()
                if missing and not last_step:  # the rules keep the turn going
                    stop = None
                    nudge = _notice(
                        agent.id,
                        seq + 1,
                        f"Continuing: you must still call {missing} before you end your response.",
                        now,
                    )
                    await q.messages.insert([nudge])
                    added.append(nudge)
            if stop is not None:
                _close(run, stop)
                if not response.tool_calls:
                    result.reply = response.content
            await q.runs.update(run)
        self._contexts.appended(agent.id, added)
        result.messages.extend(added)
        invalid = bool(outcomes) and all(o.invalid_call for o in outcomes)
        return stop, invalid

    async def _fit(
        self, agent: Agent, result: TurnResult, tools: list[ToolSchema], *, force: bool = False
    ) -> tuple[list[Message], int] | None:
        """The context to send (compacted, or with a memory-pressure warning added, when needed) and
        its raw token estimate.

        None when the system message and tool schemas alone exceed the window (nothing to evict).
        """
        context = await self._load(agent.id)
        policy = self.context.policy(agent)
        ratio = self.calibration.ratio(agent.model)
        m = self._measure(agent.id, context, tools)
        if (m.system + m.fixed) * ratio > policy.window:
            result.run.error = (
                f"The system prompt, memory blocks and tool schemas of agent {agent.id} take about "
                f"{round((m.system + m.fixed) * ratio)} tokens, more than its context window of {policy.window}. "
                "Shorten its memory blocks (update_block), its system prompt or its tools (update_agent), or "
                "give it a larger context_window."
            )
            return None
        estimate = m.total * ratio
        if force or estimate > policy.trigger * policy.window:
            compaction = await self._compact(agent, context, m.fixed, ratio, force=force)
            if compaction is not None:
                result.run.usage = result.run.usage + compaction.usage
                context = await self._load(agent.id)
                m = self._measure(agent.id, context, tools)
        elif estimate > policy.warning * policy.window and not any(msg.kind == WARNING_KIND for msg in context):
            async with self._store.write() as q:
                warning = warning_message(agent.id, await q.messages.next_seq(agent.id), utcnow())
                await q.messages.insert([warning])
            result.messages.append(warning)
            context.append(warning)
            return context, m.total + stored_tokens(warning)
        return context, m.total

    async def _compact(
        self, agent: Agent, context: list[Message], fixed: int, ratio: float, *, force: bool = False
    ) -> CompactionResult | None:
        """Evict down to the target share of the window; a forced compaction (on demand, or after the
        provider said the prompt is too long) also shrinks the prompt to that share of its current size."""
        policy = self.context.policy(agent)
        budget = int(policy.target * policy.window / ratio)
        if force:
            budget = min(budget, int(policy.target * sum(stored_tokens(m) for m in context)) + fixed)
        cut = choose_cut(context, fixed + policy.summary_allowance, budget)
        if cut is None:
            return None
        return await self._compactor.compact(self._store, agent, context, cut, policy, utcnow())

    async def compact_now(self, agent: Agent) -> CompactionResult | None:
        """Compact on demand (down to the target), e.g. from the `compact_context` tool."""
        tools = await self.offered_tools(agent)
        context = await self._load(agent.id)
        fixed = self._measure(agent.id, context, tools).fixed
        return await self._compact(agent, context, fixed, self.calibration.ratio(agent.model), force=True)

    async def offered_tools(self, agent: Agent) -> list[ToolSchema]:
        """The schemas the model is offered: the agent's built-in tools, then its tools from other MCP
        servers (listing those may start or reach a server, so never call this inside a transaction)."""
        return [*agent_tools(agent), *await remote_tools.remote_schemas(self.remote, agent)]

    async def _load(self, agent_id: str) -> list[Message]:
        async with self._store.read() as q:
            return await self._contexts.load(q, agent_id)

    def _measure(self, agent_id: str, context: list[Message], tools: list[ToolSchema]) -> Measure:
        return measure(context, tools, self._contexts.token_sums(agent_id, context))

    def _request(
        self, agent_id: str, model: str, context: list[Message], tools: list[ToolSchema], choice: str = "auto"
    ) -> ModelRequest:
        # The window's chat messages are cached with it: building a request costs the same at any length.
        messages = self._contexts.chat_messages(agent_id, context)
        return ModelRequest(model=model, messages=messages, tools=tools, tool_choice=choice if tools else "auto")

    async def _finish(self, run: Run, stop: StopReason, *, failed_step: Step | None = None) -> None:
        _close(run, stop)
        async with self._store.write() as q:
            if failed_step is not None:
                await q.runs.insert_step(failed_step)
            await q.runs.update(run)


@dataclass(frozen=True)
class Approval:
    """A client's decision on a run waiting for approval (``requires_approval`` tool rules)."""

    approve: bool
    by: str  # who decided, for the denial text the model reads (e.g. "principal:alice")
    reason: str | None = None


@dataclass(frozen=True)
class _Prepared:
    """What a step's tool calls needed from the network, done before its write transaction."""

    vectors: dict[str, list[float]]  # archival query embeddings, by query
    outside: dict[str, tuple[bool, str]]  # outcomes of calls run outside it, by call id


@dataclass(frozen=True)
class _Settlement:
    approval: Approval
    pending: list[ToolCall]
    earlier: list[Message]  # the turn's tool results before the pause
    prepared: _Prepared


async def paused_run(q: Queries, agent: Agent) -> str | None:
    """The id of the agent's run waiting for approval (only agents with approval rules can have one)."""
    if not any(rule.type == "requires_approval" for rule in agent.tool_rules):
        return None
    paused = await q.runs.for_agent(agent.id, status=RunStatus.requires_approval, limit=1)
    return paused[0].id if paused else None


def _tool_return(
    agent_id: str, seq: int, call: ToolCall, outcome: ToolOutcome, run_id: str, step_id: str | None, now: datetime
) -> Message:
    """The tool-role message carrying ``outcome`` (Letta's envelope) as the answer to ``call``."""
    returned = Message(
        id=new_id("message"),
        agent_id=agent_id,
        seq=seq,
        role=Role.tool,
        content=outcome.envelope(now),
        tool_call_id=call.id,
        tool_name=call.name,
        run_id=run_id,
        step_id=step_id,
        created_at=now,
    )
    return returned.model_copy(update={"tokens": estimate_message(returned)})


def unanswered_calls(messages: list[Message]) -> list[ToolCall]:
    """The calls of the newest assistant message in ``messages`` that have no tool result (a run
    paused for approval: the calls waiting for the decision; a step may have run others)."""
    answered = {m.tool_call_id for m in messages if m.role is Role.tool}
    last = next((m for m in reversed(messages) if m.role is Role.assistant and m.tool_calls), None)
    return [c for c in (last.tool_calls if last else []) if c.id not in answered]


_NOT_RUN = "Not run: the run ended before this call was answered. Call the tool again if it is still needed."


async def _answer_dangling_calls(q: Queries, agent_id: str, run_id: str, now: datetime) -> tuple[list[Message], int]:
    """Answer, as not run, the tool calls of the agent's newest assistant message that have no
    result (a few rows read: such a message is always at the tail of the history). Also returns the
    next free seq: the tail read here starts with the newest message, so no second query is needed."""
    tail = await q.messages.tail(agent_id, limit=16)
    seq = tail[0].seq + 1 if tail else 0
    answered: set[str] = set()
    for message in tail:
        if message.role is Role.tool:
            answered.add(message.tool_call_id or "")
            continue
        if message.role is Role.assistant and message.tool_calls:
            missing = [c for c in message.tool_calls if c.id not in answered]
            notes = [
                _tool_return(agent_id, seq + i, c, ToolOutcome(False, _NOT_RUN), run_id, None, now)
                for i, c in enumerate(missing)
            ]
            if notes:
                await q.messages.insert(notes)
            return notes, seq + len(notes)
        break
    return [], seq


def _tool_message(message: Message) -> str:
    """The ``message`` of a stored tool result envelope."""
    try:
        return str(json.loads(message.content or "{}").get("message", ""))
    except ValueError:
        return message.content or ""


def _notice(agent_id: str, seq: int, text: str, now: datetime) -> Message:
    """A hidden runtime notice to the model (user role, a system alert as Letta sends them)."""
    notice = Message(
        id=new_id("message"),
        agent_id=agent_id,
        seq=seq,
        role=Role.user,
        content=system_alert(f"[This is an automated system message hidden from the user] {text}", now),
        created_at=now,
    )
    return notice.model_copy(update={"tokens": estimate_message(notice)})


def _stop_reason(response: ModelResponse, outcomes: list[ToolOutcome], *, last_step: bool) -> StopReason | None:
    if not response.tool_calls:
        return StopReason.max_tokens_exceeded if response.finish_reason == "length" else StopReason.end_turn
    if any(o.terminal and o.ok and o.by_rule for o in outcomes):
        return StopReason.tool_rule
    if any(o.terminal and o.ok for o in outcomes):
        return StopReason.end_turn
    return StopReason.max_steps if last_step else None


def _close(run: Run, stop: StopReason) -> None:
    run.stop_reason = stop
    run.status = stop.run_status
    run.completed_at = utcnow()


def agent_tools(agent: Agent) -> list[ToolSchema]:
    """The schemas offered to the model (shared and read-only: requests never modify them)."""
    return [BUILTIN_TOOL_SCHEMAS[name] for name in agent.tools if name in BUILTIN_TOOL_SCHEMAS]
