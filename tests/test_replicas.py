"""Stateless HTTP replicas behind a plain round-robin load balancer (issue 10, on SQLite).

Three real ``letta-mcp serve`` processes share one data directory behind `replicas.RoundRobinProxy`,
which sends each HTTP request to the next replica: a client's consecutive requests land on
different processes. Messages are answered once each, in order per agent; live notifications
cross processes; a replica killed mid-turn costs only its own turn.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from fake_openai import FakeOpenAI, delay, remember, text
from letta_mcp.store import Store
from postgres import drop_schema, fresh_schema
from replicas import Cluster, connect, error_text, ok, replicas

pytestmark = pytest.mark.anyio

AGENTS = 10
MESSAGES_PER_AGENT = 6
LEASE_TTL_S = 3.0


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    """Every turn: append the message to the ``human`` block, then reply ``ok: <message>``."""
    with FakeOpenAI() as fake:
        fake.script(remember(label="human"))
        yield fake


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The replicas' shared state: one data directory, or one PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield None
        return
    server = request.getfixturevalue("postgres_server")
    name, url = fresh_schema(server)
    try:
        yield url
    finally:
        drop_schema(server, name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, engine: str | None) -> Iterator[Cluster]:
    # The default TTL: on a loaded machine a short one can take a replica whose heartbeat is late
    # for dead, interrupting its turns (the kill test below wants exactly that, quickly).
    root = tmp_path_factory.mktemp("replicas")
    with replicas(root, model.base_url, lease_ttl_s=15, database_url=engine) as running:
        yield running


async def _history(client: Client, agent_id: str) -> list[dict[str, Any]]:
    page = ok(await client.call_tool("list_messages", {"agent_id": agent_id, "limit": 200, "order": "asc"}))
    assert page["next_cursor"] is None
    return [m for m in page["messages"] if m["message_type"] != "system_message"]


async def test_concurrent_messages_through_a_round_robin_proxy_are_answered_once_in_order(cluster: Cluster) -> None:
    """Both protocol eras through the proxy: 2026-07-28 keeps no session at all, and handshake-era
    clients work because the replicas are stateless (with sessions, a request reaching another
    replica than the one that initialized the session would get 404)."""
    with anyio.fail_after(240):
        async with connect(cluster.mcp_url) as modern, connect(cluster.mcp_url, mode="legacy") as legacy:
            clients = [modern, legacy]
            agent_ids = [
                ok(await clients[i % 2].call_tool("create_agent", {"name": f"replicated-{i}"}))["id"]
                for i in range(AGENTS)
            ]
            replies: dict[str, str] = {}

            async def converse(client: Client, agent_id: str) -> None:
                # All but the last message are accepted in order (background: the call returns once
                # the run and its turn ticket are committed) and queue up while the other agents'
                # messages arrive on other replicas; the last one waits for its reply, which comes
                # after every earlier turn of the agent.
                *queued, last = [f"{agent_id} message {n}" for n in range(MESSAGES_PER_AGENT)]
                for message in queued:
                    run = ok(
                        await client.call_tool(
                            "send_message", {"agent_id": agent_id, "message": message} | {"background": True}
                        )
                    )
                    assert run["status"] in ("created", "running", "completed"), run
                answer = ok(await client.call_tool("send_message", {"agent_id": agent_id, "message": last}))
                replies[last] = answer["reply"]

            async with anyio.create_task_group() as tg:
                for i, agent_id in enumerate(agent_ids):
                    tg.start_soon(converse, clients[i % 2], agent_id)

            histories = {agent_id: await _history(modern, agent_id) for agent_id in agent_ids}
            agent_runs = {
                agent_id: ok(await modern.call_tool("list_runs", {"agent_id": agent_id}))["runs"]
                for agent_id in agent_ids
            }

    assert replies == {
        f"{a} message {MESSAGES_PER_AGENT - 1}": f"ok: {a} message {MESSAGES_PER_AGENT - 1}" for a in agent_ids
    }
    for agent_id, history in histories.items():
        statuses = [(r["status"], r["stop_reason"]) for r in agent_runs[agent_id]]
        assert statuses == [("completed", "end_turn")] * MESSAGES_PER_AGENT, agent_runs[agent_id]
        sent = [f"{agent_id} message {n}" for n in range(MESSAGES_PER_AGENT)]
        # In arrival order, one whole turn after another, each message answered exactly once.
        assert [
            (m["message_type"], m["content"])
            for m in history
            if m["message_type"] in ("user_message", "assistant_message")
        ] == [pair for message in sent for pair in (("user_message", message), ("assistant_message", f"ok: {message}"))]
        runs = [m["run_id"] for m in history]
        assert runs == sorted(runs, key=runs.index), "turns interleaved"
    # A plain balancer: every replica served its share.
    assert len(cluster.proxy.served) == len(cluster.replicas)
    assert min(cluster.proxy.served.values()) > AGENTS * MESSAGES_PER_AGENT / len(cluster.replicas) / 2


async def test_a_subscriber_on_one_replica_hears_a_change_made_on_another(cluster: Cluster) -> None:
    first, second = cluster.replicas[0], cluster.replicas[1]
    with anyio.fail_after(60):
        async with connect(first.mcp_url) as watcher, connect(second.mcp_url) as editor:
            agent = ok(await editor.call_tool("create_agent", {"name": "watched across replicas"}))
            uri = f"letta://agents/{agent['id']}/blocks/human"
            async with watcher.listen(resource_subscriptions=[uri]) as events:
                ok(await editor.call_tool("update_block", {"agent_id": agent["id"], "label": "human", "value": "Ann"}))
                async for event in events:
                    assert event.uri == uri
                    break
            block = await watcher.read_resource(uri)
    assert block.contents[0].text == "Ann"


async def _pid_running(cluster: Cluster, run_id: str) -> int:
    """The pid of the replica that accepted ``run_id`` (its lease holder)."""
    store = await Store.open(cluster.store_target)
    try:
        async with store.read() as q:
            rows = await q.db.fetchall(
                "SELECT p.pid FROM runs r JOIN processes p ON p.holder = r.holder WHERE r.id = :id", {"id": run_id}
            )
    finally:
        await store.close()
    [(pid,)] = rows
    return int(pid)


async def test_a_replica_killed_mid_turn_loses_only_its_turn(
    tmp_path: Path, fake_openai: FakeOpenAI, engine: str | None, request: pytest.FixtureRequest
) -> None:
    """kill -9 the replica running a turn: its run becomes interrupted once the lease TTL passes,
    the balancer skips the dead replica, and the others serve every agent, the crashed one too."""
    # The first model call (the doomed turn) hangs; every later one answers at once.
    fake_openai.script(delay(120, then=text("too late")), remember(label="human"))
    # A schema of its own on PostgreSQL: the module's cluster is still running on the shared one.
    own_database = str(request.getfixturevalue("postgres_url")) if engine else None
    with (
        anyio.fail_after(180),
        replicas(tmp_path, fake_openai.base_url, lease_ttl_s=LEASE_TTL_S, database_url=own_database) as running,
    ):
        async with connect(running.mcp_url) as client:
            crashed, other = [
                ok(await client.call_tool("create_agent", {"name": n}))["id"] for n in ("crashed", "other")
            ]
            doomed = ok(
                await client.call_tool("send_message", {"agent_id": crashed, "message": "doomed", "background": True})
            )["run_id"]
            await fake_openai.wait_for_requests(1)  # the turn is in flight, waiting for the model
            pid = await _pid_running(running, doomed)
            [victim] = [r.process for r in running.replicas if r.process.pid == pid]
            os.kill(victim.pid, signal.SIGKILL)
            # Reaped, its port refuses connections: the balancer skips it (a request racing the kill
            # could reach the dying process and get a 502, as from any balancer).
            await anyio.to_thread.run_sync(victim.wait)

            replies: dict[str, str] = {}

            async def send(agent_id: str, message: str) -> None:
                replies[message] = ok(
                    await client.call_tool("send_message", {"agent_id": agent_id, "message": message})
                )["reply"]

            # The crashed agent's next turn waits until a live replica sweeps the dead one (about
            # the TTL); the other agent is served meanwhile.
            with anyio.fail_after(LEASE_TTL_S * 10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(send, crashed, "after the crash")
                    for n in range(3):
                        tg.start_soon(send, other, f"meanwhile {n}")
            run = ok(await client.call_tool("get_run", {"run_id": doomed}))
            history = await _history(client, crashed)

    assert replies == {m: f"ok: {m}" for m in ["after the crash", *(f"meanwhile {n}" for n in range(3))]}
    assert run["status"] == "interrupted"
    assert [m["content"] for m in history if m["message_type"] == "user_message"] == ["doomed", "after the crash"]
    assert "too late" not in [m["content"] for m in history]


async def test_a_stateless_replica_says_why_it_cannot_sample_a_legacy_client(cluster: Cluster) -> None:
    """Nothing reaches a handshake-era client between its requests: an agent thinking with the
    client's model is refused with the reason and the way out, instead of a generic failure."""
    with anyio.fail_after(60):
        async with connect(cluster.mcp_url, mode="legacy") as client:
            agent = ok(await client.call_tool("create_agent", {"name": "lent", "model": "client"}))
            result = await client.call_tool("send_message", {"agent_id": agent["id"], "message": "hi"})
    assert (
        "this server keeps no session between your requests (stateless replicas behind a load balancer), so it "
        "cannot ask your client's model anything during a call. Or give the agent its own model" in error_text(result)
    )
