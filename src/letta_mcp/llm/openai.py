"""`OpenAIProvider`: chat completions from any OpenAI-compatible endpoint.

One provider serves OpenAI itself and the many servers that speak its wire format (Ollama,
vLLM, LM Studio, llama.cpp, OpenRouter, …) through the official ``openai`` package.

Design points:

* ``openai`` is imported, and its client built, on the first request and in a worker thread:
  the import takes about a second, and neither server start-up nor the event loop should wait
  for it.
* Retries are ours, not the SDK's (its ``max_retries`` is 0), so that the number of attempts,
  the backoff and the final error are under one policy and visible in one place.
* The SDK carries a ready JSON body (`openai_wire`: each message encoded once, not re-validated
  by the SDK's typed transformation on every call), so a request's cost does not grow with the
  context window; transport, errors and ``Retry-After`` are the SDK's as with ``create``.
* Every failure leaves as an `LLMError` subclass whose message names the endpoint and the model
  and says what to do. Neither the API key nor credentials inside the base URL (userinfo, secret
  query parameters) ever appear in a message: messages reach every principal using the agent.
"""

from __future__ import annotations

import json
import random
import socket
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from letta_mcp.llm.client import PLACEHOLDER_KEY, build_client
from letta_mcp.llm.content_tool_calls import tool_calls_in_content
from letta_mcp.llm.errors import (
    ContextWindowExceededError,
    LLMAuthenticationError,
    LLMConfigurationError,
    LLMConnectionError,
    LLMError,
    LLMInvalidResponseError,
    LLMRateLimitError,
    LLMServerError,
    LLMTimeoutError,
)
from letta_mcp.llm.openai_wire import WireEncoder
from letta_mcp.llm.tokens import estimate_request, estimate_text
from letta_mcp.models import ModelRequest, ModelResponse, ToolCall, Usage
from letta_mcp.redact import redact_text, redact_url

if TYPE_CHECKING:
    from openai import APIError, APIStatusError, AsyncOpenAI
    from openai.types.chat import ChatCompletion

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, LM Studio, llama.cpp) ignore the key, but the SDK insists on one.
# How servers without the "context_length_exceeded" code word it (vLLM, llama.cpp, OpenRouter, …).
_CONTEXT_PHRASES = (
    "context length",
    "context window",
    "context size",
    "too many tokens",
    "prompt is too long",
)


