"""Local model servers (Ollama, LM Studio, llama.cpp ``llama-server``, vLLM) end to end: MCP client →
server → agent loop → the real `OpenAIProvider` configured as ``[providers.NAME] base_url=...`` →
real HTTP → `FakeOpenAI` answering with that server's quirks (no ``/models``, no ``usage``, tool
calls as JSON text in ``content``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from mcp import Client
from mcp_helpers import ok

from fake_openai import FakeOpenAI, text, tool_call
from letta_mcp.config import ProviderSettings, Settings
from letta_mcp.llm.context_windows import context_window_for
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

# (provider name as the README configures it, model, quirks its fake shows, its default window)
SERVERS = [
    ("ollama", "llama3.1:8b", {"no_models", "no_usage", "tool_calls_in_content"}, 2048),
    ("lmstudio", "qwen2.5-7b-instruct", {"tool_calls_in_content"}, 4096),
    ("llamacpp", "local", {"no_models", "tool_calls_in_content"}, 4096),
    ("vllm", "Qwen/Qwen2.5-7B-Instruct", {"no_usage"}, 32_768),
]


@pytest.fixture(params=SERVERS, ids=[s[0] for s in SERVERS])
async def local(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[tuple[Client, FakeOpenAI, str]]:
    name, model, quirks, _ = request.param
    with FakeOpenAI(quirks=quirks) as fake:
        settings.providers[name] = ProviderSettings(base_url=fake.base_url, max_retries=0)
        service = await AgentService.open(settings)  # providers built from the settings, as `serve` does
        try:
            async with Client(create_server(service)) as client:
                yield client, fake, f"{name}/{model}"
        finally:
            await service.close()


async def test_a_turn_works_through_each_local_servers_quirks(local: tuple[Client, FakeOpenAI, str]) -> None:
    client, fake, handle = local
    # A window large enough for the default prompt whatever the server's default; see the next test.
    agent = ok(await client.call_tool("create_agent", {"model": handle, "context_window": 16384}))
    fake.script(
        tool_call("core_memory_append", {"label": "human", "content": "Likes tea"}),
        text("Noted: tea."),
    )

    with anyio.fail_after(15):
        result = ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "I like tea"}))

    assert (result["reply"], result["stop_reason"]) == ("Noted: tea.", "end_turn")
    memory = ok(await client.call_tool("get_memory", {"agent_id": agent["id"]}))
    human = next(b for b in memory["blocks"] if b["label"] == "human")
    assert human["value"].endswith("Likes tea")
    # The call read from the text went back to the model as a tool call with its result.
    sent = fake.requests[1]["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "core_memory_append"
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == sent[-2]["tool_calls"][0]["id"]
    # Usage is counted even where the server reports none.
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0


async def test_plain_json_text_without_matching_tool_stays_the_reply(local: tuple[Client, FakeOpenAI, str]) -> None:
    client, fake, handle = local
    agent = ok(await client.call_tool("create_agent", {"model": handle, "context_window": 16384}))
    answer = '{"name": "not_a_tool", "arguments": {}}'
    fake.script(text(answer))

    with anyio.fail_after(15):
        result = ok(await client.call_tool("send_message", {"agent_id": agent["id"], "message": "show JSON"}))

    assert result["reply"] == answer
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("name", "model", "quirks", "window"), SERVERS, ids=[s[0] for s in SERVERS])
async def test_default_window_of_each_local_server(
    settings: Settings, name: str, model: str, quirks: set[str], window: int
) -> None:
    settings.providers[name] = ProviderSettings(base_url="http://127.0.0.1:9/v1")
    service = await AgentService.open(settings)
    try:
        async with Client(create_server(service)) as client:
            agent = ok(await client.call_tool("create_agent", {"model": f"{name}/{model}"}))
            context = ok(await client.call_tool("get_context", {"agent_id": agent["id"]}))
    finally:
        await service.close()
    assert context["context_window"] == window


def test_context_windows_setting_overrides_a_local_servers_default() -> None:
    assert context_window_for("ollama/llama3.1:8b") == 2048
    assert context_window_for("ollama/llama3.1:8b", {"ollama/llama3.1:8b": 16384}) == 16384
    assert context_window_for("ollama/llama3.1:8b", {"llama3.1:8b": 8192}) == 8192
