"""An agent with model 'client' thinks with the calling MCP client's model (sampling), and a run
paused for approval asks the user through elicitation; both through the SDK client's callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    CreateMessageResultWithTools,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    SamplingCapability,
    SamplingToolsCapability,
    TextContent,
    ToolResultContent,
    ToolUseContent,
)
from mcp_helpers import err, ok, snapshot

from letta_mcp.config import ConfigError, load_settings
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import Role
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

Answer = CreateMessageResult | CreateMessageResultWithTools


class ClientModel:
    """The MCP client's model: answers sampling requests from a script and records them."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.asked: list[CreateMessageRequestParams] = []

    async def __call__(self, _ctx: Any, params: CreateMessageRequestParams) -> Answer:
        self.asked.append(params)
        return self.answers.pop(0)


def text(answer: str) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", model="client-llm", content=TextContent(type="text", text=answer))


def tool_use(name: str, arguments: dict[str, Any]) -> CreateMessageResultWithTools:
    return CreateMessageResultWithTools(
        role="assistant",
        model="client-llm",
        content=[ToolUseContent(id="use-1", name=name, input=arguments)],
        stop_reason="toolUse",
    )


async def client_agent(client: Client) -> str:
    return ok(await client.call_tool("create_agent", {"name": "lent", "model": "client"}))["id"]


async def human_block(client: Client, agent_id: str) -> str:
    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
    return str(memory)


async def test_agent_calls_tools_through_sampling_tools(service: AgentService, scripted: ScriptedProvider) -> None:
    model = ClientModel(tool_use("core_memory_append", {"label": "human", "content": "Likes tea."}), text("Noted!"))
    tools = SamplingCapability(tools=SamplingToolsCapability())
    with anyio.fail_after(30):
        async with Client(
            create_server(service), mode="legacy", sampling_callback=model, sampling_capabilities=tools
        ) as client:
            agent_id = await client_agent(client)
            sent = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "I like tea"}))
            memory = await human_block(client, agent_id)
    assert sent["reply"] == "Noted!" and sent["status"] == "completed"
    assert "Likes tea." in memory
    first, second = model.asked
    assert first.tools is not None and "core_memory_append" in {t.name for t in first.tools}
    assert first.system_prompt is not None and "<memory_blocks>" in first.system_prompt
    assert first.messages[-1].role == "user" and "I like tea" in str(first.messages[-1].content)
    # The tool's result goes back to the client's model as the answer to its tool use.
    [result] = [
        b for m in second.messages if isinstance(m.content, list) for b in m.content if isinstance(b, ToolResultContent)
    ]
    assert result.tool_use_id == "use-1" and "OK" in str(result.content)
    assert scripted.requests == []  # the configured provider was never asked


async def test_without_sampling_tools_the_model_writes_tool_calls_as_json(service: AgentService) -> None:
    call_json = '```json\n{"tool": "core_memory_append", "arguments": {"label": "human", "content": "Has a cat."}}\n```'
    model = ClientModel(text(call_json), text("I'll remember your cat."))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy", sampling_callback=model) as client:
            agent_id = await client_agent(client)
            sent = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "I have a cat"}))
            memory = await human_block(client, agent_id)
    assert sent["reply"] == "I'll remember your cat."
    assert "Has a cat." in memory
    first, second = model.asked
    assert first.tools is None
    assert first.system_prompt is not None and "answer with only a JSON object" in first.system_prompt
    assert "core_memory_append" in first.system_prompt
    assert any("Result of tool core_memory_append" in str(m.content) for m in second.messages)


async def test_client_without_sampling_gets_a_clear_error_and_nothing_is_written(service: AgentService) -> None:
    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy") as client:
            agent_id = await client_agent(client)
            before = await snapshot(service)
            refused = err(await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi"}))
            assert await snapshot(service) == before
    assert "does not support sampling" in refused and "update_agent(model=" in refused


async def test_modern_era_client_is_told_to_connect_with_2025_11_25(service: AgentService) -> None:
    model = ClientModel(text("never"))
    with anyio.fail_after(30):
        async with Client(create_server(service), sampling_callback=model) as client:
            agent_id = await client_agent(client)
            refused = err(await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi"}))
    assert "2025-11-25" in refused
    assert model.asked == []


async def test_background_run_of_a_client_model_agent_is_refused(service: AgentService) -> None:
    model = ClientModel(text("never"))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy", sampling_callback=model) as client:
            agent_id = await client_agent(client)
            before = await snapshot(service)
            arguments = {"agent_id": agent_id, "message": "hi", "background": True}
            refused = err(await client.call_tool("send_message", arguments))
            assert await snapshot(service) == before
    assert "background=false" in refused
    assert model.asked == []


async def test_a_refused_sampling_request_fails_the_turn_with_the_clients_reason(service: AgentService) -> None:
    async def refuse(_ctx: Any, _params: CreateMessageRequestParams) -> ErrorData:
        return ErrorData(code=-1, message="the user rejected the sampling request")

    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy", sampling_callback=refuse) as client:
            agent_id = await client_agent(client)
            refused = err(await client.call_tool("send_message", {"agent_id": agent_id, "message": "hi"}))
            history = ok(await client.call_tool("list_messages", {"agent_id": agent_id}))
    assert "the user rejected the sampling request" in refused
    assert any(m.get("content") == "hi" for m in history["messages"])  # the message itself was kept


async def test_approve_run_resumes_a_client_model_turn_with_the_clients_model(service: AgentService) -> None:
    model = ClientModel(text('{"tool": "core_memory_append", "arguments": {"label": "human", "content": "Tall."}}'))
    model.answers.append(text("Saved."))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy", sampling_callback=model) as client:
            created = await client.call_tool(
                "create_agent", {"name": "careful", "model": "client", "tool_rules": APPROVAL_RULE}
            )
            agent_id = ok(created)["id"]
            paused = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "I am tall"}))
            assert paused["status"] == "requires_approval"
            resumed = ok(await client.call_tool("approve_run", {"run_id": paused["run_id"], "approve": True}))
            memory = await human_block(client, agent_id)
    assert resumed["reply"] == "Saved." and "Tall." in memory
    assert len(model.asked) == 2


