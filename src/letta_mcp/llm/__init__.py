"""LLM providers behind one small async interface.

`LLMProvider.complete(ModelRequest) -> ModelResponse` is the whole contract. Providers own their
client, credentials, base URL, retries and wire translation; the runtime only sees `models.py`
types and the `LLMError` tree from `llm.errors`.
"""

from letta_mcp.llm.base import LLMProvider, parse_model_handle
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

__all__ = [
    "ContextWindowExceededError",
    "LLMAuthenticationError",
    "LLMConfigurationError",
    "LLMConnectionError",
    "LLMError",
    "LLMInvalidResponseError",
    "LLMProvider",
    "LLMRateLimitError",
    "LLMServerError",
    "LLMTimeoutError",
    "parse_model_handle",
]
