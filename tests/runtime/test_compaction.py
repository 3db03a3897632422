"""Context-window management over long scripted conversations with a tiny window."""

from __future__ import annotations

import re

import anyio
import pytest

from letta_mcp.llm.errors import ContextWindowExceededError, LLMServerError
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.llm.tokens import estimate_request
from letta_mcp.models import ModelRequest, ModelResponse, Role, StopReason
from letta_mcp.runtime.compaction import SUMMARIZER_PROMPT
from letta_mcp.service import AgentService
from letta_mcp.service.errors import AgentUnavailableError

pytestmark = pytest.mark.anyio

WINDOW = 2_000
TOOLS = ["core_memory_append", "conversation_search"]
FACT = re.compile(r"FACT-\d+")
_MAX_MESSAGES = 200  # a chat that has not compacted by then never will: fail instead of looping


def is_summarizer(request: ModelRequest) -> bool:
    return request.messages[0].content == SUMMARIZER_PROMPT.format(max_words=300)


class Model:
    """A scripted model: answers turns, saves every 4th fact with a tool call, and summarizes by
    listing every FACT-n marker it is shown (so carried-forward facts are visible)."""

    def __init__(self, summarizer_fails: bool = False) -> None:
        self.summarizer_fails = summarizer_fails
        self.turn_requests: list[ModelRequest] = []
        self.turn = 0  # set by the test before each message
        self.turn_of: list[int] = []
        self.summarizer_requests: list[ModelRequest] = []

    def __call__(self, request: ModelRequest) -> ModelResponse | LLMServerError:
        if is_summarizer(request):
            self.summarizer_requests.append(request)
            if self.summarizer_fails:
                return LLMServerError("summarizer unavailable")
            facts = sorted(set(FACT.findall(request.messages[1].content or "")), key=lambda f: int(f[5:]))
            return reply("Summary of facts: " + ", ".join(facts))
        self.turn_requests.append(request)
        self.turn_of.append(self.turn)
        last = request.messages[-1]
        if last.role is Role.user and (last.content or "").startswith("Please save"):
            fact = FACT.search(last.content or "")
            return call("core_memory_append", {"label": "human", "content": fact.group() if fact else "?"})
        return reply("Understood, noted with thanks. " * 3)


async def _agent(service: AgentService, window: int | None = WINDOW) -> str:
    details = await service.create_agent(name="tiny", tools=TOOLS, context_window=window)
    return details.agent.id


async def _chat_until_compaction(service: AgentService, model: Model, agent_id: str) -> int:
    """Send numbered facts until the model has been asked for a summary; returns the last number sent."""
    with anyio.fail_after(60):
        for i in range(1, _MAX_MESSAGES + 1):
            await service.send_message(agent_id, _user_text(i))
            if model.summarizer_requests:
                return i
    raise AssertionError(f"no compaction after {_MAX_MESSAGES} messages")


def newest_user_message(request: ModelRequest) -> str | None:
    """The newest message the user wrote (runtime notices are user-role too, but JSON alerts)."""
    return next(
        (
            m.content
            for m in reversed(request.messages)
            if m.role is Role.user and not (m.content or "").startswith('{"type": "system_alert"')
        ),
        None,
    )


def _user_text(i: int) -> str:
    verb = "save" if i % 4 == 0 else "note"
    return f"Please {verb} FACT-{i}: my item number {i} is a {'blue' if i % 2 else 'red'} box kept in room {i * 7}."


