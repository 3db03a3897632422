"""Model failures end to end: MCP client → server → agent loop → the real `OpenAIProvider` →
real HTTP → `FakeOpenAI`.

Transient failures are retried invisibly; persistent ones and timeouts fail the turn with a
message that says what broke and that the user's message was kept, and the agent then answers
the next message normally. A missing API key is reported as a configuration problem while the
rest of the server keeps working.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult
from mcp_helpers import err, ok

from fake_openai import FakeOpenAI, delay, error, text, tool_call
from letta_mcp.config import Settings
from letta_mcp.llm.openai import OpenAIProvider
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

Make = Callable[..., Awaitable[tuple[Client, AgentService]]]
USAGE = {"prompt_tokens": 40, "completion_tokens": 6, "total_tokens": 46}


@pytest.fixture
async def make(settings: Settings, fake_openai: FakeOpenAI) -> AsyncIterator[Make]:
    """Start a service whose 'openai' provider is a real OpenAIProvider aimed at the fake, and a client."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> tuple[Client, AgentService]:
            options: dict[str, Any] = {
                "api_key": "test",
                "base_url": fake_openai.base_url,
                "timeout_s": 5.0,
                "max_retries": 2,
                "backoff_base_s": 0.01,
                "backoff_max_s": 0.05,
            }
            service = await AgentService.open(settings, providers={"openai": OpenAIProvider(**(options | overrides))})
            stack.push_async_callback(service.close)
            client = await stack.enter_async_context(Client(create_server(service)))
            return client, service

        yield start


async def new_agent(client: Client) -> str:
    return ok(await client.call_tool("create_agent", {"human": "Name: Sam"}))["id"]


async def send(client: Client, agent_id: str, message: str) -> CallToolResult:
    with anyio.fail_after(10):
        return await client.call_tool("send_message", {"agent_id": agent_id, "message": message})


async def history(client: Client, agent_id: str) -> list[tuple[str, str]]:
    page = ok(await client.call_tool("list_messages", {"agent_id": agent_id, "order": "asc", "after": 0}))
    return [(m["message_type"], m["content"]) for m in page["messages"]]


def failed_run_id(message: str) -> str:
    found = re.search(
        r"Your message was saved in the agent's history \(run (run-[0-9a-f-]{36})\); send a new "
        r"message once the model is reachable\.$",
        message,
    )
    assert found, message
    return found.group(1)


