"""Agent-to-agent messaging through the service: replies, one-way messages, tag fan-out, and the
refusals that keep a chain of waiting agents from deadlocking."""

from __future__ import annotations

import json
import re

import anyio
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import ModelRequest, ModelResponse, Role, RunStatus
from letta_mcp.runtime.multi_agent import MULTI_AGENT_TOOLS
from letta_mcp.service import AgentService, Change, Principal, acting_as

pytestmark = pytest.mark.anyio

_AGENT_ID = re.compile(r"AGENT_ID: (agent-[0-9a-f-]+)")
_ASK = re.compile(r"^(wait|tell|ask-tags) (\S+)(?: (\S+))? (.*)$")


def _me(request: ModelRequest) -> str:
    match = _AGENT_ID.search(request.messages[0].content or "")
    assert match, "the system message names the agent"
    return match.group(1)


class Brains:
    """One scripted model for every agent. A message ``wait <agent> <text>`` makes the agent ask
    that agent and wait; ``tell <agent> <text>`` sends one-way; ``ask-tags <all> <some> <text>``
    fans out (comma-separated tags, '-' for none). An incoming agent message is answered with
    ``<name>: got <text>`` unless it is itself an instruction, which the agent then follows."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # agent id -> name
        self.results: dict[str, list[str]] = {}  # agent id -> tool results it read

    def __call__(self, request: ModelRequest) -> ModelResponse:
        me, last = _me(request), request.messages[-1]
        if last.role is Role.tool:
            self.results.setdefault(me, []).append(json.loads(last.content or "{}")["message"])
            return reply(f"{self.names[me]} done")
        text = last.content or ""
        incoming = text.startswith("[Incoming message from agent")
        if incoming:
            text = text.split("] ", 1)[1]
        match = _ASK.match(text)
        if match is None:
            return reply(f"{self.names[me]}: got {text}")
        verb, first, second, body = match.groups()
        if verb == "ask-tags":
            tags = [[t for t in group.split(",") if t != "-"] for group in (first, second)]
            return call(MULTI_AGENT_TOOLS[2], {"message": body, "match_all": tags[0], "match_some": tags[1]})
        body = f"{second} {body}" if second else body
        tool = MULTI_AGENT_TOOLS[0] if verb == "wait" else MULTI_AGENT_TOOLS[1]
        return call(tool, {"message": body, "other_agent_id": first})


async def _agents(service: AgentService, brains: Brains, *names: str, tags: dict[str, list[str]] | None = None):
    ids = []
    for name in names:
        details = await service.create_agent(name=name, include_multi_agent_tools=True, tags=(tags or {}).get(name, []))
        brains.names[details.agent.id] = name
        ids.append(details.agent.id)
    return ids


@pytest.fixture
def brains(scripted: ScriptedProvider) -> Brains:
    scripted.default = brains = Brains()
    return brains


async def test_an_agent_asks_another_and_reads_its_reply(service: AgentService, brains: Brains) -> None:
    alice, bob = await _agents(service, brains, "alice", "bob")
    with anyio.fail_after(30):
        result = await service.send_message(alice, f"wait {bob} what is 6*7?")
    assert result.reply == "alice done"
    assert brains.results[alice] == [str({"agent_id": bob, "response": ["bob: got what is 6*7?"]})]
    # Bob's turn is a run of its own, linked to Alice's, with Letta's system-role prefix.
    [bob_run] = await service.list_runs(bob)
    assert bob_run.parent_run_id == result.run.id and bob_run.status is RunStatus.completed
    assert bob_run.input_role is Role.system
    assert bob_run.input == (
        f"[Incoming message from agent with ID '{alice}' - your response will be delivered to the sender] what is 6*7?"
    )


async def test_a_one_way_message_runs_in_the_background(service: AgentService, brains: Brains) -> None:
    alice, bob = await _agents(service, brains, "alice", "bob")
    bob_done = anyio.Event()

    async def listen(change: Change) -> None:
        if change.agent_id == bob and change.run_id:
            bob_done.set()

    service.on_change(listen)
    with anyio.fail_after(30):
        result = await service.send_message(alice, f"tell {bob} the launch moved to May")
        assert brains.results[alice] == ["Successfully sent message"]
        await bob_done.wait()
    [bob_run] = await service.list_runs(bob)
    assert bob_run.parent_run_id == result.run.id and bob_run.background
    assert (await service.get_run_details(bob_run.id)).reply == "bob: got the launch moved to May"
    assert "one-way notification" in (bob_run.input or "")


async def test_a_waiting_cycle_is_refused_at_once(service: AgentService, brains: Brains) -> None:
    alice, bob, carol = await _agents(service, brains, "alice", "bob", "carol")
    with anyio.fail_after(30):
        await service.send_message(alice, f"wait {bob} wait {alice} hello")  # A -> B -> A
        await service.send_message(alice, f"wait {bob} wait {carol} wait {alice} hi")  # A -> B -> C -> A
    refusals = [r for r in brains.results[bob] + brains.results.get(carol, []) if r.startswith("Refused")]
    assert len(refusals) == 2
    assert f"({alice} → {bob} → {alice})" in refusals[0]
    assert f"({alice} → {bob} → {carol} → {alice})" in refusals[1]
    assert "send_message_to_agent_async" in refusals[0]
    # Each refused call still let its caller answer, and nothing was queued for Alice.
    assert [r.parent_run_id is None for r in await service.list_runs(alice)] == [True, True]


async def test_chains_deeper_than_the_limit_are_refused(service: AgentService, brains: Brains) -> None:
    ids = await _agents(service, brains, "a", "b", "c", "d", "e")
    chain = " ".join(f"wait {agent_id}" for agent_id in ids[1:])
    with anyio.fail_after(30):
        await service.send_message(ids[0], f"{chain} deep")
    [refusal] = [r for r in brains.results[ids[3]] if r.startswith("Refused")]
    assert "over the limit of 4 (setting multi_agent.max_depth)" in refusal
    assert await service.list_runs(ids[4]) == []


async def test_tag_fan_out_reaches_exactly_the_matching_agents(service: AgentService, brains: Brains) -> None:
    tags = {"w1": ["team", "worker"], "w2": ["team", "reviewer"], "w3": ["team"], "x": ["worker"]}
    boss, w1, w2, w3, x = await _agents(service, brains, "boss", "w1", "w2", "w3", "x", tags=tags)
    with anyio.fail_after(30):
        await service.send_message(boss, "ask-tags team worker,reviewer status?")
    [answers] = brains.results[boss]
    assert answers == str(
        sorted(
            [{"agent_id": w1, "response": ["w1: got status?"]}, {"agent_id": w2, "response": ["w2: got status?"]}],
            key=lambda r: [w2, w1].index(r["agent_id"]),  # newest agents first, as list_agents orders them
        )
    )
    assert await service.list_runs(w3) == [] and await service.list_runs(x) == []


async def test_agents_of_another_principal_are_unknown(service: AgentService, brains: Brains) -> None:
    with acting_as(Principal("bob")):
        [bobs] = await _agents(service, brains, "bobs")
    with acting_as(Principal("alice")):
        [alices] = await _agents(service, brains, "alices")
        with anyio.fail_after(30):
            await service.send_message(alices, f"wait {bobs} hi")
    assert brains.results[alices] == [
        f"No agent with id {bobs!r}. Use an id you were given, or send_message_to_agents_matching_tags to reach "
        "agents by tag."
    ]
    with acting_as(Principal("bob")):
        assert await service.list_runs(bobs) == []


async def test_multi_agent_tools_are_opt_in(service: AgentService) -> None:
    plain = await service.create_agent(name="plain")
    assert not set(MULTI_AGENT_TOOLS) & set(plain.agent.tools)
    chosen = await service.create_agent(name="chosen", tools=["send_message_to_agent_async"])
    assert chosen.agent.tools == ["send_message_to_agent_async"]
