"""Vector and hybrid search, and re-embedding when the embedder changes (deterministic embedders)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from archival_embedders import BagOfWords, Unreachable

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import Passage, utcnow
from letta_mcp.service import AgentService
from letta_mcp.service.errors import InvalidRequestError, ServiceError
from letta_mcp.store.lance import LanceIndex, build_filter

pytestmark = pytest.mark.anyio

DOG = "I adopted a dog from the shelter last week"
CAR = "The car needs new winter tires before December"


async def test_vectors_find_by_meaning_where_full_text_cannot(hybrid: AgentService) -> None:
    assert hybrid.archival is not None
    agent = (await hybrid.create_agent(name="a")).agent.id
    (dog,) = await hybrid.archival.insert(agent, DOG)
    await hybrid.archival.insert(agent, CAR)
    await hybrid.archival.wait_indexed()

    fts = await hybrid.archival.search(agent, "puppy", mode="fts")
    vector = await hybrid.archival.search(agent, "puppy", mode="vector")
    auto = await hybrid.archival.search(agent, "puppy")

    assert fts == []
    assert vector[0].passage.id == dog.id and vector[0].vector_rank == 1 and vector[0].fts_rank is None
    embedder = BagOfWords()
    cosine = sum(a * b for a, b in zip(embedder.vector("puppy"), embedder.vector(DOG), strict=True))
    assert vector[0].score == pytest.approx(cosine, abs=1e-4)  # vector scores are cosine similarities
    assert auto[0].passage.id == dog.id and auto[0].vector_rank == 1  # auto = hybrid with an embedder


async def test_hybrid_ranks_first_what_both_lists_agree_on(hybrid: AgentService) -> None:
    assert hybrid.archival is not None
    agent = (await hybrid.create_agent(name="a")).agent.id
    (both,) = await hybrid.archival.insert(agent, "my puppy chewed the garden hose")
    (words,) = await hybrid.archival.insert(agent, "the garden hose leaks at the tap")
    (meaning,) = await hybrid.archival.insert(agent, "the hound barks at night")
    await hybrid.archival.wait_indexed()

    hits = await hybrid.archival.search(agent, "puppy garden", mode="hybrid", top_k=3)

    assert hits[0].passage.id == both.id
    assert hits[0].fts_rank == 1 and hits[0].vector_rank == 1
    assert hits[0].score == pytest.approx((1.0 + 0.3) / 41)  # weighted reciprocal-rank fusion, k = 40
    assert {h.passage.id for h in hits} <= {both.id, words.id, meaning.id}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_new_passages_are_found_before_their_vectors_exist(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    gate = anyio.Event()  # the embedder stays busy until the gate opens
    service = await AgentService.open(settings, providers={"openai": scripted}, embedder=BagOfWords(gate=gate))
    try:
        assert service.archival is not None
        agent = (await service.create_agent(name="a")).agent.id
        (dog,) = await service.archival.insert(agent, DOG)
        hits = await service.archival.search(agent, "adopted dog shelter")
        assert [h.passage.id for h in hits] == [dog.id]
        assert hits[0].vector_rank is None  # found through full text while the vector is pending
        gate.set()
        await service.archival.wait_indexed()
        assert (await service.archival.search(agent, "puppy"))[0].passage.id == dog.id
    finally:
        await service.close()


async def test_changing_the_embedder_re_embeds_and_never_mixes_vectors(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    first = BagOfWords(name="test/first", dim=64)
    service = await AgentService.open(settings, providers={"openai": scripted}, embedder=first)
    assert service.archival is not None
    agent = (await service.create_agent(name="a")).agent.id
    (dog,) = await service.archival.insert(agent, DOG)
    await service.archival.insert(agent, CAR)
    await service.archival.wait_indexed()
    await service.close()
    index = await LanceIndex.open(settings.lance_target, storage_options=settings.lance_options())
    assert await index.has_vector_table("test/first:64")

    gate = anyio.Event()
    second = BagOfWords(name="test/second", dim=32, gate=gate)
    service = await AgentService.open(settings, providers={"openai": scripted}, embedder=second)
    try:
        assert service.archival is not None
        status = await service.archival.status()
        assert (status.vec_pending, status.embedder) == (2, "test/second:32")
        # Meanwhile: full-text only, the old model's vectors are not used for the new model's query.
        hits = await service.archival.search(agent, "puppy dog")
        assert hits[0].passage.id == dog.id and all(h.vector_rank is None for h in hits)
        assert not await index.has_vector_table("test/first:64")

        gate.set()
        await service.archival.wait_indexed()
        assert (await service.archival.status()).vec_pending == 0
        hits = await service.archival.search(agent, "puppy", mode="vector")
        assert hits[0].passage.id == dog.id and hits[0].vector_rank == 1
        assert await index.count(space="test/second:32") == 2
    finally:
        await service.close()


async def test_an_unreachable_embedder_degrades_to_full_text(settings: Settings, scripted: ScriptedProvider) -> None:
    embedder = Unreachable()
    service = await AgentService.open(settings, providers={"openai": scripted}, embedder=embedder)
    try:
        assert service.archival is not None
        agent = (await service.create_agent(name="a")).agent.id
        (dog,) = await service.archival.insert(agent, DOG)  # the insert never waits for the embedder

        hits = await service.archival.search(agent, "dog shelter")
        assert [h.passage.id for h in hits] == [dog.id]
        with pytest.raises(ServiceError, match="embedder failed"):
            await service.archival.search(agent, "dog", mode="hybrid")
    finally:
        await service.close()


async def test_vector_modes_need_an_embedder(service: AgentService) -> None:
    assert service.archival is not None
    agent = (await service.create_agent(name="a")).agent.id
    await service.archival.insert(agent, DOG)
    for mode in ("vector", "hybrid"):
        with pytest.raises(InvalidRequestError, match="needs an embedder"):
            await service.archival.search(agent, "dog", mode=mode)  # type: ignore[arg-type]
    assert len(await service.archival.search(agent, "dog", mode="fts")) == 1


async def test_an_ann_index_is_built_past_the_threshold(tmp_path: Path) -> None:
    index = await LanceIndex.open(str(tmp_path / "lance"), ann_threshold=300)
    embedder = BagOfWords(dim=16)
    passages = [
        Passage(id=f"p{i}", archive_id="a", text=f"note {i} topic{i % 37}", created_at=utcnow()) for i in range(320)
    ]
    await index.upsert_vectors("test:16", passages, [embedder.vector(p.text) for p in passages])
    assert not await index.has_ann_index("test:16")

    await index.maintain(space="test:16")

    assert await index.has_ann_index("test:16")
    hits = await index.search_vectors("test:16", embedder.vector("note 5 topic5"), build_filter(["a"]), 3)
    assert hits[0][0] == "p5"
    assert await index.search_vectors("test:16", embedder.vector("note 5"), build_filter(["other"]), 3) == []
