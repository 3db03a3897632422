"""Archival memory through `ArchivalService` with the default set-up (no embedder: full-text search)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import NewPassage
from letta_mcp.service import AgentService
from letta_mcp.service.errors import ConflictError, InvalidRequestError, NotFoundError

pytestmark = pytest.mark.anyio


async def new_agent(service: AgentService, name: str = "a") -> str:
    return (await service.create_agent(name=name)).agent.id


async def test_insert_then_search_returns_the_passage_with_its_fields(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    (sarah,) = await service.archival.insert(agent, "Sarah's birthday is on 12 May.", tags=["sarah", "family"])
    await service.archival.insert(agent, "The quarterly report shows revenue grew 5%.", tags=["work"])
    await service.archival.insert(agent, "Bought oat milk and bread.")

    hits = await service.archival.search(agent, "when is Sarah's birthday?")

    # Its neighbours follow, found through their context (the passages stored around them).
    assert hits[0].passage.id == sarah.id and all(h.score < hits[0].score for h in hits[1:])
    hit = hits[0]
    assert hit.passage.text == "Sarah's birthday is on 12 May."
    assert hit.passage.tags == ["family", "sarah"]
    assert hit.fts_rank == 1 and hit.vector_rank is None and hit.score > 0
    assert abs(hit.passage.created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_long_text_is_split_into_ordered_passages(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    paragraphs = [f"Paragraph {i}: " + " ".join(f"word{i}x{j}" for j in range(150)) for i in range(5)]
    text = "\n\n".join(paragraphs)

    passages = await service.archival.insert(agent, text, tags=["doc"])

    limit = service.settings.archival_chunk_chars
    assert len(passages) >= 3
    assert all(len(p.text) <= limit and p.tags == ["doc"] for p in passages)
    assert " ".join(" ".join(p.text.split()) for p in passages) == " ".join(text.split())
    hits = await service.archival.search(agent, "word4x149")
    assert hits[0].passage.id == passages[-1].id


async def test_tag_filters_match_any_or_all(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    (both,) = await service.archival.insert(agent, "meeting notes about the launch", tags=["work", "launch"])
    (work,) = await service.archival.insert(agent, "meeting notes about hiring", tags=["work"])
    await service.archival.insert(agent, "meeting notes from the book club", tags=["hobby"])

    any_hits = await service.archival.search(agent, "meeting notes", tags=["launch", "work"])
    all_hits = await service.archival.search(agent, "meeting notes", tags=["launch", "work"], tag_match_mode="all")
    listed = await service.archival.list(agent, tags=["work", "launch"], tag_match_mode="all")

    assert {h.passage.id for h in any_hits} == {both.id, work.id}
    assert [h.passage.id for h in all_hits] == [both.id]
    assert [p.id for p in listed.passages] == [both.id]


async def test_date_range_bounds_the_stored_time(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    day = datetime(2024, 5, 1, 12, tzinfo=UTC)
    items = [NewPassage(text=f"standup notes day {i}", created_at=day + timedelta(days=i)) for i in range(5)]
    passages = await service.archival.insert_many(agent, items)

    hits = await service.archival.search(
        agent, "standup notes", start=day + timedelta(days=1), end=day + timedelta(days=3), top_k=10
    )
    naive = await service.archival.search(agent, "standup notes", end=datetime(2024, 5, 2, 0, 0), top_k=10)

    assert {h.passage.id for h in hits} == {p.id for p in passages[1:4]}
    assert [h.passage.id for h in naive] == [passages[0].id]  # a naive bound is UTC
    assert passages[2].created_at == day + timedelta(days=2)


async def test_delete_removes_the_passage_from_search_and_listing(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    (gone,) = await service.archival.insert(agent, "the wifi password is hunter2")
    (kept,) = await service.archival.insert(agent, "the door code is 4711, not the wifi password")
    assert len(await service.archival.search(agent, "wifi password")) == 2

    deleted = await service.archival.delete(agent, gone.id)

    assert deleted.id == gone.id
    assert [h.passage.id for h in await service.archival.search(agent, "wifi password")] == [kept.id]
    assert [p.id for p in (await service.archival.list(agent)).passages] == [kept.id]
    with pytest.raises(NotFoundError, match="no archival passage"):
        await service.archival.delete(agent, gone.id)
    assert await service.archival.count(agent) == 1


async def test_list_pages_with_a_cursor_in_both_orders(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    items = [NewPassage(text=f"entry {i}", created_at=start + timedelta(hours=i)) for i in range(5)]
    ids = [p.id for p in await service.archival.insert_many(agent, items)]

    pages, cursor = [], None
    while True:
        page = await service.archival.list(agent, limit=2, cursor=cursor)
        pages.append([p.id for p in page.passages])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    oldest_first = await service.archival.list(agent, limit=10, newest_first=False)

    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]
    assert [p.id for p in oldest_first.passages] == ids
    with pytest.raises(InvalidRequestError, match="Invalid cursor"):
        await service.archival.list(agent, cursor="not-a-cursor")


async def test_no_agent_ever_finds_another_agents_passages(service: AgentService) -> None:
    assert service.archival is not None
    alice, bob = await new_agent(service, "alice"), await new_agent(service, "bob")
    (secret,) = await service.archival.insert(alice, "alice's secret recipe uses cardamom", tags=["recipe"])
    await service.archival.insert(bob, "bob's recipe uses cinnamon", tags=["recipe"])

    bob_hits = await service.archival.search(bob, "secret recipe cardamom cinnamon", top_k=100)
    assert [h.passage.text for h in bob_hits] == ["bob's recipe uses cinnamon"]
    assert [p.text for p in (await service.archival.list(bob)).passages] == ["bob's recipe uses cinnamon"]
    with pytest.raises(NotFoundError):
        await service.archival.get(bob, secret.id)
    with pytest.raises(NotFoundError):
        await service.archival.delete(bob, secret.id)
    assert [h.passage.id for h in await service.archival.search(alice, "cardamom")] == [secret.id]
    memory = (await service.get_memory(bob)).rendered
    assert "1 total memories" in memory and "Available archival memory tags: recipe" in memory


async def test_shared_archive_outlives_the_agent_that_made_it(service: AgentService) -> None:
    assert service.archival is not None
    owner, reader = await new_agent(service, "owner"), await new_agent(service, "reader")
    (fact,) = await service.archival.insert(owner, "the staging server is at 10.0.0.7")
    (archive,) = await service.archival.archives(owner)

    await service.archival.attach(reader, archive.id)
    with pytest.raises(ConflictError):
        await service.archival.attach(reader, archive.id)
    assert [h.passage.id for h in await service.archival.search(reader, "staging server")] == [fact.id]
    (own,) = await service.archival.insert(reader, "the prod server is at 10.0.0.9")
    assert own.archive_id != archive.id  # the reader writes to its own archive, not the shared one

    await service.delete_agent(owner)
    hits = await service.archival.search(reader, "server", top_k=10)
    assert {h.passage.id for h in hits} == {fact.id, own.id}
    with pytest.raises(InvalidRequestError, match="detaching it would delete"):
        await service.archival.detach(reader, archive.id)

    await service.delete_agent(reader)
    assert (await service.archival.status()).passages == 0


async def test_detach_keeps_the_archive_for_its_other_agents(service: AgentService) -> None:
    assert service.archival is not None
    owner, reader = await new_agent(service, "owner"), await new_agent(service, "reader")
    await service.archival.insert(owner, "shared fact about llamas")
    (archive,) = await service.archival.archives(owner)
    await service.archival.attach(reader, archive.id)

    await service.archival.detach(reader, archive.id)

    assert await service.archival.search(reader, "llamas") == []
    assert len(await service.archival.search(owner, "llamas")) == 1
    with pytest.raises(NotFoundError, match="not attached"):
        await service.archival.detach(reader, archive.id)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"text": ""}, "empty"),
        ({"text": "   \n "}, "empty"),
        ({"text": "x" * 1_000_001}, "1000001 characters"),
        ({"text": "ok", "tags": [""]}, "empty strings"),
        ({"text": "ok", "tags": ["t" * 101]}, "longer than 100"),
        ({"text": "ok", "tags": [f"t{i}" for i in range(51)]}, "At most 50 tags"),
    ],
)
async def test_bad_inserts_are_refused_and_write_nothing(
    service: AgentService, call: dict[str, object], message: str
) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    with pytest.raises(InvalidRequestError, match=message):
        await service.archival.insert(agent, **call)  # type: ignore[arg-type]
    assert (await service.archival.status()).passages == 0
    assert await service.archival.archives(agent) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "x", "top_k": 0}, "top_k must be between 1 and 100"),
        ({"query": "x", "top_k": 101}, "top_k must be between 1 and 100"),
        ({"query": "x", "start": datetime(2024, 2, 1), "end": datetime(2024, 1, 1)}, "is after its end"),
        ({"query": "x", "mode": "vector"}, "needs an embedder"),
        ({"query": "x" * 10_001}, "at most 10000"),
    ],
)
async def test_bad_searches_say_what_to_fix(service: AgentService, call: dict[str, object], message: str) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    await service.archival.insert(agent, "something to find")
    with pytest.raises(InvalidRequestError, match=message):
        await service.archival.search(agent, **call)  # type: ignore[arg-type]


async def test_unknown_agent_is_not_found(service: AgentService) -> None:
    assert service.archival is not None
    with pytest.raises(NotFoundError, match="list_agents"):
        await service.archival.insert("agent-nope", "text")
    with pytest.raises(NotFoundError, match="list_agents"):
        await service.archival.search("agent-nope", "text")


async def test_queries_with_search_syntax_are_plain_words(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    (p,) = await service.archival.insert(agent, 'He said "title: Dune" (the book) AND liked it')
    for query in ['"title: Dune"', "(the book", "AND OR NOT", "title:dune*", "'; DROP TABLE passages; --"]:
        hits = await service.archival.search(agent, query)
        assert all(h.passage.id == p.id for h in hits), query
    assert (await service.archival.search(agent, "dune"))[0].passage.id == p.id


async def test_a_passage_is_also_found_through_its_neighbours(service: AgentService) -> None:
    assert service.archival is not None
    agent = await new_agent(service)
    turns = [
        "Caroline: I finally went to the adoption agency on Friday.",
        "Melanie: How did it go?",
        "Caroline: We got the papers today, it is really happening!",
        "Melanie: I painted a sunset at the lake last weekend.",
        "Caroline: The colours sound lovely.",
        "Melanie: Thanks, I used watercolours this time.",
    ]
    passages = await service.archival.insert_many(agent, [NewPassage(text=t) for t in turns[:3]])
    first = await service.archival.search(agent, "adoption")  # the next two turns, through their context
    assert first[0].passage.id == passages[0].id and {h.passage.id for h in first[1:]} == {p.id for p in passages[1:]}
    later = await service.archival.insert_many(agent, [NewPassage(text=t) for t in turns[3:]])

    hits = await service.archival.search(agent, "adoption papers", top_k=10)
    watercolours = await service.archival.search(agent, "watercolours", top_k=10)

    ids = [h.passage.id for h in hits]
    assert set(ids[:2]) == {passages[0].id, passages[2].id}  # a word of its own + one in context
    assert later[2].id not in ids  # three turns away: outside the context
    # The two turns before the watercolours turn were indexed again when it arrived: found through it.
    assert watercolours[0].passage.id == later[2].id
    assert {h.passage.id for h in watercolours[1:]} == {later[0].id, later[1].id}


async def test_neighbour_context_can_be_switched_off(settings: Settings, scripted: ScriptedProvider) -> None:
    off = settings.model_copy(update={"archival_context_passages": 0})
    service = await AgentService.open(off, providers={"openai": scripted})
    try:
        assert service.archival is not None
        agent = await new_agent(service)
        first, _ = await service.archival.insert_many(
            agent, [NewPassage(text="adoption agency visit"), NewPassage(text="we got the papers")]
        )
        assert [h.passage.id for h in await service.archival.search(agent, "adoption")] == [first.id]
    finally:
        await service.close()
