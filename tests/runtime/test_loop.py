"""The step loop through `AgentService` with a scripted model: persistence, atomicity, ordering."""

from __future__ import annotations

import json

import anyio
import pytest

from letta_mcp.llm.errors import LLMServerError
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, Role, RunStatus, StopReason, Usage, utcnow
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.service import AgentService
from letta_mcp.service.errors import AgentUnavailableError

pytestmark = pytest.mark.anyio


async def test_input_is_committed_before_the_model_is_called(service: AgentService, scripted: ScriptedProvider) -> None:
    agent = (await service.create_agent(name="a")).agent
    seen: list[list[str | None]] = []

    def answer(request: ModelRequest) -> LLMServerError:
        seen.append([m.content for m in request.messages])
        return LLMServerError("upstream down")

    scripted.add(answer)
    with pytest.raises(AgentUnavailableError, match="upstream down") as caught:
        await service.send_message(agent.id, "remember the milk")
    assert seen[0][-1] == "remember the milk"
    history = await service.list_messages(agent.id, newest_first=False)
    assert [(m.role, m.content) for m in history[1:]] == [(Role.user, "remember the milk")]
    run = await service.get_run(caught.value.run_id)
    assert (run.status, run.stop_reason) == (RunStatus.failed, StopReason.llm_api_error)
    async with service.store.read() as q:
        steps = await q.runs.steps(run.id)
    assert [s.error for s in steps] == ["LLMServerError: upstream down"]


async def test_failed_later_step_keeps_earlier_steps_whole(service: AgentService, scripted: ScriptedProvider) -> None:
    agent = (await service.create_agent(name="a")).agent
    scripted.add(call("core_memory_append", {"label": "human", "content": "Likes tea."}), LLMServerError("gone"))
    with pytest.raises(AgentUnavailableError):
        await service.send_message(agent.id, "I like tea")
    assert (await service.get_block(agent.id, "human")).value == "Likes tea."
    context = await _context(service, agent.id)
    # The tool call and its result were committed together; no dangling call.
    assert [m.role for m in context] == [Role.system, Role.user, Role.assistant, Role.tool]
    assert context[3].tool_call_id == context[2].tool_calls[0].id
    # The agent stays usable: the next turn sends a valid history to the model.
    scripted.add(reply("Noted."))
    result = await service.send_message(agent.id, "hello again")
    assert result.reply == "Noted."
    assert [m.role for m in scripted.requests[-1].messages] == [
        Role.system,
        Role.user,
        Role.assistant,
        Role.tool,
        Role.user,
    ]


async def test_system_message_is_rewritten_only_when_memory_changes(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent = (await service.create_agent(name="a", human="")).agent
    scripted.add(reply("one"), reply("two"))
    await service.send_message(agent.id, "1")
    await service.send_message(agent.id, "2")
    first, second = (r.messages[0].content for r in scripted.requests)
    assert first == second  # byte-identical prefix: provider prompt caches stay warm
    scripted.add(call("memory_insert", {"label": "human", "new_string": "Prefers short answers."}), reply("ok"))
    await service.send_message(agent.id, "3")
    before_edit, after_edit = (r.messages[0].content for r in scripted.requests[-2:])
    assert "Prefers short answers." not in before_edit
    assert "<human>" in after_edit and "Prefers short answers." in after_edit.split("<human>")[1]


async def test_each_step_is_recorded_with_usage(service: AgentService, scripted: ScriptedProvider) -> None:
    agent = (await service.create_agent(name="a")).agent
    usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    scripted.add(call("conversation_search", {"query": "anything"}, usage=usage), reply("done", usage=usage))
    result = await service.send_message(agent.id, "search please")
    assert result.run.step_count == 2
    assert result.run.usage.total_tokens == 30
    async with service.store.read() as q:
        steps = await q.runs.steps(result.run.id)
        stored = await q.runs.get(result.run.id)
    assert [(s.index, s.usage.total_tokens) for s in steps] == [(0, 15), (1, 15)]
    assert stored == result.run
    tool_result = json.loads(result.messages[2].content or "")
    assert tool_result["status"] == "OK" and set(tool_result) == {"status", "message", "time"}


async def test_turns_of_one_agent_never_interleave(service: AgentService, scripted: ScriptedProvider) -> None:
    agent = (await service.create_agent(name="a")).agent
    # Each turn makes two model calls (a tool call, then the reply); the scripted answer
    # echoes the user message, so interleaving would show up as mismatched pairs.

    def step(request: ModelRequest):
        last_user = next(m.content for m in reversed(request.messages) if m.role is Role.user)
        if request.messages[-1].role is Role.user:
            return call("conversation_search", {"query": last_user})
        return reply(f"re: {last_user}")

    scripted.default = step  # every call answers through `step`
    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(service.send_message, agent.id, f"message {i}")
    history = await service.list_messages(agent.id, newest_first=False, limit=100)
    turns = [m for m in history if m.role is Role.user or (m.role is Role.assistant and not m.tool_calls)]
    pairs = list(zip(turns[::2], turns[1::2], strict=True))
    assert len(pairs) == 5
    for user, answer in pairs:
        assert answer.content == f"re: {user.content}"
    # and within each turn the 4 messages are contiguous
    for i in range(5):
        seqs = [m.seq for m in history if m.run_id == history[1 + 4 * i].run_id]
        assert seqs == list(range(seqs[0], seqs[0] + 4))


async def test_messages_out_of_context_are_not_sent_but_stay_searchable(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent = (await service.create_agent(name="a")).agent
    scripted.add(reply("first answer"))
    await service.send_message(agent.id, "the secret word is pineapple")
    async with service.store.write() as q:  # evict the first exchange, as compaction would
        await q.db.execute(
            "UPDATE messages SET in_context = 0 WHERE agent_id = :a AND seq IN (1, 2)", {"a": agent.id}
        )
        await refresh_system_message(q, agent, utcnow())
    scripted.add(reply("second answer"))
    await service.send_message(agent.id, "what was it?")
    sent = [m.content for m in scripted.requests[-1].messages[1:]]
    assert sent == ["what was it?"]
    assert "2 previous messages" in (scripted.requests[-1].messages[0].content or "")
    found = await service.search_messages(agent.id, query="pineapple")
    assert found[0].content == "the secret word is pineapple"  # then the turns around it (context)


async def _context(service: AgentService, agent_id: str):
    async with service.store.read() as q:
        return await q.messages.in_context(agent_id)
