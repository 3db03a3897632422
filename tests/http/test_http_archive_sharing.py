"""Sharing an archive across principals over real HTTP: read-only unless the owner's side shares it
writable. alice owns an agent with knowledge; the admin ops shares it with bob's agent (neither alice
nor bob can name the other's agent, so cross-principal sharing is an admin's act)."""

from __future__ import annotations

import anyio
import pytest
from http_harness import ServerProcess, Tokens, connect, error_text, ok
from mcp import Client

pytestmark = pytest.mark.anyio

RECIPE = "Grandma's secret: a pinch of cardamom in the plum jam."


async def texts(client: Client, agent_id: str) -> set[str]:
    """Every passage the agent can search (its own and those shared with it)."""
    args = {"agent_id": agent_id, "query": "Grandma plum jam Bob"}
    return {hit["content"] for hit in ok(await client.call_tool("archival_search", args))["results"]}


async def test_a_shared_archive_is_read_only_unless_shared_writable(auth_server: ServerProcess, tokens: Tokens) -> None:
    url = auth_server.mcp_url
    with anyio.fail_after(60):
        async with (
            connect(url, tokens.alice) as alice,
            connect(url, tokens.bob) as bob,
            connect(url, tokens.ops) as ops,
        ):
            cook = ok(await alice.call_tool("create_agent", {"name": "cook"}))["id"]
            inserted = ok(await alice.call_tool("archival_insert", {"agent_id": cook, "text": RECIPE}))
            archive_id, (passage_id,) = inserted["archive_id"], inserted["passage_ids"]
            guest = ok(await bob.call_tool("create_agent", {"name": "guest"}))["id"]

            # Neither principal can name the other's agent.
            share = {"agent_id": cook, "with_agent_id": guest}
            assert "No agent with id" in error_text(await alice.call_tool("share_archive", share))
            assert "No agent with id" in error_text(await bob.call_tool("share_archive", share))

            shared = ok(await ops.call_tool("share_archive", share))
            assert (shared["archive_id"], shared["writable"]) == (archive_id, False)
            assert await texts(bob, guest) == {RECIPE}  # bob's agent searches it

            # ...but cannot change it: not delete, not insert.
            refused = error_text(await bob.call_tool("archival_delete", {"agent_id": guest, "passage_id": passage_id}))
            assert "read-only" in refused and "share_archive" in refused
            insert = {"agent_id": guest, "text": "Bob was here.", "archive_id": archive_id}
            assert "read-only" in error_text(await bob.call_tool("archival_insert", insert))
            assert await texts(alice, cook) == {RECIPE}

            # Shared writable (sharing again changes the mode), bob's agent may add and delete.
            assert ok(await ops.call_tool("share_archive", {**share, "writable": True}))["writable"] is True
            ok(await bob.call_tool("archival_insert", insert))
            assert await texts(alice, cook) == {RECIPE, "Bob was here."}
            ok(await bob.call_tool("archival_delete", {"agent_id": guest, "passage_id": passage_id}))
            assert await texts(alice, cook) == {"Bob was here."}

            # Unshared, it is gone from bob's agent's searches; alice's agent keeps its archive.
            assert ok(await ops.call_tool("unshare_archive", share))["shared"] is False
            assert await texts(bob, guest) == set()
            assert await texts(alice, cook) == {"Bob was here."}
            assert "does not share" in error_text(await ops.call_tool("unshare_archive", share))
