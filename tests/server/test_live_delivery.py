"""Resource-updated notifications: one broken or stalled subscriber never silences the others, and
delivery never delays (or fails) the request that made the change."""

from __future__ import annotations

import anyio
import pytest

from letta_mcp.server.live import LiveResources
from letta_mcp.service import AgentService
from letta_mcp.service.access import LOCAL

pytestmark = pytest.mark.anyio


async def test_a_raising_and_a_stalled_subscriber_affect_only_themselves(service: AgentService) -> None:
    live = LiveResources(service)
    agent_id = (await service.create_agent(name="watched")).agent.id
    uris = [f"letta://agents/{agent_id}/memory", f"letta://agents/{agent_id}/blocks/human"]
    received: list[str] = []
    all_received = anyio.Event()
    stalled = anyio.Event()
    release = anyio.Event()
    in_flight = 0

    async def broken(uri: str) -> None:
        raise anyio.BrokenResourceError  # the client went away mid-send

    async def stuck(uri: str) -> None:
        nonlocal in_flight
        in_flight += 1
        stalled.set()
        try:
            await release.wait()
        finally:
            in_flight -= 1

    async def healthy(uri: str) -> None:
        received.append(uri)
        if len(received) == len(uris):
            all_received.set()

    for uri in uris:  # registration order: the broken and the stuck ones are served first
        live.legacy.add("broken", broken, LOCAL, uri)
        live.legacy.add("stuck", stuck, LOCAL, uri)
        live.legacy.add("healthy", healthy, LOCAL, uri)
    try:
        with anyio.fail_after(10):
            await service.update_block(agent_id, "human", value="Name: Ada")
            # The request returned while the stuck subscriber's send is still in flight.
            await stalled.wait()
            assert in_flight == 1
            await all_received.wait()
        assert sorted(received) == sorted(uris)
    finally:
        release.set()
        for connection in ("broken", "stuck", "healthy"):
            live.legacy.drop(connection)
        live.close()
