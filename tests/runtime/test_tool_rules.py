"""Tool rules (Letta's types): what the model is shown at each step, what it may call, when the turn
ends, and runs that pause for a client's approval."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp import Client

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, RunStatus, StopReason, ToolRule
from letta_mcp.runtime.tool_rules import ToolRulesSolver, render_rules
from letta_mcp.server import create_server
from letta_mcp.service import AgentService, ConflictError, InvalidRequestError
from server.mcp_helpers import err, ok, snapshot

pytestmark = pytest.mark.anyio

TOOLS = ["core_memory_append", "conversation_search", "memory_rethink", "memory_insert"]


def rule(type_: str, tool: str, **extra: object) -> ToolRule:
    return ToolRule.model_validate({"type": type_, "tool_name": tool, **extra})


def offered(request: ModelRequest) -> list[str]:
    return [t.name for t in request.tools]


def results(scripted: ScriptedProvider) -> list[str]:
    """The tool results the model read, in order."""
    seen: list[str] = []
    for request in scripted.requests:
        for m in request.messages:
            if m.role.value == "tool":
                text = json.loads(m.content or "{}")["message"]
                if text not in seen:
                    seen.append(text)
    return seen


# --- the solver on its own ----------------------------------------------------------------------


def test_solver_run_first_child_parent_count_conditional_and_exit() -> None:
    solver = ToolRulesSolver(
        [
            rule("run_first", "conversation_search"),
            rule("constrain_child_tools", "conversation_search", children=["memory_insert"]),
            rule("parent_last_tool", "memory_insert", children=["memory_rethink"]),
            rule("max_count_per_step", "memory_insert", max_count_limit=1),
            rule("required_before_exit", "core_memory_append"),
        ]
    )
    assert solver.allowed(TOOLS) == ["conversation_search"] and solver.must_call(TOOLS)
    assert solver.violation("core_memory_append", TOOLS) == (
        "[ToolConstraintError] Cannot call core_memory_append, valid tools include: ['conversation_search']."
    )
    solver.record("conversation_search", "[]")
    assert solver.allowed(TOOLS) == ["memory_insert"] and solver.must_call(TOOLS)
    solver.record("memory_insert", "ok")
    # memory_insert used up (max 1); memory_rethink allowed only right after it.
    assert solver.allowed(TOOLS) == ["core_memory_append", "conversation_search", "memory_rethink"]
    assert solver.uncalled_before_exit() == ["core_memory_append"]
    solver.record("core_memory_append", "ok")
    assert solver.allowed(TOOLS) == ["core_memory_append", "conversation_search"]
    assert solver.uncalled_before_exit() == [] and not solver.must_call(TOOLS)


def test_solver_conditional_follows_the_output() -> None:
    conditional = rule(
        "conditional",
        "conversation_search",
        child_output_mapping={"true": "memory_insert", "false": "core_memory_append"},
        default_child="memory_rethink",
    )
    for output, child in (("true", "memory_insert"), ("false", "core_memory_append"), ("maybe", "memory_rethink")):
        solver = ToolRulesSolver([conditional])
        solver.record("conversation_search", output)
        assert solver.allowed(TOOLS) == [child]


def test_rules_are_rendered_for_the_prompt() -> None:
    text = render_rules(
        [rule("exit_loop", "memory_rethink"), rule("max_count_per_step", "memory_insert", max_count_limit=2)]
    )
    assert text.startswith("<tool_usage_rules>") and text.endswith("</tool_usage_rules>")
    assert "<tool_rule>\nmemory_rethink ends your response (yields control) when called.\n</tool_rule>" in text
    assert "memory_insert: at most 2 use(s) per response." in text
    assert render_rules([]) == ""


# --- enforced in the loop -----------------------------------------------------------------------


async def _agent(service: AgentService, *rules: ToolRule) -> str:
    details = await service.create_agent(name="ruled", tools=TOOLS, tool_rules=list(rules))
    return details.agent.id


async def test_the_model_sees_only_allowed_tools_and_a_forbidden_call_is_refused(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await _agent(
        service,
        rule("run_first", "conversation_search"),
        rule("max_count_per_step", "conversation_search", max_count_limit=1),
    )
    scripted.add(
        call("core_memory_append", {"label": "human", "content": "sneaky"}),  # forbidden: not run first
        call("conversation_search", {"query": "x"}),
        call("conversation_search", {"query": "again"}),  # over its count
        reply("done"),
    )
    result = await service.send_message(agent_id, "hi")
    assert result.reply == "done" and result.run.stop_reason is StopReason.end_turn
    first, second, third, _ = scripted.requests
    assert offered(first) == ["conversation_search"] and first.tool_choice == "required"
    assert offered(second) == ["conversation_search"]  # still nothing ran first
    assert "conversation_search" not in offered(third) and third.tool_choice == "auto"
    texts = results(scripted)
    assert texts[0].startswith("[ToolConstraintError] Cannot call core_memory_append, valid tools include:")
    assert texts[-1].startswith("[ToolConstraintError] Cannot call conversation_search")
    human = next(b for b in (await service.get_agent(agent_id)).blocks if b.label == "human")
    assert "sneaky" not in human.value  # the refused call never ran
    assert "<tool_usage_rules>" in (scripted.requests[0].messages[0].content or "")


async def test_exit_loop_ends_the_turn(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("exit_loop", "memory_insert"))
    scripted.add(call("memory_insert", {"label": "human", "new_string": "likes tea"}))
    result = await service.send_message(agent_id, "I like tea")
    assert result.run.stop_reason is StopReason.tool_rule and result.run.status is RunStatus.completed
    assert len(scripted.requests) == 1


async def test_required_before_exit_keeps_the_turn_going(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("required_before_exit", "core_memory_append"))
    scripted.add(
        reply("bye"),  # too early
        call("core_memory_append", {"label": "human", "content": "said bye"}),
        reply("bye now"),
    )
    result = await service.send_message(agent_id, "bye")
    assert result.reply == "bye now" and len(scripted.requests) == 3
    notice = scripted.requests[1].messages[-1].content or ""
    assert "you must still call ['core_memory_append'] before you end your response" in notice


async def test_bad_rules_are_refused_and_nothing_is_written(service: AgentService) -> None:
    before = await snapshot(service)
    for rules, message in (
        ([rule("exit_loop", "web_search")], "the agent has no tool 'web_search'"),
        ([rule("constrain_child_tools", "memory_insert")], "'children' must be a non-empty list"),
        ([rule("max_count_per_step", "memory_insert", max_count_limit=0)], "'max_count_limit' must be an integer"),
        ([rule("teleport", "memory_insert")], "unknown rule type"),
    ):
        with pytest.raises(InvalidRequestError, match=message):
            await service.create_agent(name="bad", tools=TOOLS, tool_rules=rules)
    assert await snapshot(service) == before
    agent_id = await _agent(service, rule("exit_loop", "memory_insert"))
    with pytest.raises(InvalidRequestError, match="the agent has no tool 'memory_insert'"):
        await service.update_agent(agent_id, tools=["core_memory_append"])  # would orphan the rule


# --- approval -----------------------------------------------------------------------------------


async def test_a_call_needing_approval_pauses_the_run_until_approved(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id = await _agent(service, rule("requires_approval", "core_memory_append"))
    scripted.add(call("core_memory_append", {"label": "human", "content": "Name: Sam"}), reply("Saved, Sam."))
    paused = await service.send_message(agent_id, "I'm Sam")
    assert paused.run.stop_reason is StopReason.requires_approval
    assert paused.run.status is RunStatus.requires_approval and paused.reply is None
    assert len(scripted.requests) == 1
    human = next(b for b in (await service.get_agent(agent_id)).blocks if b.label == "human")
    assert "Sam" not in human.value
    with pytest.raises(ConflictError, match=f"approve_run\\(run_id='{paused.run.id}'"):
        await service.send_message(agent_id, "anything else?")

    with anyio.fail_after(20):
        resumed = await service.approve_run(paused.run.id, approve=True)
    assert resumed.run.id == paused.run.id and resumed.reply == "Saved, Sam."
    assert resumed.run.status is RunStatus.completed and resumed.run.stop_reason is StopReason.end_turn
    human = next(b for b in (await service.get_agent(agent_id)).blocks if b.label == "human")
    assert "Name: Sam" in human.value
    with pytest.raises(ConflictError, match="is not waiting for approval"):
        await service.approve_run(paused.run.id, approve=True)


async def test_a_denied_call_is_reported_to_the_model(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("requires_approval", "memory_rethink"))
    scripted.add(call("memory_rethink", {"label": "human", "new_memory": "wiped"}), reply("Understood."))
    paused = await service.send_message(agent_id, "forget me")
    resumed = await service.approve_run(paused.run.id, approve=False, reason="keep the notes")
    assert resumed.reply == "Understood."
    assert results(scripted)[-1] == "The call was denied by principal:local: keep the notes Do not retry it."
    human = next(b for b in (await service.get_agent(agent_id)).blocks if b.label == "human")
    assert human.value != "wiped"


async def test_cancelling_a_paused_run_denies_its_call(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("requires_approval", "memory_rethink"))
    scripted.add(call("memory_rethink", {"label": "human", "new_memory": "wiped"}))
    paused = await service.send_message(agent_id, "forget me")
    with anyio.fail_after(20):
        cancelled = await service.cancel_run(paused.run.id)
    assert cancelled.status is RunStatus.cancelled
    scripted.add(reply("still here"))
    assert (await service.send_message(agent_id, "hello?")).reply == "still here"  # the history is whole again


async def test_rules_and_approval_through_mcp(service: AgentService, scripted: ScriptedProvider) -> None:
    async with Client(create_server(service)) as client:
        created = ok(
            await client.call_tool(
                "create_agent",
                {
                    "name": "m",
                    "tools": TOOLS,
                    "tool_rules": [{"type": "requires_approval", "tool_name": "memory_insert"}],
                },
            )
        )
        refused = err(
            await client.call_tool(
                "update_agent", {"agent_id": created["id"], "tool_rules": [{"type": "exit_loop", "tool_name": "nope"}]}
            )
        )
        assert "the agent has no tool 'nope'" in refused
        scripted.add(call("memory_insert", {"label": "human", "new_string": "x"}), reply("ok"))
        sent = ok(await client.call_tool("send_message", {"agent_id": created["id"], "message": "note x"}))
        assert sent["stop_reason"] == "requires_approval" and sent["status"] == "requires_approval"
        listed = ok(await client.call_tool("list_runs", {"agent_id": created["id"], "status": "requires_approval"}))
        assert [r["run_id"] for r in listed["runs"]] == [sent["run_id"]]
        done = ok(await client.call_tool("approve_run", {"run_id": sent["run_id"], "approve": True}))
        assert done["reply"] == "ok" and done["status"] == "completed"


async def test_approving_an_exit_loop_call_ends_the_turn(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("requires_approval", "memory_insert"), rule("exit_loop", "memory_insert"))
    scripted.add(call("memory_insert", {"label": "human", "new_string": "likes tea"}))
    paused = await service.send_message(agent_id, "I like tea")
    with anyio.fail_after(20):
        resumed = await service.approve_run(paused.run.id, approve=True)
    assert resumed.run.stop_reason is StopReason.tool_rule and len(scripted.requests) == 1


async def test_rules_cannot_change_under_a_paused_run(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("requires_approval", "memory_insert"))
    scripted.add(call("memory_insert", {"label": "human", "new_string": "x"}))
    paused = await service.send_message(agent_id, "note x")
    with pytest.raises(ConflictError, match=f"Run {paused.run.id} of this agent is waiting for approval"):
        await service.update_agent(agent_id, tool_rules=[])


async def test_a_call_left_unanswered_is_answered_as_not_run(service: AgentService, scripted: ScriptedProvider) -> None:
    agent_id = await _agent(service, rule("requires_approval", "memory_insert"))
    scripted.add(call("memory_insert", {"label": "human", "new_string": "x"}))
    paused = await service.send_message(agent_id, "note x")
    # The process resuming it died before answering: the sweep leaves the run interrupted.
    async with service.store.write() as q:
        run = await q.runs.get(paused.run.id)
        assert run is not None
        await q.runs.update(run.model_copy(update={"status": RunStatus.interrupted}))
    scripted.add(reply("fresh start"))
    assert (await service.send_message(agent_id, "hello again")).reply == "fresh start"
    sent = [m for m in scripted.requests[-1].messages if m.role.value == "tool"]
    assert "Not run: the run ended before this call was answered" in (sent[-1].content or "")


async def test_a_rule_verdict_is_decided_once_for_calls_run_outside_the_step(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    sender = await service.create_agent(
        name="sender",
        tools=["send_message_to_agent_async"],
        tool_rules=[rule("max_count_per_step", "send_message_to_agent_async", max_count_limit=1)],
    )
    target = await service.create_agent(name="target")
    notify = {"message": "hi", "other_agent_id": target.agent.id}
    scripted.add(tool_calls_response(notify, notify), reply("sent"))
    scripted.default = reply("target heard")
    await service.send_message(sender.agent.id, "tell them twice")
    texts = results(scripted)
    assert texts[0] == "Successfully sent message" and texts[1].startswith("[ToolConstraintError]")
    # A one-way message is accepted (its run committed) before the sender's step goes on.
    assert len(await service.list_runs(target.agent.id)) == 1  # the refused call was never delivered


def tool_calls_response(*arguments: dict[str, object]):
    from letta_mcp.models import ModelResponse, ToolCall

    calls = [
        ToolCall(id=f"call_twice_{i}", name="send_message_to_agent_async", arguments=json.dumps(args))
        for i, args in enumerate(arguments)
    ]
    return ModelResponse(tool_calls=calls, finish_reason="tool_calls")