async def test_update_agent_switches_to_and_from_the_client_model(service: AgentService) -> None:
    with anyio.fail_after(30):
        async with Client(create_server(service)) as client:
            agent_id = ok(await client.call_tool("create_agent", {"name": "switcher"}))["id"]
            lent = ok(await client.call_tool("update_agent", {"agent_id": agent_id, "model": "client"}))
            back = ok(await client.call_tool("update_agent", {"agent_id": agent_id, "model": "openai/gpt-4o-mini"}))
            bad = err(await client.call_tool("update_agent", {"agent_id": agent_id, "model": "clients"}))
    assert lent["model"] == "client" and back["model"] == "openai/gpt-4o-mini"
    assert "provider/model" in bad


async def test_client_is_never_the_default_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="opt-in per agent"):
        load_settings(overrides={"data_dir": str(tmp_path), "default_model": "client"}, environ={})


class User:
    """The person behind the client, answering elicitations from a script."""

    def __init__(self, *answers: ElicitResult) -> None:
        self.answers = list(answers)
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, _ctx: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        return self.answers.pop(0)


APPROVAL_RULE = [{"type": "requires_approval", "tool_name": "core_memory_append"}]


async def approval_agent(client: Client) -> str:
    created = await client.call_tool("create_agent", {"name": "careful", "tool_rules": APPROVAL_RULE})
    return ok(created)["id"]


ERAS = pytest.mark.parametrize("mode", ["legacy", "auto"])  # 2025-11-25: asked mid-call; 2026-07-28: by retry


@ERAS
async def test_approval_is_asked_by_elicitation_and_the_turn_goes_on(
    service: AgentService, scripted: ScriptedProvider, mode: ConnectMode
) -> None:
    scripted.add(call("core_memory_append", {"label": "human", "content": "Likes jazz."}), reply("Noted."))
    user = User(ElicitResult(action="accept", content={"approve": True}))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode=mode, elicitation_callback=user) as client:
            agent_id = await approval_agent(client)
            sent = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "I like jazz"}))
            memory = await human_block(client, agent_id)
            history = ok(await client.call_tool("list_messages", {"agent_id": agent_id, "roles": ["user"]}))
    assert sent["status"] == "completed" and sent["reply"] == "Noted."
    assert "Likes jazz." in memory
    [question] = user.asked
    assert "core_memory_append" in question.message and "Likes jazz." in question.message
    assert [m["content"] for m in history["messages"]] == ["I like jazz"]  # the retry sent nothing new


@ERAS
@pytest.mark.parametrize(
    ("answer", "told"),
    [
        (ElicitResult(action="accept", content={"approve": False, "reason": "keep that private"}), "keep that private"),
        (ElicitResult(action="decline"), "The user declined."),
    ],
)
async def test_a_denial_and_its_reason_reach_the_agent(
    service: AgentService, scripted: ScriptedProvider, mode: ConnectMode, answer: ElicitResult, told: str
) -> None:
    scripted.add(call("core_memory_append", {"label": "human", "content": "Secret."}), reply("Understood."))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode=mode, elicitation_callback=User(answer)) as client:
            agent_id = await approval_agent(client)
            sent = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "remember"}))
            memory = await human_block(client, agent_id)
    assert sent["reply"] == "Understood."
    assert "Secret." not in memory
    tool_result = [m for m in scripted.requests[-1].messages if m.role is Role.tool][-1]
    assert told in (tool_result.content or "")


@pytest.mark.parametrize("mode", ["legacy", "auto", "no elicitation"])
async def test_without_a_decision_the_run_waits_for_approve_run(
    service: AgentService, scripted: ScriptedProvider, mode: str
) -> None:
    # The user cancels the question (either era), or the client cannot be asked at all.
    scripted.add(call("core_memory_append", {"label": "human", "content": "Maybe."}), reply("Done."))
    user = User(ElicitResult(action="cancel"))
    callback = None if mode == "no elicitation" else user
    era: ConnectMode = "auto" if mode == "no elicitation" else mode
    with anyio.fail_after(30):
        async with Client(create_server(service), mode=era, elicitation_callback=callback) as client:
            agent_id = await approval_agent(client)
            paused = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": "note"}))
            assert paused["status"] == "requires_approval"
            resumed = ok(await client.call_tool("approve_run", {"run_id": paused["run_id"], "approve": True}))
    assert resumed["reply"] == "Done."
    assert len(user.asked) == (0 if callback is None else 1)


async def test_compact_context_summarizes_with_the_clients_model(service: AgentService) -> None:
    model = ClientModel(text("Hello!"), text("Sure."), text("The user greeted the agent twice."))
    with anyio.fail_after(30):
        async with Client(create_server(service), mode="legacy", sampling_callback=model) as client:
            agent_id = await client_agent(client)
            for message in ("hi", "hi again"):
                ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": message}))
            compacted = ok(await client.call_tool("compact_context", {"agent_id": agent_id}))
    assert compacted["summarized"] is True
    assert "The user greeted the agent twice." in (compacted["summary"] or "")
    assert "hi" in str(model.asked[-1].messages)  # the client's model read what it summarized
