"""The in-process context cache stays exact when another process changes the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from letta_mcp.models import Agent, ChatMessage, Message, Role, new_id, utcnow
from letta_mcp.runtime.context_cache import ContextCache
from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


def _msg(agent_id: str, seq: int, content: str, *, role: Role = Role.user, kind: str | None = None) -> Message:
    return Message(
        id=new_id("message"), agent_id=agent_id, seq=seq, role=role, content=content, kind=kind, created_at=utcnow()
    )


async def test_cache_follows_appends_evictions_and_system_rewrites_from_another_process(tmp_path: Path) -> None:
    ours, theirs = await Store.open(tmp_path / "letta.db"), await Store.open(tmp_path / "letta.db")
    cache = ContextCache()
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)
    try:
        async with ours.write() as q:
            await q.agents.insert(agent)
            await q.messages.insert(
                [_msg(agent.id, 0, "system v1", role=Role.system), *(_msg(agent.id, i, f"m{i}") for i in range(1, 6))]
            )

        async def window() -> list[str | None]:
            async with ours.read() as q:
                return [m.content for m in await cache.load(q, agent.id)]

        assert await window() == ["system v1", "m1", "m2", "m3", "m4", "m5"]
        async with theirs.write() as q:  # another process appends
            await q.messages.insert([_msg(agent.id, 6, "m6"), _msg(agent.id, 7, "m7")])
        assert await window() == ["system v1", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]
        async with theirs.write() as q:  # ... compacts: evicts m1..m4, adds a summary
            evicted = [m.id for m in await q.messages.in_context(agent.id) if m.content in {"m1", "m2", "m3", "m4"}]
            await q.messages.set_in_context(evicted, False)
            await q.messages.insert([_msg(agent.id, 8, "summary", kind="summary")])
        assert await window() == ["system v1", "summary", "m5", "m6", "m7"]
        async with theirs.write() as q:  # ... and rewrites the system message in place
            system = await q.messages.system_message(agent.id)
            await q.messages.update_content(system.id, "system v2", 3)
        assert await window() == ["system v2", "summary", "m5", "m6", "m7"]
        async with ours.read() as q:  # callers may extend what they get without touching the cache
            (await cache.load(q, agent.id)).append(_msg(agent.id, 99, "x"))
        assert await window() == ["system v2", "summary", "m5", "m6", "m7"]
    finally:
        await ours.close()
        await theirs.close()


async def test_chat_forms_are_built_once_per_message_and_follow_the_window(tmp_path: Path) -> None:
    """A step's request reuses the chat messages built when the window was loaded (so providers can
    keep their encoding of each); only the system message and what was appended are new objects."""
    store = await Store.open(tmp_path / "letta.db")
    cache = ContextCache()
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)
    try:
        async with store.write() as q:
            await q.agents.insert(agent)
            await q.messages.insert(
                [_msg(agent.id, 0, "system", role=Role.system), *(_msg(agent.id, i, f"m{i}") for i in range(1, 4))]
            )

        async def step(extra: Message | None = None) -> list[ChatMessage]:
            async with store.read() as q:
                context = await cache.load(q, agent.id)
            return cache.chat_messages(agent.id, context + ([extra] if extra else []))

        first = await step()
        assert [(c.role, c.content) for c in first] == [
            (Role.system, "system"),
            *((Role.user, f"m{i}") for i in (1, 2, 3)),
        ]
        warning = _msg(agent.id, 99, "not stored")
        second = await step(warning)
        assert all(a is b for a, b in zip(first[1:], second[1:4], strict=True))  # the same objects
        assert second[0] is not first[0]  # the system message is rebuilt: it is rewritten in place
        assert second[4].content == "not stored"
        async with store.write() as q:
            await q.messages.insert([_msg(agent.id, 4, "m4")])
        third = await step()
        assert all(a is b for a, b in zip(first[1:], third[1:4], strict=True))
        assert [c.content for c in third] == ["system", "m1", "m2", "m3", "m4"]
    finally:
        await store.close()


async def test_chat_forms_of_a_context_that_is_not_the_cached_window_are_built_in_full(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "letta.db")
    cache = ContextCache()
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)
    try:
        async with store.write() as q:
            await q.agents.insert(agent)
            await q.messages.insert([_msg(agent.id, 0, "system", role=Role.system), _msg(agent.id, 1, "m1")])
            context = await cache.load(q, agent.id)
        copies = [m.model_copy(update={"content": f"{m.content}, edited"}) for m in context]
        assert [c.content for c in cache.chat_messages(agent.id, copies)] == ["system, edited", "m1, edited"]
        assert [c.content for c in cache.chat_messages(agent.id, context[:1])] == ["system"]  # shorter than the window
        assert [c.content for c in cache.chat_messages("unknown", context)] == ["system", "m1"]
    finally:
        await store.close()
