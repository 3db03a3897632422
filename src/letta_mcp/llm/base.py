"""The provider interface and model handles."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from letta_mcp.llm.errors import LLMConfigurationError
from letta_mcp.models import ModelRequest, ModelResponse


@runtime_checkable
class LLMProvider(Protocol):
    """Something that answers chat requests. Implementations raise only `LLMError` subclasses."""

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    async def aclose(self) -> None: ...


def parse_model_handle(handle: str) -> tuple[str, str]:
    """Split ``"openai/gpt-4o-mini"`` into ``("openai", "gpt-4o-mini")``.

    The model part may itself contain slashes (``"openrouter/meta-llama/llama-3-8b"``).
    """
    provider, sep, model = handle.partition("/")
    if not sep or not provider or not model:
        raise LLMConfigurationError(
            f"Model handle {handle!r} is not of the form 'provider/model' (for example 'openai/gpt-4o-mini')."
        )
    return provider, model
