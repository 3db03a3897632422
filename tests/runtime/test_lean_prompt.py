"""A default agent is lean enough for small local models (2k-8k token windows).

Its fixed prompt (system prompt, default blocks, metadata and the default tools' schemas) stays
under a budget both as `get_context` estimates it and as real tokenizers (o200k, cl100k) count the
request a provider is sent; and an agent with a 2,048-token window chats on for many turns,
editing memory and compacting as it goes.
"""

from __future__ import annotations

import re

import anyio
import bpe_openai
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.llm.tokens import estimate_request
from letta_mcp.models import Message, ModelRequest, ModelResponse, Role, StopReason, ToolCall, utcnow
from letta_mcp.runtime.compaction import SUMMARIZER_PROMPT, choose_cut
from letta_mcp.service import AgentService
from letta_mcp.service.specs import DEFAULT_TOOLS

pytestmark = pytest.mark.anyio

BUDGET = 1_200
ENCODINGS = ("o200k_base", "cl100k_base")
FACT = re.compile(r"FACT-\d+")


async def _first_request(service: AgentService, scripted: ScriptedProvider) -> tuple[str, ModelRequest]:
    scripted.add(reply("Hi!"))
    details = await service.create_agent(name="lean")
    with anyio.fail_after(10):
        await service.send_message(details.agent.id, "Hi")
    return details.agent.id, scripted.requests[-1]


def _openai_prompt_tokens(request: ModelRequest, encoding: str) -> int:
    """Prompt tokens as OpenAI counts a chat request with tools (its published accounting: each
    message framed by 3 tokens plus 3 to prime the reply; each function as ``name:description``
    and one ``name:type:description`` line per parameter, with fixed framing tokens)."""
    enc = bpe_openai.get_encoding(encoding)
    tokens = 3 + sum(3 + len(enc.encode(m.role.value)) + len(enc.encode(m.content or "")) for m in request.messages)
    for tool in request.tools:
        tokens += 7 + len(enc.encode(f"{tool.name}:{tool.description.removesuffix('.')}"))
        properties = tool.parameters["properties"]
        tokens += 3 if properties else 0
        for name, spec in properties.items():
            tokens += 3 + len(enc.encode(f"{name}:{spec['type']}:{spec['description'].removesuffix('.')}"))
            for item in spec.get("enum", []):
                tokens += 3 + len(enc.encode(item))
            tokens -= 3 if "enum" in spec else 0
    return tokens + 12


async def test_default_agent_fixed_prompt_fits_the_budget_as_estimated(
    service: AgentService, scripted: ScriptedProvider
) -> None:
    agent_id, _ = await _first_request(service, scripted)
    context = await service.get_context(agent_id)
    fixed = {s.name: s.tokens for s in context.sections if s.name not in ("messages", "summary")}
    assert sum(fixed.values()) <= BUDGET, fixed


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_default_agent_request_fits_the_budget_as_real_tokenizers_count_it(
    service: AgentService, scripted: ScriptedProvider, encoding: str
) -> None:
    _, request = await _first_request(service, scripted)
    assert [t.name for t in request.tools] == list(DEFAULT_TOOLS)
    fixed = request.model_copy(update={"messages": request.messages[:1]})  # the system message only
    assert _openai_prompt_tokens(fixed, encoding) <= BUDGET


class SmallModel:
    """A scripted small model: every 3rd user message it saves the fact with a memory tool (cycling
    through the default editors), condenses the human block when it grows, and summarizes by listing
    the FACT-n markers it is shown."""

    def __init__(self) -> None:
        self.turn_requests: list[ModelRequest] = []
        self.summaries = 0
        self.saved: list[str] = []

    def __call__(self, request: ModelRequest) -> ModelResponse:
        if request.messages[0].content == SUMMARIZER_PROMPT.format(max_words=300):
            self.summaries += 1
            facts = sorted(set(FACT.findall(request.messages[1].content or "")), key=lambda f: int(f[5:]))
            return reply("Facts so far: " + ", ".join(facts[-20:]))
        self.turn_requests.append(request)
        last = request.messages[-1]
        fact = FACT.search(last.content or "") if last.role is Role.user else None
        if fact is None or int(fact.group()[5:]) % 3:
            return reply(f"Got it{': ' + fact.group() if fact else ''}. Anything else?")
        self.saved.append(fact.group())
        kept = " ".join(self.saved[-4:])
        edits = [
            ("core_memory_append", {"label": "human", "content": fact.group()}),
            ("memory_insert", {"label": "human", "new_string": fact.group()}),
            ("memory_rethink", {"label": "human", "new_memory": f"Recent facts: {kept}"}),
        ]
        name, arguments = edits[len(self.saved) % len(edits)]
        return call(name, arguments)


async def test_default_agent_chats_on_in_a_2048_token_window(service: AgentService, scripted: ScriptedProvider) -> None:
    # Schemas, system message and the summary's allowance (~1,700 tokens) already exceed the 70%
    # compaction target (1,433): every compaction here evicts all it can and the turn goes on.
    model = SmallModel()
    scripted.default = model
    details = await service.create_agent(name="small", context_window=2_048)
    agent_id = details.agent.id
    with anyio.fail_after(120):
        for i in range(1, 71):
            result = await service.send_message(agent_id, f"Note FACT-{i}: my locker {i} holds a {i % 7} kg box.")
            assert result.run.stop_reason is StopReason.end_turn, (i, result.run.error)

    assert model.summaries >= 3, "a 70-message chat in a 2k window must compact repeatedly"
    assert len(model.saved) >= 10
    for request in model.turn_requests:
        assert [t.name for t in request.tools] == list(DEFAULT_TOOLS)
        assert estimate_request(request) <= 2_048
    human = await service.get_block(agent_id, "human")
    assert model.saved[-1] in human.value


def _message(seq: int, role: Role, tokens: int, **fields: object) -> Message:
    return Message(
        id=f"message-{seq}", agent_id="agent-1", seq=seq, role=role, tokens=tokens, created_at=utcnow(), **fields
    )


def test_target_below_what_cannot_be_evicted_evicts_all_it_can() -> None:
    """In a small window the tool schemas, system message and summary allowance alone can exceed
    the compaction target: everything before the newest turn goes, and the turn is never split."""
    turn = [ToolCall(id="c1", name="core_memory_append", arguments="{}")]
    context = [
        _message(0, Role.system, 400),
        _message(1, Role.user, 50, content="old question"),
        _message(2, Role.assistant, 50, content="old answer"),
        _message(3, Role.user, 50, content="new question"),
        _message(4, Role.assistant, 30, tool_calls=turn),
        _message(5, Role.tool, 30, tool_call_id="c1", tool_name="core_memory_append"),
    ]
    assert choose_cut(context, fixed_tokens=1_300, budget=1_433) == 3
