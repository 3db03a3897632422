"""A scripted provider: a real `LLMProvider` that answers from a script.

For runtime tests and benchmarks (like pydantic-ai's ``FunctionModel``): each entry is a
`ModelResponse`, an `LLMError` to raise, or a function of the request returning either. Every
request is recorded so tests can assert exactly what the model was sent.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from letta_mcp.llm.errors import LLMError, LLMInvalidResponseError
from letta_mcp.llm.tokens import estimate_message, estimate_request
from letta_mcp.models import ChatMessage, ModelRequest, ModelResponse, Role, ToolCall, Usage

ScriptEntry = ModelResponse | LLMError | Callable[[ModelRequest], "ModelResponse | LLMError"]


class ScriptedProvider:
    def __init__(self, script: Iterable[ScriptEntry] = (), *, default: ScriptEntry | None = None) -> None:
        self._script: deque[ScriptEntry] = deque(script)
        self.default = default
        self.requests: list[ModelRequest] = []

    def add(self, *entries: ScriptEntry) -> None:
        self._script.extend(entries)

    @property
    def remaining(self) -> int:
        return len(self._script)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        if self._script:
            entry = self._script.popleft()
        elif self.default is not None:
            entry = self.default
        else:
            raise LLMInvalidResponseError("ScriptedProvider: the script is exhausted.")
        if callable(entry) and not isinstance(entry, ModelResponse | LLMError):
            entry = entry(request)
        if isinstance(entry, LLMError):
            raise entry
        if entry.usage.prompt_tokens == 0:
            # Report what a real provider would: the request's size, here by our own estimate
            # (so calibration stays at 1.0 unless a test scripts other numbers).
            prompt = estimate_request(request)
            completion = estimate_message(
                ChatMessage(role=Role.assistant, content=entry.content, tool_calls=entry.tool_calls)
            )
            entry = entry.model_copy(
                update={
                    "usage": Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
                }
            )
        return entry

    async def aclose(self) -> None:
        return None


def reply(text: str, *, usage: Usage | None = None, finish_reason: str = "stop") -> ModelResponse:
    """A plain-text answer (ends the agent's turn). Without ``usage``, usage is estimated from the request."""
    return ModelResponse(content=text, finish_reason=finish_reason, usage=usage or Usage())


_call_counter = 0


def call(
    name: str, arguments: dict[str, Any] | str | None = None, *, content: str | None = None, usage: Usage | None = None
) -> ModelResponse:
    """A single tool call (a string ``arguments`` is sent verbatim, to script malformed JSON)."""
    global _call_counter
    _call_counter += 1
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return ModelResponse(
        content=content,
        tool_calls=[ToolCall(id=f"call_{_call_counter}", name=name, arguments=raw)],
        finish_reason="tool_calls",
        usage=usage or Usage(),
    )
