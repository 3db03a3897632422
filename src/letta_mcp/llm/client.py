"""Building the official ``openai`` async client, shared by the LLM and embeddings providers.

``import openai`` takes about two seconds, so it happens on first use and in a worker thread:
server start-up stays fast and the event loop never blocks on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import anyio.to_thread

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# Local OpenAI-compatible servers (Ollama, vLLM, LM Studio) ignore the key but the client needs one.
PLACEHOLDER_KEY = "no-key-needed"


async def build_client(*, api_key: str, base_url: str, timeout_s: float, max_retries: int) -> AsyncOpenAI:
    def build() -> AsyncOpenAI:
        openai = importlib.import_module("openai")
        client: AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        return client

    return await anyio.to_thread.run_sync(build)