class OpenAIProvider:
    """An `LLMProvider` for an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url=None`` means OpenAI itself. ``timeout_s`` bounds each attempt; up to
    ``max_retries`` further attempts follow a 429, a 5xx, a connection failure or a timeout,
    after an exponential, jittered backoff (``backoff_base_s * 2**n``, at most ``backoff_max_s``)
    or the server's ``Retry-After`` (also capped at ``backoff_max_s``).
    """

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        name: str = "openai",
    ) -> None:
        self.name = name
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        self._shown_url = redact_url(self.base_url)  # the only form of the URL any message carries
        self._custom_endpoint = base_url is not None and urlsplit(self.base_url).hostname != "api.openai.com"
        self._api_key = api_key or None
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._client: AsyncOpenAI | None = None
        self._wire = WireEncoder()

    def __repr__(self) -> str:
        return f"OpenAIProvider(name={self.name!r}, base_url={self._shown_url!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Send one chat request, retrying transient failures; raise only `LLMError`."""
        client = await self._get_client()
        completion = await self._create(client, self._wire.body(request), request.model)
        if not getattr(completion, "choices", None):
            raise LLMInvalidResponseError(
                f"The {self._where(request.model)} answered with no choices, so there is no message to "
                "use. Retry; if it persists, check that the server supports chat completions for this model."
            )
        try:
            response = _to_response(completion)
        except (AttributeError, TypeError, ValueError) as exc:
            raise LLMInvalidResponseError(
                f"The answer from the {self._where(request.model)} is not a chat completion this provider "
                f"understands ({type(exc).__name__}: {exc}). Check that the base URL points at an "
                "OpenAI-compatible /v1 endpoint."
            ) from exc
        return _local_server_quirks(request, response)

    async def aclose(self) -> None:
        """Close the HTTP client (a later request would open a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    # --- client ---------------------------------------------------------------------------------

    async def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            key = self._api_key
            if key is None:
                if not self._custom_endpoint:
                    raise LLMConfigurationError(
                        f"No API key for the LLM provider {self.name!r} ({self._shown_url}). Set "
                        "OPENAI_API_KEY, or set OPENAI_BASE_URL to use a local OpenAI-compatible server "
                        "(Ollama, vLLM, LM Studio), or configure the provider's api_key/base_url in the "
                        "config file."
                    )
                key = PLACEHOLDER_KEY
            client = await build_client(api_key=key, base_url=self.base_url, timeout_s=self._timeout_s, max_retries=0)
            if self._client is None:
                self._client = client
            else:  # another task built one while we waited for the thread
                await client.close()
        return self._client

    # --- retries and errors ---------------------------------------------------------------------

    async def _create(self, client: AsyncOpenAI, body: bytes, model: str) -> ChatCompletion:
        import openai  # already loaded by build_client
        from openai.types.chat import ChatCompletion

        attempt = 0
        while True:
            attempt += 1
            try:
                # What chat.completions.create does once it has transformed its arguments.
                completion: ChatCompletion = await client.post(
                    "/chat/completions",
                    cast_to=ChatCompletion,
                    content=body,
                    options={"security": {"bearer_auth": True}},
                )
                return completion
            except openai.APIError as exc:
                if attempt > self._max_retries or not _is_transient(exc):
                    raise self._translate(exc, model, attempt) from exc
                await anyio.sleep(self._backoff_s(attempt, exc))

    def _backoff_s(self, attempt: int, exc: APIError) -> float:
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            return min(retry_after, self._backoff_max_s)
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _where(self, model: str) -> str:
        return f"LLM endpoint {self._shown_url} (provider {self.name!r}, model {model!r})"

    def _detail(self, exc: APIStatusError) -> str:
        """The server's own error message, trimmed, with the API key and URL secrets masked in case
        it echoed them."""
        body = exc.body
        message = body.get("message") if isinstance(body, dict) else body
        text = str(message) if message else exc.message
        if self._api_key:
            text = text.replace(self._api_key, "***")
        text = redact_text(text)
        return text if len(text) <= 300 else text[:297] + "..."

    def _translate(self, exc: APIError, model: str, attempts: int) -> LLMError:
        import openai

        where = self._where(model)
        tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeoutError(
                f"The {where} did not answer within {self._timeout_s:g} s ({tries}). The server may be "
                "overloaded or still loading the model; retry later or raise the provider's timeout "
                "in the config file."
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMConnectionError(
                f"Could not reach the {where}: {redact_text(_connection_reason(exc))} ({tries}). Check OPENAI_BASE_URL "
                "(or the provider's base_url in the config file) and that the server is running."
            )
        if not isinstance(exc, openai.APIStatusError):  # e.g. APIResponseValidationError
            return LLMInvalidResponseError(f"The {where} sent an unreadable answer: {redact_text(exc.message)}")
        status, detail = exc.status_code, self._detail(exc)
        error: LLMError
        if status in (401, 403):
            verb = "rejected the API key" if status == 401 else "denied access"
            return LLMAuthenticationError(
                f"The {where} {verb} (HTTP {status}: {detail}). Check OPENAI_API_KEY (or the "
                "provider's api_key in the config file) and that the key may use this model."
            )
        if status == 429:
            error = LLMRateLimitError(
                f"The {where} is rate-limiting requests (HTTP 429: {detail}) {tries}. Wait and retry, "
                "send fewer requests, or check the account's quota and billing."
            )
            error.retryable = _is_transient(exc)  # not when the quota is used up
            return error
        if status >= 500:
            return LLMServerError(
                f"The {where} failed with HTTP {status} ({detail}) {tries}. The server may be "
                "overloaded or misconfigured; retry later or check its logs."
            )
        if exc.code == "context_length_exceeded" or any(p in detail.lower() for p in _CONTEXT_PHRASES):
            return ContextWindowExceededError(
                f"The request does not fit the model's context window at the {where} "
                f"({detail}). Shorten the conversation (summarize or drop old messages) or use a model "
                "with a larger context window."
            )
        if status == 404:
            return LLMConfigurationError(
                f"The {where} answered HTTP 404 ({detail}): model {model!r} is unknown there or the "
                "base URL is wrong. Check the model handle (for local servers: is the model pulled?) "
                "and that the base URL ends in /v1."
            )
        error = LLMServerError(
            f"The {where} rejected the request with HTTP {status} ({detail}). The model may not "
            "support a parameter that was sent (such as tools); check the model handle and provider "
            "settings."
        )
        error.retryable = False  # the same request would be rejected again
        return error


# --- wire translation ---------------------------------------------------------------------------


def _to_response(completion: ChatCompletion) -> ModelResponse:
    choice = completion.choices[0]
    message = choice.message
    # Reasoning servers (DeepSeek, vLLM, Ollama, OpenRouter) add a non-standard field for it.
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    usage = completion.usage
    return ModelResponse(
        content=message.content,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=[_tool_call(c) for c in message.tool_calls or []],
        finish_reason=choice.finish_reason,
        usage=Usage(
            prompt_tokens=usage.prompt_tokens or 0,
            completion_tokens=usage.completion_tokens or 0,
            total_tokens=usage.total_tokens or 0,
        )
        if usage is not None
        else Usage(),
        model=completion.model,
    )


def _local_server_quirks(request: ModelRequest, response: ModelResponse) -> ModelResponse:
    """Make up for what local servers leave out: tool calls they left as JSON text (see
    `content_tool_calls`) and the ``usage`` some never report (estimated, so run totals and
    limits still count the call)."""
    if request.tools and not response.tool_calls and request.tool_choice != "none":
        calls = tool_calls_in_content(response.content, {t.name for t in request.tools})
        if calls:
            response = response.model_copy(update={"content": None, "tool_calls": calls, "finish_reason": "tool_calls"})
    if response.usage.total_tokens == 0:
        said = (response.content or "") + "".join(c.name + c.arguments for c in response.tool_calls)
        prompt, completion = estimate_request(request), estimate_text(said)
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        response = response.model_copy(update={"usage": usage})
    return response


def _tool_call(call: Any) -> ToolCall:
    """A wire tool call as a `ToolCall`; string arguments stay verbatim, even when not valid JSON.

    Some servers omit the call id (the runtime needs one to pair the tool result, so one is made)
    or send the arguments as a JSON object rather than a string.
    """
    arguments = call.function.arguments
    return ToolCall(
        id=call.id or f"call_{uuid.uuid4().hex[:24]}",
        name=call.function.name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
    )


# --- error details ------------------------------------------------------------------------------


def _is_transient(exc: APIError) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or (exc.status_code == 429 and exc.code != "insufficient_quota")
    return False


def _retry_after_s(exc: APIError) -> float | None:
    """The server's requested wait: ``retry-after-ms`` (OpenAI) or ``Retry-After`` in seconds."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:  # an HTTP date: fall back to our own backoff
            return None
    return None


def _connection_reason(exc: BaseException) -> str:
    """A short cause for a connection failure, from the exception chain (refused, DNS, …)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return f"host name not resolved ({current.strerror})"
        current = current.__cause__ or current.__context__
    return str(seen[-1]) or type(seen[-1]).__name__