async def test_long_conversation_stays_in_window_and_forgets_nothing(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    model = Model()
    scripted.default = model
    agent_id = await _agent(service)
    for i in range(1, 41):
        model.turn = i
        result = await service.send_message(agent_id, _user_text(i))
        assert result.run.stop_reason is StopReason.end_turn

    assert len(model.summarizer_requests) >= 2, "a 40-turn chat in a 2k window must compact repeatedly"
    for request in model.turn_requests:
        assert estimate_request(request) <= WINDOW
        _assert_tool_pairs_intact(request)
    # The newest user message is always present (the turn that triggered compaction included).
    for turn, request in zip(model.turn_of, model.turn_requests, strict=True):
        assert newest_user_message(request) == _user_text(turn)
    # The latest summary carries facts from the very first turns through every compaction.
    context = await service.get_context(agent_id)
    assert context.summary is not None
    assert "FACT-1," in context.summary and "FACT-2," in context.summary
    # Every later summarizer call was shown the previous summary.
    for request in model.summarizer_requests[1:]:
        assert "Previous summary:\nSummary of facts: FACT-1" in (request.messages[1].content or "")
    # Evicted messages stay in recall memory and searchable.
    assert context.messages_in_history > context.messages_in_context
    found = await service.search_messages(agent_id, query="FACT-3 room 21")
    assert _user_text(3) in [m.content for m in found]
    history = await service.list_messages(agent_id, limit=200)
    assert sum(1 for m in history if m.role is Role.user and m.kind is None) == 40


async def test_memory_pressure_warning_comes_before_first_compaction(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    model = Model()
    scripted.default = model
    agent_id = await _agent(service)
    await _chat_until_compaction(service, model, agent_id)
    warned = [
        n
        for n, r in enumerate(model.turn_requests)
        if any("will soon reach its maximum length" in (m.content or "") for m in r.messages)
    ]
    assert warned, "the agent must be warned before its first compaction"
    assert warned[0] < len(model.turn_requests) - 1


async def test_summarizer_failure_evicts_anyway_and_keeps_previous_summary(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    model = Model()
    scripted.default = model
    agent_id = await _agent(service)
    i = await _chat_until_compaction(service, model, agent_id)
    first_summary = (await service.get_context(agent_id)).summary
    assert first_summary and "FACT-1" in first_summary
    model.summarizer_fails = True
    failed_before, sent = len(model.summarizer_requests), i
    with anyio.fail_after(60):
        for i in range(sent + 1, sent + _MAX_MESSAGES + 1):
            result = await service.send_message(agent_id, _user_text(i))
            assert result.run.stop_reason is StopReason.end_turn  # the turn still completes
            if len(model.summarizer_requests) > failed_before:
                break
        else:
            raise AssertionError(f"no second compaction after {_MAX_MESSAGES} more messages")
    context = await service.get_context(agent_id)
    assert context.summary is not None
    assert "could not be written" in context.summary
    assert first_summary in context.summary  # the earlier summary is carried, never wiped
    assert context.messages_in_context > 3
    assert estimate_request(model.turn_requests[-1]) <= WINDOW


async def test_context_length_error_compacts_and_retries_once(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    model = Model()
    agent_id = await _agent(service, window=None)  # a big window: no proactive compaction
    scripted.default = model
    for i in range(1, 9):
        await service.send_message(agent_id, _user_text(i))
    assert not model.summarizer_requests
    sizes: list[int] = []

    def overflow_once(request: ModelRequest) -> ContextWindowExceededError:
        sizes.append(len(request.messages))
        return ContextWindowExceededError("maximum context length exceeded")

    scripted.add(overflow_once)  # the first call of the next turn overflows; the retry goes to `model`
    result = await service.send_message(agent_id, "And what is FACT-2 again?")
    assert result.reply
    assert len(model.summarizer_requests) == 1
    retried = model.turn_requests[-1]
    assert len(retried.messages) < sizes[0]
    assert retried.messages[-1].content == "And what is FACT-2 again?"
    assert "summary of the previous messages" in (retried.messages[1].content or "")


async def test_provider_still_over_after_retry_fails_the_run(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, window=None)
    scripted.add(ContextWindowExceededError("too long"), ContextWindowExceededError("too long"))
    with pytest.raises(AgentUnavailableError, match="too long"):
        await service.send_message(agent_id, "hello")
    async with service.store.read() as q:
        runs = await q.runs.for_agent(agent_id)
    assert runs[0].stop_reason is StopReason.llm_api_error


async def test_system_prompt_alone_over_the_window_stops_with_clear_reason(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    details = await service.create_agent(name="huge", tools=TOOLS, context_window=1_000, persona="word " * 4000)
    with pytest.raises(AgentUnavailableError, match="more than its context window of 1000"):
        await service.send_message(details.agent.id, "hi")
    assert scripted.requests == []
    async with service.store.read() as q:
        runs = await q.runs.for_agent(details.agent.id)
    assert runs[0].stop_reason is StopReason.context_window_overflow_in_system_prompt
    history = await service.list_messages(details.agent.id)
    assert history[0].content == "hi"  # the input is kept


async def test_get_context_adds_up_to_what_the_model_received(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    model = Model()
    scripted.default = model
    agent_id = await _agent(service)
    for i in range(1, 13):
        await service.send_message(agent_id, _user_text(i))
    context = await service.get_context(agent_id)
    assert sum(s.tokens for s in context.sections) == context.total_tokens
    names = [s.name for s in context.sections]
    assert names[:3] == ["system_prompt", "memory_block:persona", "memory_block:human"]
    # The next request is the current context plus the next user message; measure the last one
    # the model saw against the context as it was then: send one more message and compare.
    before = await service.get_context(agent_id)
    scripted.add(reply("ok"))
    scripted.default = None
    await service.send_message(agent_id, "x")
    sent = scripted.requests[-1]
    user_tokens = estimate_request(ModelRequest(model="m", messages=[sent.messages[-1]])) - estimate_request(
        ModelRequest(model="m", messages=[])
    )
    assert estimate_request(sent) == before.total_tokens + user_tokens
    assert 0 < context.percent_used <= 100


async def test_compact_context_on_demand(service: AgentService, scripted: ScriptedProvider) -> None:
    model = Model()
    scripted.default = model
    agent_id = await _agent(service, window=None)
    for i in range(1, 7):
        await service.send_message(agent_id, _user_text(i))
    before = await service.get_context(agent_id)
    result = await service.compact_context(agent_id)
    assert result is not None and result.summarized
    after = await service.get_context(agent_id)
    assert after.messages_in_context < before.messages_in_context
    assert after.summary is not None and "FACT-1" in after.summary
    history = await service.list_messages(agent_id, limit=200, newest_first=False)
    assert [m.content for m in history if m.role is Role.user and m.kind is None] == [
        _user_text(i) for i in range(1, 7)
    ]


def _assert_tool_pairs_intact(request: ModelRequest) -> None:
    pending: set[str] = set()
    for message in request.messages:
        if message.role is Role.tool:
            assert message.tool_call_id in pending, "tool result without its call"
            pending.discard(message.tool_call_id)
        else:
            assert not pending, "tool call without its result"
            pending = {c.id for c in message.tool_calls}
    assert not pending
