"""SQLite and LanceDB never drift for long: what a crash or a lost write leaves behind is repaired."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.cli import main
from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import NewPassage, utcnow
from letta_mcp.service import AgentService
from letta_mcp.store import Store
from letta_mcp.store.lance import LanceIndex


async def open_service(settings: Settings) -> AgentService:
    return await AgentService.open(settings, providers={"openai": ScriptedProvider()})


async def open_index(settings: Settings) -> LanceIndex:
    return await LanceIndex.open(settings.lance_target, storage_options=settings.lance_options())


@pytest.mark.anyio
async def test_a_passage_committed_but_never_indexed_is_found_after_restart(settings: Settings) -> None:
    service = await open_service(settings)
    agent = await service.create_agent(name="a")
    assert service.archival is not None
    memory = service.archival.memory
    # The process dies right after the SQLite commit, before any index write (no notify, no flush).
    async with service.store.write() as q:
        (passage,) = await memory.insert(
            q, agent.agent, [NewPassage(text="the spare key is under the blue pot")], utcnow()
        )
    await service.close()
    assert await (await open_index(settings)).count() == 0

    service = await open_service(settings)
    try:
        assert service.archival is not None
        hits = await service.archival.search(agent.agent.id, "where is the spare key")
        assert [h.passage.id for h in hits] == [passage.id]
        assert (await service.archival.status()).fts_pending == 0
    finally:
        await service.close()


@pytest.mark.anyio
async def test_an_index_write_lost_after_commit_is_redone_on_restart(settings: Settings) -> None:
    service = await open_service(settings)
    assert service.archival is not None
    agent = (await service.create_agent(name="a")).agent.id
    (lost,) = await service.archival.insert(agent, "the boiler was serviced in March")
    (kept,) = await service.archival.insert(agent, "the boiler pressure should be 1.5 bar")
    await service.archival.wait_indexed()
    await service.close()
    index = await open_index(settings)
    await index.delete(passage_ids=[lost.id])  # SQLite says indexed, LanceDB lost it
    assert await index.count() == 1

    service = await open_service(settings)
    try:
        assert service.archival is not None
        hits = await service.archival.search(agent, "boiler serviced March")
        assert hits[0].passage.id == lost.id
        assert {h.passage.id for h in hits} == {lost.id, kept.id}
        assert await index.count() == 2
    finally:
        await service.close()


@pytest.mark.anyio
async def test_index_rows_without_a_passage_are_removed_on_restart(settings: Settings) -> None:
    service = await open_service(settings)
    assert service.archival is not None
    agent = (await service.create_agent(name="a")).agent.id
    (ghost,) = await service.archival.insert(agent, "a passage deleted while the index write failed")
    await service.archival.insert(agent, "a passage that stays")
    await service.archival.wait_indexed()
    await service.close()
    store = await Store.open(settings.store_target)  # the delete committed, LanceDB's did not
    try:
        async with store.write() as q:
            await q.db.execute("DELETE FROM passages WHERE id = :id", {"id": ghost.id})
    finally:
        await store.close()
    index = await open_index(settings)
    assert await index.count() == 2

    service = await open_service(settings)
    try:
        assert service.archival is not None
        hits = await service.archival.search(agent, "passage deleted index")
        assert ghost.id not in {h.passage.id for h in hits}
        assert sorted(await index.ids()) == sorted(p.id for p in (await service.archival.list(agent)).passages)
    finally:
        await service.close()


@pytest.mark.anyio
async def test_reindex_rebuilds_a_lost_index_from_sqlite_with_progress(settings: Settings) -> None:
    service = await open_service(settings)
    assert service.archival is not None
    agent = (await service.create_agent(name="a")).agent.id
    passages = await service.archival.insert_many(agent, [NewPassage(text=f"fact number {i}") for i in range(5)])
    await service.archival.wait_indexed()
    await service.close()
    await (await open_index(settings)).drop_all()  # the index is lost (its tables gone)

    service = await open_service(settings)
    try:
        assert service.archival is not None
        progress: list[tuple[int, int]] = []
        assert await service.archival.reindex(lambda done, total: progress.append((done, total))) == 5
        assert progress[0] == (0, 5) and progress[-1] == (5, 5)
        hits = await service.archival.search(agent, "fact number", top_k=10)
        assert {h.passage.id for h in hits} == {p.id for p in passages}
        assert await (await open_index(settings)).count() == 5
    finally:
        await service.close()


def test_reindex_command_shows_progress_on_stderr(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    async def fill() -> str:
        service = await open_service(settings)
        assert service.archival is not None
        agent = (await service.create_agent(name="a")).agent.id
        await service.archival.insert_many(agent, [NewPassage(text=f"line {i}") for i in range(3)])
        await service.close()
        return agent

    agent = anyio.run(fill)
    assert main(["reindex", "--data-dir", str(settings.data_dir)]) == 0
    captured = capsys.readouterr()
    assert "100% 3/3" in captured.err and "Reindexed 3 archival passages" in captured.err
    assert captured.out == ""

    async def count() -> int:
        return await (await open_index(settings)).count()

    assert anyio.run(count) == 3 and agent
