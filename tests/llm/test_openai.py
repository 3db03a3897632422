"""OpenAIProvider against a real HTTP fake through the real ``openai`` client.

Nothing of ours is mocked: requests cross a socket to `FakeOpenAI`, so translation, retries,
timeouts and error mapping are tested as they behave in production.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from fake_openai import FakeOpenAI, delay, empty_choices, error, text, tool_call, tool_calls
from letta_mcp.llm.errors import (
    ContextWindowExceededError,
    LLMAuthenticationError,
    LLMConfigurationError,
    LLMConnectionError,
    LLMInvalidResponseError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from letta_mcp.llm.openai import OpenAIProvider
from letta_mcp.models import ChatMessage, ModelRequest, Role, ToolCall, ToolSchema

pytestmark = pytest.mark.anyio

API_KEY = "sk-test-secret-key"
MakeProvider = Callable[..., OpenAIProvider]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    """The module's server with an empty script (stopping uvicorn costs ~0.15 s, so share one)."""
    fake_server.reset()
    return fake_server


@pytest.fixture
async def make_provider(fake: FakeOpenAI) -> AsyncIterator[MakeProvider]:
    """Build providers pointed at the fake (fast backoff), closing them all after the test."""
    providers: list[OpenAIProvider] = []

    def make(**overrides: Any) -> OpenAIProvider:
        options: dict[str, Any] = {
            "api_key": API_KEY, "base_url": fake.base_url, "timeout_s": 5.0, "max_retries": 2,
            "backoff_base_s": 0.01, "backoff_max_s": 0.05,
        }
        provider = OpenAIProvider(**(options | overrides))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()


def ask(content: str = "hello", **fields: Any) -> ModelRequest:
    return ModelRequest(model="fake-model", messages=[ChatMessage(role=Role.user, content=content)], **fields)


SEND_MESSAGE = ToolSchema(
    name="send_message",
    description="Send a message to the user.",
    parameters={"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)


# --- translation --------------------------------------------------------------------------------


async def test_text_completion(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    fake.script(text("Hello there", usage=usage))

    response = await make_provider().complete(ask())

    assert response.content == "Hello there"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.model == "fake-model"
    assert response.reasoning is None
    assert response.usage.model_dump() == usage


async def test_reasoning_content_is_kept(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(text("42", reasoning="6 times 7"))

    response = await make_provider().complete(ask())

    assert (response.content, response.reasoning) == ("42", "6 times 7")


async def test_tool_calls_keep_raw_arguments(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(tool_calls(
        tool_call("send_message", {"message": "hi"}, call_id="call_a"),
        tool_call("archival_memory_insert", '{"content": "unterminated', call_id="call_b"),
        content="thinking aloud",
    ))

    response = await make_provider().complete(ask(tools=[SEND_MESSAGE]))

    assert response.tool_calls == [
        ToolCall(id="call_a", name="send_message", arguments='{"message": "hi"}'),
        ToolCall(id="call_b", name="archival_memory_insert", arguments='{"content": "unterminated'),
    ]
    assert response.content == "thinking aloud"
    assert response.finish_reason == "tool_calls"


async def test_request_translation(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(text("ok"))
    request = ModelRequest(
        model="fake-model",
        messages=[
            ChatMessage(role=Role.system, content="You are a helpful agent."),
            ChatMessage(role=Role.user, content="hello", name="alice"),
            ChatMessage(role=Role.assistant, tool_calls=[
                ToolCall(id="call_1", name="send_message", arguments='{"message": "hi"}')]),
            ChatMessage(role=Role.tool, content='{"status": "OK"}', tool_call_id="call_1",
                        name="send_message"),
        ],
        tools=[SEND_MESSAGE],
        tool_choice="send_message",
        max_tokens=256,
        temperature=0.2,
    )

    await make_provider().complete(request)

    [body] = fake.requests
    assert body["model"] == "fake-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are a helpful agent."},
        {"role": "user", "content": "hello", "name": "alice"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "send_message", "arguments": '{"message": "hi"}'}}]},
        {"role": "tool", "content": '{"status": "OK"}', "tool_call_id": "call_1"},
    ]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "send_message", "description": SEND_MESSAGE.description,
        "parameters": SEND_MESSAGE.parameters}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "send_message"}}
    assert (body["max_tokens"], body["temperature"]) == (256, 0.2)


