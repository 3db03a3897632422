"""`OpenAIEmbedder`: vectors from any OpenAI-compatible ``/embeddings`` endpoint.

OpenAI itself (``text-embedding-3-small``), Ollama (``nomic-embed-text``), vLLM, LM Studio and the
llama.cpp server all speak this format. Texts are sent in batches of ``batch_size``; a 429, a 5xx,
a timeout or a connection failure is retried with backoff (the SDK's own retry policy, which
honours ``Retry-After``). As in `letta_mcp.llm.openai`, the ``openai`` package is imported and the
client built on first use, in a worker thread, so neither server start-up nor the event loop waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from letta_mcp.embed.errors import EmbedError
from letta_mcp.llm.client import PLACEHOLDER_KEY, build_client
from letta_mcp.redact import redact_text, redact_url

if TYPE_CHECKING:
    from openai import AsyncOpenAI

OPENAI_BASE_URL = "https://api.openai.com/v1"
KNOWN_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}


class OpenAIEmbedder:
    """An `Embedder` over an OpenAI-compatible embeddings endpoint.

    Parameters:
        model: the endpoint's model name, e.g. ``text-embedding-3-small``.
        provider: the configured provider's name (the ``openai`` in ``openai/text-embedding-3-small``).
        dim: vector size; default: `KNOWN_DIMS`, else 0 until the first answer tells. For OpenAI's
            ``text-embedding-3`` models a smaller ``dim`` is requested with ``dimensions``.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None = None,
        provider: str = "openai",
        dim: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self.provider = provider
        self.base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        # Messages show only this form: credentials in the URL must not reach principals or logs.
        self._shown_url = redact_url(self.base_url)
        self._api_key = api_key or None
        self._requested_dim = dim
        self._dim = dim or KNOWN_DIMS.get(model, 0)
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._client: AsyncOpenAI | None = None

    @property
    def name(self) -> str:
        return f"{self.provider}/{self.model}"

    @property
    def dim(self) -> int:
        return self._dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, in batches of ``batch_size``; raises `EmbedError`."""
        if not texts:
            return []
        client = await self._get_client()
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            out.extend(await self._batch(client, texts[start : start + self._batch_size]))
        return out

    async def _batch(self, client: AsyncOpenAI, texts: list[str]) -> list[list[float]]:
        import openai

        kwargs: dict[str, object] = {"model": self.model, "input": [t if t.strip() else " " for t in texts]}
        kwargs["encoding_format"] = "float"
        if self._requested_dim and self.model.startswith("text-embedding-3"):
            kwargs["dimensions"] = self._requested_dim
        try:
            response = await client.embeddings.create(**kwargs)  # type: ignore[call-overload]
        except openai.APIStatusError as e:
            raise EmbedError(
                f"The embeddings endpoint {self._shown_url} (model {self.model!r}) answered HTTP "
                f"{e.status_code}: {redact_text(e.message)}. Check the `embedder` setting and the provider's "
                "base_url and API key."
            ) from e
        except openai.APIError as e:
            raise EmbedError(
                f"Could not get embeddings from {self._shown_url} (model {self.model!r}): {redact_text(e.message)}. "
                "Check that "
                "the server is running and reachable."
            ) from e
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise EmbedError(
                f"The embeddings endpoint {self._shown_url} returned {len(data)} vectors for {len(texts)} texts."
            )
        vectors = [list(map(float, d.embedding)) for d in data]
        size = len(vectors[0])
        if self._dim and size != self._dim:
            raise EmbedError(
                f"Model {self.model!r} at {self._shown_url} returned {size}-dimensional vectors, expected "
                f"{self._dim}. Set `embedding_dim` to {size} (or fix the model name)."
            )
        self._dim = size
        return vectors

    async def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            key = self._api_key
            if key is None:
                if self.base_url == OPENAI_BASE_URL:
                    raise EmbedError(
                        f"No API key for the embeddings provider {self.provider!r} ({self._shown_url}). Set "
                        "OPENAI_API_KEY, point OPENAI_BASE_URL at a local server, or set embedder = 'none'."
                    )
                key = PLACEHOLDER_KEY
            client = await build_client(
                api_key=key, base_url=self.base_url, timeout_s=self._timeout_s, max_retries=self._max_retries
            )
            if self._client is None:
                self._client = client
            else:  # another task built one while we waited for the thread
                await client.close()
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
