"""`letta_mcp.redact`: credentials inside URLs never reach a message, a log line or printed settings."""

from __future__ import annotations

import logging

import anyio
import pytest

from fake_openai import FakeOpenAI
from letta_mcp.embed.errors import EmbedError
from letta_mcp.embed.openai import OpenAIEmbedder
from letta_mcp.llm.errors import LLMConnectionError
from letta_mcp.llm.openai import OpenAIProvider
from letta_mcp.models import ChatMessage, ModelRequest, Role
from letta_mcp.redact import RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@host:8080/v1", "http://***@host:8080/v1"),
        ("https://only-a-token@api.example.com/v1", "https://***@api.example.com/v1"),
        ("https://h/v1?api_key=s3&model=x", "https://h/v1?api_key=***&model=x"),
        (
            "https://h/v1?key=s3&token=s3&sig=s3&X-Amz-Signature=s3",
            "https://h/v1?key=***&token=***&sig=***&X-Amz-Signature=***",
        ),
        ("https://h/v1?access_token=s3#frag", "https://h/v1?access_token=***#frag"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://localhost:11434/v1?stream=true", "http://localhost:11434/v1?stream=true"),
        ("http://[::1", "***"),  # unparseable: nothing is shown
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_finds_every_url() -> None:
    text = "Could not reach http://u:pw@a/v1 (also tried 'https://b/v1?api_key=k1'); see https://docs.example"
    assert redact_text(text) == (
        "Could not reach http://***@a/v1 (also tried 'https://b/v1?api_key=***'); see https://docs.example"
    )


def test_the_log_filter_redacts_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "calling %s", ("http://u:pw@h/v1",), None)
    try:
        raise ValueError("bad url http://u:pw@h/v1?token=t0k")
    except ValueError as e:
        record.exc_info = (type(e), e, e.__traceback__)
    assert RedactingFilter().filter(record)
    line = logging.Formatter().format(record)
    assert "pw" not in line and "t0k" not in line
    assert "calling http://***@h/v1" in line
    assert "bad url http://***@h/v1?token=***" in line


@pytest.mark.anyio
async def test_embedding_errors_hide_credentials_in_the_base_url(fake_openai: FakeOpenAI) -> None:
    base_url = fake_openai.base_url.replace("http://", "http://user:pw-e3b0@")
    embedder = OpenAIEmbedder(model="text-embedding-3-small", api_key="k", base_url=base_url, max_retries=0)
    fake_openai.fail_embeddings(400)
    try:
        with anyio.fail_after(30), pytest.raises(EmbedError) as raised:
            await embedder.embed(["hello"])
    finally:
        await embedder.aclose()
    assert "HTTP 400" in str(raised.value)
    assert "pw-e3b0" not in str(raised.value)
    assert "http://***@127.0.0.1" in str(raised.value)


@pytest.mark.anyio
async def test_unreachable_endpoint_errors_hide_credentials_in_the_base_url() -> None:
    provider = OpenAIProvider(api_key="k", base_url="http://user:pw-9f1c@127.0.0.1:9/v1?api_key=qs-77", max_retries=0)
    request = ModelRequest(model="m", messages=[ChatMessage(role=Role.user, content="hi")])
    try:
        with anyio.fail_after(30), pytest.raises(LLMConnectionError) as raised:
            await provider.complete(request)
    finally:
        await provider.aclose()
    assert "pw-9f1c" not in str(raised.value) and "qs-77" not in str(raised.value)
    assert "http://***@127.0.0.1:9/v1?api_key=***" in str(raised.value)
