"""The OpenAI-compatible embedder against a real HTTP fake, and building embedders from settings."""

from __future__ import annotations

import pytest

from fake_openai import FakeOpenAI, fake_embedding
from letta_mcp.config import Settings, load_settings
from letta_mcp.embed.errors import EmbedderUnavailableError, EmbedError
from letta_mcp.embed.openai import OpenAIEmbedder
from letta_mcp.embed.registry import build_embedder
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


def embedder(fake: FakeOpenAI, **kwargs: object) -> OpenAIEmbedder:
    options: dict[str, object] = {"model": "fake-embed", "api_key": "sk-test", "base_url": fake.base_url}
    return OpenAIEmbedder(**{**options, **kwargs})  # type: ignore[arg-type]


async def test_texts_are_embedded_in_order_in_batches(fake_openai: FakeOpenAI) -> None:
    client = embedder(fake_openai, batch_size=2)
    try:
        vectors = await client.embed(["alpha", "beta", "gamma", ""])
    finally:
        await client.aclose()
    assert vectors == [pytest.approx(fake_embedding(t)) for t in ["alpha", "beta", "gamma", " "]]
    assert [r["input"] for r in fake_openai.embedding_requests] == [["alpha", "beta"], ["gamma", " "]]
    assert (client.name, client.dim) == ("openai/fake-embed", 16)  # learnt from the first answer


async def test_transient_failures_are_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_embeddings(503, 429)
    client = embedder(fake_openai)
    try:
        assert await client.embed(["alpha"]) == [pytest.approx(fake_embedding("alpha"))]
    finally:
        await client.aclose()
    assert len(fake_openai.embedding_requests) == 3


async def test_a_rejected_request_says_what_to_check(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_embeddings(401)
    client = embedder(fake_openai, max_retries=0)
    try:
        with pytest.raises(EmbedError, match=r"HTTP 401.*API key"):
            await client.embed(["alpha"])
    finally:
        await client.aclose()


async def test_a_configured_endpoint_embedder_gives_hybrid_search(fake_openai: FakeOpenAI, settings: Settings) -> None:
    configured = load_settings(
        overrides={"data_dir": str(settings.data_dir), "embedder": "openai/fake-embed", "embedding_dim": 16},
        environ={"OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "sk-test"},
    )
    service = await AgentService.open(configured, providers={"openai": ScriptedProvider()})
    try:
        assert service.archival is not None
        agent = (await service.create_agent(name="a")).agent.id
        (p,) = await service.archival.insert(agent, "tulips bloom in April")
        await service.archival.wait_indexed()
        hits = await service.archival.search(agent, "tulips", mode="hybrid")
    finally:
        await service.close()
    assert hits[0].passage.id == p.id and hits[0].fts_rank == 1 and hits[0].vector_rank == 1


def test_building_embedders_from_settings() -> None:
    assert build_embedder(load_settings(environ={})) is None
    endpoint = build_embedder(load_settings(overrides={"embedder": "openai/text-embedding-3-small"}, environ={}))
    assert endpoint is not None and (endpoint.name, endpoint.dim) == ("openai/text-embedding-3-small", 1536)
    with pytest.raises(EmbedderUnavailableError, match=r"\[providers.ollama\]"):
        build_embedder(load_settings(overrides={"embedder": "ollama/nomic-embed-text"}, environ={}))
