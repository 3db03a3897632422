"""The in-process context cache stays exact when another process changes the window."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from letta_mcp.models import Agent, ChatMessage, Message, Role, new_id, utcnow
from letta_mcp.runtime.context import window_tokens
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


async def test_appends_of_this_process_join_the_cached_window_and_its_token_sums(tmp_path: Path) -> None:
    """What this process commits is added to the cached window without reading it back; a write of
    another process in between still makes the next load read the database; the token sums kept
    with the window always equal a full count."""
    ours, theirs = await Store.open(tmp_path / "letta.db"), await Store.open(tmp_path / "letta.db")
    cache = ContextCache()
    now = utcnow()
    agent = Agent(id=new_id("agent"), name="a", system="s", model="openai/x", tools=[], created_at=now, updated_at=now)

    def sized(seq: int, content: str, kind: str | None = None) -> Message:
        return _msg(agent.id, seq, content, kind=kind).model_copy(update={"tokens": 10 * seq})

    async def commit(store: Store, messages: list[Message]) -> None:
        async with store.write() as q:
            await q.messages.insert(messages)

    async def window() -> list[Message]:
        with anyio.fail_after(10):
            async with ours.read() as q:
                return await cache.load(q, agent.id)

    def exact(context: list[Message]) -> None:
        assert cache.token_sums(agent.id, context) == window_tokens(context[1:])

    try:
        async with ours.write() as q:
            await q.agents.insert(agent)
        await commit(ours, [_msg(agent.id, 0, "system", role=Role.system), *(sized(i, f"m{i}") for i in (1, 2, 3))])
        exact(await window())

        ours_new = [sized(4, "m4"), sized(5, "m5")]
        await commit(ours, ours_new)
        cache.appended(agent.id, ours_new)
        context = await window()
        assert [m.content for m in context] == ["system", "m1", "m2", "m3", "m4", "m5"]
        exact(context)

        await commit(theirs, [sized(6, "m6")])  # another process, then this one again
        await commit(ours, [mine := sized(7, "m7")])
        cache.appended(agent.id, [mine])
        context = await window()
        assert [m.content for m in context] == ["system", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]
        exact(context)

        async with theirs.write() as q:  # another process compacts: m1..m4 out, a summary in
            evicted = [m.id for m in await q.messages.in_context(agent.id) if m.content in {"m1", "m2", "m3", "m4"}]
            await q.messages.set_in_context(evicted, False)
            await q.messages.insert([sized(8, "summary", kind="summary")])
        context = await window()
        assert [m.content for m in context] == ["system", "summary", "m5", "m6", "m7"]
        exact(context)
        assert cache.token_sums(agent.id, context) == (80, 50 + 60 + 70)
        context.append(sized(9, "not stored"))  # what a step adds to its copy counts too
        exact(context)
    finally:
        await ours.close()
        await theirs.close()
