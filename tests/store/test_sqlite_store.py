"""The SQLite store on real files: pragmas, migrations, transactions, messages, blocks, runs."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from letta_mcp.models import Agent, Block, Message, Role, Template, new_id, utcnow
from letta_mcp.store import ConflictError, SchemaTooNewError, Store
from letta_mcp.store.migrations import LATEST_VERSION

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(tmp_path / "letta.db")
    try:
        yield s
    finally:
        await s.close()


def _agent(name: str = "a") -> Agent:
    now = utcnow()
    return Agent(
        id=new_id("agent"),
        name=name,
        system="sys",
        model="openai/x",
        tools=[],
        tags=["t"],
        created_at=now,
        updated_at=now,
    )


def _block(label: str, value: str = "") -> Block:
    now = utcnow()
    return Block(id=new_id("block"), label=label, value=value, limit=100, created_at=now, updated_at=now)


def _msg(agent_id: str, seq: int, role: Role, content: str, *, in_context: bool = True, days_ago: int = 0) -> Message:
    return Message(
        id=new_id("message"),
        agent_id=agent_id,
        seq=seq,
        role=role,
        content=content,
        in_context=in_context,
        created_at=utcnow() - timedelta(days=days_ago),
    )


async def test_pragmas_and_schema_version(tmp_path: Path, store: Store) -> None:
    conn = sqlite3.connect(tmp_path / "letta.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT MAX(number) FROM schema_migrations").fetchone()[0] == LATEST_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"agents", "blocks", "agent_blocks", "messages", "runs", "steps", "templates", "block_history"} <= tables
    async with store.read() as q:
        assert (await q.db.fetchall("PRAGMA foreign_keys"))[0][0] == 1
        assert (await q.db.fetchall("PRAGMA busy_timeout"))[0][0] >= 5000
    assert await store.integrity_check() == "ok"


async def test_reopen_does_not_reapply_migrations(tmp_path: Path, store: Store) -> None:
    agent = _agent()
    async with store.write() as q:
        await q.agents.insert(agent)
    again = await Store.open(tmp_path / "letta.db")
    try:
        async with again.read() as q:
            assert (await q.agents.get(agent.id)) == agent
    finally:
        await again.close()


async def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "letta.db"
    s = await Store.open(path)
    await s.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations(number, name) VALUES (?, 'future')", (LATEST_VERSION + 1,))
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="upgrade letta-mcp"):
        await Store.open(path)
    assert path.read_bytes() == before


async def test_write_rolls_back_on_error(store: Store) -> None:
    agent = _agent()
    with pytest.raises(RuntimeError):
        async with store.write() as q:
            await q.agents.insert(agent)
            raise RuntimeError("boom")
    async with store.read() as q:
        assert await q.agents.get(agent.id) is None


async def test_in_context_membership_and_counts(store: Store) -> None:
    agent = _agent()
    async with store.write() as q:
        await q.agents.insert(agent)
        await q.messages.insert(
            [
                _msg(agent.id, 0, Role.system, "system"),
                _msg(agent.id, 1, Role.user, "evicted long ago", in_context=False),
                _msg(agent.id, 2, Role.user, "hello"),
                _msg(agent.id, 3, Role.assistant, "hi"),
            ]
        )
        assert await q.messages.next_seq(agent.id) == 4
    async with store.read() as q:
        assert [m.seq for m in await q.messages.in_context(agent.id)] == [0, 2, 3]
        assert await q.messages.counts(agent.id) == (4, 3)
        assert [m.seq for m in await q.messages.page(agent.id, before_seq=3, limit=2)] == [2, 1]
        assert [m.seq for m in await q.messages.page(agent.id, after_seq=0, limit=2, newest_first=False)] == [1, 2]
        assert [m.seq for m in await q.messages.page(agent.id, roles=[Role.assistant])] == [3]


async def test_search_finds_an_answer_through_the_question_said_before_it(store: Store) -> None:
    agent = _agent()
    talk = [
        (Role.system, "You are a helpful dog-loving assistant."),
        (Role.user, "What did you call your new dog?"),
        (Role.assistant, "Biscuit! She chases squirrels all day."),
        (Role.tool, "dog dog dog"),  # tool traffic lends no context to its neighbours
        (Role.user, "I bought groceries."),
        (Role.assistant, "Anything tasty?"),
        (Role.user, "Only bread."),
    ]
    async with store.write() as q:
        await q.agents.insert(agent)
        await q.messages.insert([_msg(agent.id, seq, role, text) for seq, (role, text) in enumerate(talk)])
    with anyio.fail_after(10):
        async with store.read() as q:
            answers = await q.messages.search(agent.id, query="what is the dog called", roles=[Role.assistant])
            talk_hits = await q.messages.search(agent.id, query="dog called", roles=[Role.user, Role.assistant])

    assert [m.seq for m in answers] == [2]  # shares no word with the question; its neighbour does
    assert [m.seq for m in talk_hits] == [1, 4, 2]  # the match, then the two turns after it (ties: newest first)


async def test_search_uses_stemming_roles_and_dates(store: Store) -> None:
    agent = _agent()
    async with store.write() as q:
        await q.agents.insert(agent)
        await q.messages.insert(
            [
                _msg(agent.id, 0, Role.system, "system prompt about hiking"),
                _msg(agent.id, 1, Role.user, "I went hiking in the Alps", in_context=False, days_ago=10),
                _msg(agent.id, 2, Role.assistant, "The Alps sound wonderful", days_ago=1),
                _msg(agent.id, 3, Role.user, "My cat is called Milo"),
            ]
        )
    async with store.read() as q:
        hits = await q.messages.search(agent.id, query="hikes", roles=[Role.user, Role.assistant])
        # Porter stemming: hikes ~ hiking; system never matches; then the next two turns (context).
        assert [m.seq for m in hits] == [1, 3, 2]
        hits = await q.messages.search(agent.id, query="alps", roles=[Role.assistant])
        assert [m.seq for m in hits] == [2]
        recent = await q.messages.search(
            agent.id, query="alps", roles=[Role.user, Role.assistant], start=utcnow() - timedelta(days=5)
        )
        assert [m.seq for m in recent] == [2, 3]  # 1 is older than the bound (context or not)
        assert [m.seq for m in await q.messages.search(agent.id, query="?!", roles=[Role.user])] == [3, 1]
        assert await q.messages.search(agent.id, query='"unbalanced AND (', roles=[Role.user]) == []


async def test_deleting_agent_keeps_blocks_shared_with_others(store: Store) -> None:
    a, b = _agent("a"), _agent("b")
    shared, own = _block("team"), _block("human")
    async with store.write() as q:
        await q.agents.insert(a)
        await q.agents.insert(b)
        await q.blocks.insert(shared)
        await q.blocks.insert(own)
        await q.blocks.link(a.id, shared)
        await q.blocks.link(a.id, own)
        await q.blocks.link(b.id, shared)
    async with store.write() as q:
        await q.agents.delete(a.id)
        await q.blocks.delete_unlinked([shared.id, own.id])
    async with store.read() as q:
        assert [blk.id for blk in await q.blocks.for_agent(b.id)] == [shared.id]
        assert [r[0] for r in await q.db.fetchall("SELECT id FROM blocks")] == [shared.id]


async def test_duplicate_template_name_conflicts(store: Store) -> None:
    t = Template(
        id=new_id("template"), name="helper", system="s", model="openai/x", tools=[], blocks=[], created_at=utcnow()
    )
    async with store.write() as q:
        await q.templates.insert(t)
    with pytest.raises(ConflictError, match="helper"):
        async with store.write() as q:
            await q.templates.insert(t.model_copy(update={"id": new_id("template")}))
