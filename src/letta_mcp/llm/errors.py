"""Errors raised by LLM providers.

    LLMError                         any failure to get a usable answer from a model
    ├── LLMConfigurationError        no provider / no API key / bad model handle: fix settings, don't retry
    ├── LLMAuthenticationError       the endpoint rejected the credentials (401/403)
    ├── LLMConnectionError           the endpoint could not be reached
    ├── LLMTimeoutError              the endpoint did not answer in time
    ├── LLMRateLimitError            429 after all retries
    ├── LLMServerError               5xx after all retries, or another HTTP error status
    ├── ContextWindowExceededError   the request is longer than the model's context window
    └── LLMInvalidResponseError      the answer could not be understood (no choices, bad shape)

Every message is written for a person or a model to act on: it says what failed and what to do.
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class: the model call failed. ``retryable`` says whether trying later may help."""

    retryable: bool = False


class LLMConfigurationError(LLMError):
    pass


class LLMAuthenticationError(LLMError):
    pass


class LLMConnectionError(LLMError):
    retryable = True


class LLMTimeoutError(LLMError):
    retryable = True


class LLMRateLimitError(LLMError):
    retryable = True


class LLMServerError(LLMError):
    retryable = True


class ContextWindowExceededError(LLMError):
    pass


class LLMInvalidResponseError(LLMError):
    pass
