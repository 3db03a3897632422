"""Conversation search with an embedder: messages embedded in the background, searched hybrid.

The embedder is `BagOfWords` (deterministic, "puppy" and "hound" share the bucket of "dog"), so a
query can mean a message without sharing a word with it: only the vector list finds it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from archival_embedders import BagOfWords, Unreachable

from letta_mcp.cli import main
from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.models import Role, utcnow
from letta_mcp.service import AgentService
from letta_mcp.store.lance import LanceIndex
from letta_mcp.store.message_vectors import MessageVectors

pytestmark = pytest.mark.anyio

DOG = "I adopted a dog from the shelter last week"
HOUND = "A hound needs long walks every day."
CAR = "The car needs new winter tires"


class Recording(BagOfWords):
    """Records every text it embeds; holds any batch containing ``hold`` until `release`."""

    def __init__(self, hold: str | None = None) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._hold = hold
        self.holding = anyio.Event()  # set when a held batch arrives
        self._released = anyio.Event()

    def release(self) -> None:
        self._released.set()

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if self._hold is not None and any(self._hold in t for t in texts):
            self.holding.set()
            await self._released.wait()
        self.texts += texts
        return await super().embed(texts)


async def open_service(settings: Settings, scripted: ScriptedProvider, embedder: BagOfWords | None) -> AgentService:
    return await AgentService.open(settings, providers={"openai": scripted}, embedder=embedder)


@pytest.fixture
async def hybrid_chat(settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[tuple[AgentService, str]]:
    """A service with `BagOfWords` and an agent that talked about its dog and its car, all embedded."""
    service = await open_service(settings, scripted, BagOfWords())
    try:
        agent = (await service.create_agent(name="a")).agent.id
        scripted.add(reply(HOUND), reply("Noted."))
        with anyio.fail_after(20):
            await service.send_message(agent, DOG)
            await service.send_message(agent, CAR)
            assert service.message_index is not None
            await service.message_index.wait_indexed()
        yield service, agent
    finally:
        await service.close()


async def vectors_of(service: AgentService, agent: str) -> int:
    assert service.message_index is not None
    return await (await service.message_index.open()).count(agent)


async def test_hybrid_finds_a_paraphrase_that_full_text_misses(hybrid_chat: tuple[AgentService, str]) -> None:
    service, agent = hybrid_chat
    async with service.store.read() as q:
        assert await q.messages.search(agent, query="puppy", roles=[Role.user, Role.assistant]) == []

    found = await service.search_messages(agent, query="puppy", limit=2)

    assert {m.content for m in found} == {DOG, HOUND}  # the user's message and the reply, not the car
    assert await vectors_of(service, agent) == 4  # two turns: user and assistant messages, with text


async def test_words_and_meaning_together_rank_first(hybrid_chat: tuple[AgentService, str]) -> None:
    service, agent = hybrid_chat
    found = await service.search_messages(agent, query="puppy shelter", limit=4)
    assert found[0].content == DOG  # first in both lists


async def test_role_and_date_filters_apply_to_vector_hits(hybrid_chat: tuple[AgentService, str]) -> None:
    service, agent = hybrid_chat
    yesterday = utcnow() - timedelta(days=1)

    users = await service.search_messages(agent, query="puppy", roles=[Role.user])
    answers = await service.search_messages(agent, query="puppy", roles=[Role.assistant])
    before = await service.search_messages(agent, query="puppy", end=yesterday)
    since = await service.search_messages(agent, query="puppy", start=yesterday, limit=1)

    assert {m.role for m in users} == {Role.user} and users[0].content == DOG
    assert {m.role for m in answers} == {Role.assistant} and answers[0].content == HOUND
    assert before == []
    assert [m.content for m in since] == [HOUND]


async def test_the_agents_conversation_search_is_hybrid(
    hybrid_chat: tuple[AgentService, str], scripted: ScriptedProvider
) -> None:
    service, agent = hybrid_chat
    scripted.add(call("conversation_search", {"query": "puppy", "limit": 2}), reply("Found it."))

    with anyio.fail_after(20):
        result = await service.send_message(agent, "What did I say about pets?")

    tool = next(m for m in result.messages if m.role is Role.tool)
    results = json.loads(json.loads(tool.content or "")["message"])["results"]
    assert {r["content"] for r in results} == {DOG, HOUND}


async def test_turns_do_not_wait_for_embedding_and_pending_messages_are_found_by_full_text(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    embedder = Recording(hold="shelter")
    service = await open_service(settings, scripted, embedder)
    try:
        agent = (await service.create_agent(name="a")).agent.id
        scripted.add(reply(HOUND))
        with anyio.fail_after(20):
            await service.send_message(agent, DOG)  # returns while its embedding is held
            await embedder.holding.wait()  # the background indexer took it up by itself
            assert await vectors_of(service, agent) == 0
            pending = await service.search_messages(agent, query="adopted dog", limit=1)
            assert [m.content for m in pending] == [DOG]  # full text, before any vector exists

            embedder.release()
            assert service.message_index is not None
            await service.message_index.wait_indexed()
            assert await vectors_of(service, agent) == 2
            assert (await service.search_messages(agent, query="puppy", roles=[Role.user]))[0].content == DOG
    finally:
        embedder.release()
        await service.close()


async def test_search_falls_back_to_full_text_when_the_embedder_fails(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    service = await open_service(settings, scripted, Unreachable())
    try:
        agent = (await service.create_agent(name="a")).agent.id
        scripted.add(reply(HOUND))
        with anyio.fail_after(20):
            await service.send_message(agent, DOG)
            found = await service.search_messages(agent, query="adopted dog", limit=1)
        assert [m.content for m in found] == [DOG]
    finally:
        await service.close()


async def test_search_falls_back_to_full_text_when_another_process_dropped_the_vectors(
    hybrid_chat: tuple[AgentService, str], settings: Settings
) -> None:
    service, agent = hybrid_chat
    assert service.message_index is not None
    # Another process's connection (its `letta-mcp reindex` drops the tables first).
    other = await LanceIndex.open(settings.lance_target, storage_options=settings.lance_options())
    await MessageVectors(other.db, service.message_index.space).drop()

    found = await service.search_messages(agent, query="adopted dog", limit=1)

    assert [m.content for m in found] == [DOG]


async def test_a_restart_embeds_only_what_is_above_the_watermark(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    with anyio.fail_after(30):
        plain = await open_service(settings, scripted, None)  # no embedder: nothing is embedded
        try:
            assert plain.message_index is None
            agent = (await plain.create_agent(name="a")).agent.id
            scripted.add(reply(HOUND))
            await plain.send_message(agent, DOG)
        finally:
            await plain.close()

        first = Recording()
        service = await open_service(settings, scripted, first)
        try:
            assert service.message_index is not None
            await service.message_index.wait_indexed()  # the start checks every agent
            assert sorted(first.texts) == sorted([DOG, HOUND])
        finally:
            await service.close()

        second = Recording()
        service = await open_service(settings, scripted, second)
        try:
            assert service.message_index is not None
            await service.message_index.wait_indexed()
            assert second.texts == []  # everything was below the watermark
            scripted.add(reply("Noted."))
            await service.send_message(agent, CAR)
            await service.message_index.wait_indexed()
            assert sorted(second.texts) == sorted([CAR, "Noted."])
            assert (await service.search_messages(agent, query="puppy", roles=[Role.user]))[0].content == DOG
        finally:
            await service.close()


async def test_deleting_an_agent_removes_its_vectors(
    hybrid_chat: tuple[AgentService, str], scripted: ScriptedProvider
) -> None:
    service, agent = hybrid_chat
    other = (await service.create_agent(name="b")).agent.id
    assert service.message_index is not None
    with anyio.fail_after(20):
        scripted.add(reply("Hi!"))
        await service.send_message(other, "hello there")
        await service.message_index.wait_indexed()
        assert await vectors_of(service, agent) == 4

        await service.delete_agent(agent)
        await service.message_index.wait_indexed()

    assert await vectors_of(service, agent) == 0
    assert await vectors_of(service, other) == 2  # other agents keep theirs
    assert agent not in await (await service.message_index.open()).marks()


async def test_reindex_embeds_every_message_again(hybrid_chat: tuple[AgentService, str]) -> None:
    service, agent = hybrid_chat
    assert service.message_index is not None
    with anyio.fail_after(20):
        assert await service.message_index.reindex() == 4
    assert (await service.search_messages(agent, query="puppy", roles=[Role.user]))[0].content == DOG


def test_reindex_command_embeds_every_message_with_the_configured_embedder(
    settings: Settings, scripted: ScriptedProvider, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def chat() -> None:
        service = await open_service(settings, scripted, None)
        try:
            agent = (await service.create_agent(name="a")).agent.id
            scripted.add(reply(HOUND))
            await service.send_message(agent, DOG)
        finally:
            await service.close()

    anyio.run(chat)
    config = tmp_path / "local.toml"
    config.write_text('embedder = "local"\n')  # the real [local] model, as a user configures it

    assert main(["reindex", "--data-dir", str(settings.data_dir), "--config", str(config)]) == 0
    assert "and embedded 2 messages" in capsys.readouterr().err