@pytest.mark.parametrize("choice", ["auto", "required", "none"])
async def test_builtin_tool_choice_sent_as_string(
    fake: FakeOpenAI, make_provider: MakeProvider, choice: str
) -> None:
    fake.script(text("ok"))

    await make_provider().complete(ask(tools=[SEND_MESSAGE], tool_choice=choice))

    assert fake.requests[0]["tool_choice"] == choice


async def test_optional_fields_omitted(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(text("ok"))

    await make_provider().complete(ask(tool_choice="required"))

    assert set(fake.requests[0]) == {"model", "messages"}


async def test_callable_script_entry(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(lambda body: text(body["messages"][-1]["content"].upper()))

    response = await make_provider().complete(ask("echo me"))

    assert response.content == "ECHO ME"


# --- retries ------------------------------------------------------------------------------------


async def test_server_errors_are_retried(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(error(500), error(503), text("finally"))

    response = await make_provider(max_retries=2).complete(ask())

    assert response.content == "finally"
    assert len(fake.requests) == 3


async def test_retry_after_is_honoured(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(error(429, headers={"Retry-After": "0.3"}), text("ok"))
    provider = make_provider(backoff_base_s=0.001, backoff_max_s=5.0)

    started = time.monotonic()
    response = await provider.complete(ask())

    assert response.content == "ok"
    assert time.monotonic() - started >= 0.3
    assert len(fake.requests) == 2


async def test_retry_after_is_capped(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(error(429, headers={"Retry-After": "30"}), text("ok"))

    started = time.monotonic()
    response = await make_provider(backoff_max_s=0.05).complete(ask())

    assert response.content == "ok"
    assert time.monotonic() - started < 5


async def test_persistent_server_error(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    boom = {"error": {"message": "upstream exploded", "type": "server_error", "code": None}}
    fake.script(*[error(500, boom)] * 3)

    with pytest.raises(LLMServerError) as caught:
        await make_provider(max_retries=2).complete(ask())

    assert len(fake.requests) == 3
    message = str(caught.value)
    for part in (fake.base_url, "'fake-model'", "HTTP 500", "upstream exploded", "after 3 attempts"):
        assert part in message
    assert caught.value.retryable


async def test_persistent_rate_limit(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(*[error(429)] * 2)

    with pytest.raises(LLMRateLimitError) as caught:
        await make_provider(max_retries=1).complete(ask())

    assert len(fake.requests) == 2
    assert caught.value.retryable


async def test_exhausted_quota_is_not_retried(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    quota = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    fake.script(error(429, quota))

    with pytest.raises(LLMRateLimitError, match="quota") as caught:
        await make_provider().complete(ask())

    assert len(fake.requests) == 1
    assert not caught.value.retryable


async def test_timeout(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(delay(3), delay(3))

    with pytest.raises(LLMTimeoutError) as caught:
        await make_provider(timeout_s=0.2, max_retries=1).complete(ask())

    assert len(fake.requests) == 2
    assert "0.2 s" in str(caught.value)
    assert fake.base_url in str(caught.value)


async def test_connection_refused(make_provider: MakeProvider) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, with nothing listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"

    with pytest.raises(LLMConnectionError) as caught:
        await make_provider(base_url=url, max_retries=1).complete(ask())

    message = str(caught.value)
    assert f"Could not reach the LLM endpoint {url}" in message
    assert "connection refused" in message
    assert "OPENAI_BASE_URL" in message


# --- errors that are not retried ----------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_not_retried_and_key_not_leaked(
    fake: FakeOpenAI, make_provider: MakeProvider, status: int
) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {API_KEY}", "code": "invalid_api_key"}}
    fake.script(error(status, echo))

    with pytest.raises(LLMAuthenticationError) as caught:
        await make_provider().complete(ask())

    assert len(fake.requests) == 1
    assert API_KEY not in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)


@pytest.mark.parametrize("body", [
    {"error": {"message": "too long", "type": "invalid_request_error", "code": "context_length_exceeded"}},
    {"object": "error", "message": "This model's maximum context length is 8192 tokens. However, you "
     "requested 9000 tokens.", "type": "BadRequestError", "code": 400},
])
async def test_context_window_exceeded(fake: FakeOpenAI, make_provider: MakeProvider, body: Any) -> None:
    fake.script(error(400, body))

    with pytest.raises(ContextWindowExceededError, match="context window"):
        await make_provider().complete(ask())

    assert len(fake.requests) == 1


async def test_unknown_model(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(error(404, {"error": {"message": "model 'fake-model' not found", "code": "model_not_found"}}))

    with pytest.raises(LLMConfigurationError) as caught:
        await make_provider().complete(ask())

    assert len(fake.requests) == 1
    assert "'fake-model'" in str(caught.value)
    assert "model handle" in str(caught.value)


async def test_other_client_error(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(error(422, {"error": {"message": "tools are not supported by this model"}}))

    with pytest.raises(LLMServerError, match="tools are not supported") as caught:
        await make_provider().complete(ask())

    assert len(fake.requests) == 1
    assert not caught.value.retryable


async def test_empty_choices(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(empty_choices())

    with pytest.raises(LLMInvalidResponseError, match="no choices"):
        await make_provider().complete(ask())


async def test_exhausted_script_fails_loudly(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    with pytest.raises(LLMServerError, match="fake script exhausted"):
        await make_provider(max_retries=0).complete(ask())


# --- credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize(("api_key", "base_url"), [
    (None, None), ("", None), (None, "https://api.openai.com/v1/"),
])
async def test_missing_key_for_openai(api_key: str | None, base_url: str | None) -> None:
    provider = OpenAIProvider(api_key=api_key, base_url=base_url)  # constructing never fails

    with pytest.raises(LLMConfigurationError) as caught:
        await provider.complete(ask())

    await provider.aclose()
    for hint in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "config file"):
        assert hint in str(caught.value)


async def test_local_server_needs_no_key(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script(text("no key needed"))

    response = await make_provider(api_key=None).complete(ask())

    assert response.content == "no key needed"


# --- the fake as a separate process -------------------------------------------------------------


async def test_standalone_fake_server(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        {"type": "tool_call", "name": "send_message", "arguments": {"message": "hi"}},
        {"type": "text", "content": "done"},
    ]))
    log = tmp_path / "requests.jsonl"
    fake_path = Path(__file__).parents[1] / "fake_openai.py"
    command = [sys.executable, str(fake_path), "--port", "0", "--script", str(script), "--log", str(log)]

    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        base_url = (await process.stdout.receive()).decode().splitlines()[0]
        provider = OpenAIProvider(api_key=None, base_url=base_url, backoff_base_s=0.01)
        try:
            first = await provider.complete(ask("one", tools=[SEND_MESSAGE]))
            second = await provider.complete(ask("two"))
        finally:
            await provider.aclose()
        with await anyio.to_thread.run_sync(urllib.request.urlopen, f"{base_url}/models") as answer:
            models = json.load(answer)
        process.terminate()
        assert await process.wait() == 0

    assert first.tool_calls[0].name == "send_message"
    assert json.loads(first.tool_calls[0].arguments) == {"message": "hi"}
    assert second.content == "done"
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [body["messages"][0]["content"] for body in logged] == ["one", "two"]
    assert models["data"][0]["id"] == "fake-model"
