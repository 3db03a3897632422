"""Ownership in the service: who sees what, the change feed, and migration 4 on an existing database.

The MCP-level version of these rules (every tool and resource, over real HTTP) is in
tests/http/test_http_isolation.py; here the service is called directly, as a library would.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from letta_mcp.llm.scripted import ScriptedProvider, call, reply
from letta_mcp.service import AgentService
from letta_mcp.service.access import LOCAL, Principal, acting_as, current_principal
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import NotFoundError
from letta_mcp.store import Store
from letta_mcp.store.migrations import MIGRATIONS

pytestmark = pytest.mark.anyio

ALICE = Principal("alice")
BOB = Principal("bob")
ADMIN = Principal("ops", full_access=True)


def test_local_is_the_default_principal_and_sees_everything() -> None:
    assert current_principal() is LOCAL
    assert LOCAL.may_see("alice") and LOCAL.owner_filter is None
    with acting_as(BOB):
        assert current_principal() is BOB
        assert not BOB.may_see("alice") and BOB.may_see("bob") and BOB.owner_filter == "bob"
    assert current_principal() is LOCAL


async def test_other_principals_agents_look_like_unknown_ones(service: AgentService) -> None:
    with acting_as(ALICE):
        agent = (await service.create_agent(name="alices")).agent
    assert agent.owner == "alice"
    with acting_as(BOB):
        with pytest.raises(NotFoundError) as theirs:
            await service.get_agent(agent.id)
        with pytest.raises(NotFoundError) as unknown:
            await service.get_agent("agent-missing")
        assert str(theirs.value).replace(agent.id, "X") == str(unknown.value).replace("agent-missing", "X")
        for attempt in (
            service.get_memory(agent.id),
            service.get_block(agent.id, "human"),
            service.update_block(agent.id, "human", value="bob"),
            service.list_messages(agent.id),
            service.search_messages(agent.id, query="x"),
            service.send_message(agent.id, "hi"),
            service.update_agent(agent.id, name="bob's now"),
            service.delete_agent(agent.id),
            service.create_template("t", agent_id=agent.id),
        ):
            with pytest.raises(NotFoundError):
                await attempt
        assert await service.list_agents() == []
    with acting_as(ADMIN):
        assert [a.id for a in await service.list_agents()] == [agent.id]
    assert (await service.get_agent(agent.id)).agent.name == "alices"  # LOCAL sees it, unchanged


async def test_templates_are_per_owner(service: AgentService) -> None:
    with acting_as(ALICE):
        source = (await service.create_agent(name="a", human="Alice")).agent
        await service.create_template("shared-name", agent_id=source.id)
    with acting_as(BOB):
        assert await service.list_templates() == []
        with pytest.raises(NotFoundError, match="No template named 'shared-name'"):
            await service.create_agent(template="shared-name")
        mine = (await service.create_agent(name="b", human="Bob")).agent
        await service.create_template("shared-name", agent_id=mine.id)  # no clash with alice's
        copy = await service.create_agent(template="shared-name")
    assert [b.value for b in copy.blocks if b.label == "human"] == ["Bob"]
    assert sorted(t.owner for t in await service.list_templates()) == ["alice", "bob"]


async def test_changes_are_announced_after_commit(service: AgentService, scripted: ScriptedProvider) -> None:
    heard: list[Change] = []

    async def listener(change: Change) -> None:
        heard.append(change)

    unsubscribe = service.on_change(listener)
    with acting_as(ALICE):
        agent = (await service.create_agent(name="a")).agent
        await service.update_block(agent.id, "human", value="Alice")
        scripted.add(call("core_memory_append", {"label": "persona", "content": "I rhyme."}), reply("Done."))
        turn = await service.send_message(agent.id, "rhyme please")
    unsubscribe()
    await service.update_block(agent.id, "human", value="unheard")
    assert heard == [
        Change("alice", agent.id, agent=True),
        Change("alice", agent.id, blocks=("human",)),
        Change("alice", run_id=turn.run.id),  # each committed step: the call, then the reply
        Change("alice", run_id=turn.run.id),
        Change("alice", agent.id, blocks=("persona",), messages=True, run_id=turn.run.id),
    ]


async def test_a_failing_listener_does_not_fail_the_request(service: AgentService) -> None:
    async def broken(change: Change) -> None:
        raise RuntimeError("subscriber bug")

    service.on_change(broken)
    assert (await service.create_agent(name="still works")).agent.name == "still works"


async def test_migration_4_gives_existing_rows_to_the_local_user(tmp_path: Path) -> None:
    """A database at schema 3 (before ownership) with an agent and a template upgrades in place."""
    path = tmp_path / "letta.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE schema_migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        for migration in MIGRATIONS[:3]:
            for statement in migration.statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations(number, name) VALUES (?, ?)", (migration.number, migration.name))
        db.execute(
            "INSERT INTO agents (id, name, system, model, tools, created_at, updated_at) VALUES"
            " ('agent-old', 'old', 's', 'openai/x', '[]', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')"
        )
        db.execute(
            "INSERT INTO templates (id, name, system, model, tools, tags, blocks, created_at) VALUES"
            " ('template-old', 'starter', 's', 'openai/x', '[]', '[]', '[]', '2024-01-01T00:00:00Z')"
        )
    store = await Store.open(path)
    try:
        async with store.read() as q:
            agent = await q.agents.get("agent-old")
            template = await q.templates.get("starter")
            assert agent is not None and agent.owner == "local"
            assert template is not None and template.owner == "local"
            assert [a.id for a in await q.agents.list(owner="local")] == ["agent-old"]
            assert await q.agents.list(owner="alice") == []
    finally:
        await store.close()


async def test_settings_fixture_service_is_local(service: AgentService, scripted: ScriptedProvider) -> None:
    """Library use without any principal scope is the local user, as before ownership existed."""
    agent = (await service.create_agent(name="mine")).agent
    assert agent.owner == "local"
    with acting_as(ALICE), pytest.raises(NotFoundError):
        await service.get_agent(agent.id)