async def test_server_error_then_success_is_retried(make: Make, fake_openai: FakeOpenAI) -> None:
    client, service = await make()
    agent_id = await new_agent(client)
    remember = tool_call("core_memory_append", {"label": "human", "content": "Likes: tea"}, call_id="call_tea")
    fake_openai.script(error(500), {**remember, "usage": USAGE}, text("Noted, Sam.", usage=USAGE))

    result = ok(await send(client, agent_id, "I like tea"))

    assert (result["reply"], result["stop_reason"]) == ("Noted, Sam.", "end_turn")
    assert [m["message_type"] for m in result["messages"]] == [
        "user_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    requests = fake_openai.requests
    assert len(requests) == 3
    assert requests[0] == requests[1]  # the retry sent the same request
    assert requests[0]["model"] == "gpt-4o-mini"
    assert [m["content"] for m in requests[0]["messages"][1:]] == ["I like tea"]
    tool_message = requests[2]["messages"][-1]
    assert (tool_message["role"], tool_message["tool_call_id"]) == ("tool", "call_tea")
    assert json.loads(tool_message["content"])["status"] == "OK"
    assert result["usage"] == {"prompt_tokens": 80, "completion_tokens": 12, "total_tokens": 92, "step_count": 2}
    run = await service.get_run(result["run_id"])
    assert (run.status.value, run.stop_reason.value, run.step_count) == ("completed", "end_turn", 2)


async def test_rate_limit_honours_retry_after(make: Make, fake_openai: FakeOpenAI) -> None:
    # Our own backoff would wait 15-30 s; the server's Retry-After of 0 s must win (send() fails after 10 s).
    client, _ = await make(backoff_base_s=30.0, backoff_max_s=30.0)
    agent_id = await new_agent(client)
    fake_openai.script(error(429, headers={"Retry-After": "0"}), text("Sorry for the wait."))

    result = ok(await send(client, agent_id, "hello"))

    assert result["reply"] == "Sorry for the wait."
    assert len(fake_openai.requests) == 2


async def test_persistent_server_error_fails_the_turn_but_keeps_the_message(
    make: Make, fake_openai: FakeOpenAI
) -> None:
    client, service = await make(max_retries=1)
    agent_id = await new_agent(client)
    fake_openai.script(error(500), error(500))

    message = err(await send(client, agent_id, "are you there?"))

    assert message.startswith(
        "Error executing tool send_message: The agent could not reply because its model (openai/gpt-4o-mini) "
        f"failed: The LLM endpoint {fake_openai.base_url} (provider 'openai', model 'gpt-4o-mini') failed with "
        "HTTP 500 (fake error 500) after 2 attempts."
    )
    run = await service.get_run(failed_run_id(message))
    assert (run.agent_id, run.status.value, run.stop_reason.value, run.step_count) == (
        agent_id,
        "failed",
        "llm_api_error",
        0,
    )
    assert "HTTP 500" in run.error
    async with service.store.read() as q:
        [step] = await q.runs.steps(run.id)
    assert step.error.startswith("LLMServerError: ")
    assert len(fake_openai.requests) == 2
    assert await history(client, agent_id) == [("user_message", "are you there?")]

    # The model is back: the next message is answered, with the earlier one still in context.
    fake_openai.script(text("Yes, I'm here."))
    result = ok(await send(client, agent_id, "hello?"))
    assert (result["reply"], result["stop_reason"]) == ("Yes, I'm here.", "end_turn")
    assert [(m["role"], m["content"]) for m in fake_openai.requests[2]["messages"][1:]] == [
        ("user", "are you there?"),
        ("user", "hello?"),
    ]
    assert await history(client, agent_id) == [
        ("user_message", "are you there?"),
        ("user_message", "hello?"),
        ("assistant_message", "Yes, I'm here."),
    ]


async def test_timeout_fails_the_turn_but_keeps_the_message(make: Make, fake_openai: FakeOpenAI) -> None:
    client, service = await make(timeout_s=0.5, max_retries=0)
    agent_id = await new_agent(client)
    fake_openai.script(delay(5.0, text("too late")))

    message = err(await send(client, agent_id, "quick question"))

    assert (
        f"The LLM endpoint {fake_openai.base_url} (provider 'openai', model 'gpt-4o-mini') did not answer "
        "within 0.5 s (after 1 attempt)."
    ) in message
    run = await service.get_run(failed_run_id(message))
    assert (run.status.value, run.stop_reason.value) == ("failed", "llm_api_error")
    assert "did not answer within 0.5 s" in run.error
    assert await history(client, agent_id) == [("user_message", "quick question")]

    fake_openai.script(text("Ask away."))
    result = ok(await send(client, agent_id, "still there?"))
    assert result["reply"] == "Ask away."
    assert len(fake_openai.requests) == 2


async def test_missing_api_key_is_a_clear_error_and_the_server_keeps_serving(make: Make) -> None:
    client, service = await make(api_key=None, base_url=None)
    agent_id = await new_agent(client)

    message = err(await send(client, agent_id, "hello"))

    assert (
        "failed: No API key for the LLM provider 'openai' (https://api.openai.com/v1). Set OPENAI_API_KEY, "
        "or set OPENAI_BASE_URL to use a local OpenAI-compatible server"
    ) in message
    run = await service.get_run(failed_run_id(message))
    assert (run.status.value, run.stop_reason.value, run.step_count) == ("failed", "llm_api_error", 0)
    async with service.store.read() as q:
        [step] = await q.runs.steps(run.id)
    assert step.error.startswith("LLMConfigurationError: No API key")

    memory = ok(await client.call_tool("get_memory", {"agent_id": agent_id}))
    assert [(b["label"], b["value"]) for b in memory["blocks"]][1] == ("human", "Name: Sam")
    assert [a["id"] for a in ok(await client.call_tool("list_agents", {}))["agents"]] == [agent_id]
    assert await history(client, agent_id) == [("user_message", "hello")]
    ok(await client.call_tool("update_block", {"agent_id": agent_id, "label": "human", "value": "Name: Sarah"}))
