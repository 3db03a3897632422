"""The inspector's live event hub: per-principal filtering, bounded buffers, stream limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from letta_mcp.server.ui import events
from letta_mcp.server.ui.events import EventHub, TooManyStreamsError
from letta_mcp.service import Change, Principal

pytestmark = pytest.mark.anyio

ALICE = Principal("alice")
BOB = Principal("bob")
ADMIN = Principal("ops", full_access=True)


async def _next(stream: AsyncIterator[bytes]) -> dict[str, Any]:
    frame = await anext(stream)
    assert frame.startswith(b"data: "), frame
    return json.loads(frame.removeprefix(b"data: "))


async def test_streams_hear_only_what_their_principal_may_see() -> None:
    hub = EventHub()
    with anyio.fail_after(5):
        alice, bob, admin = hub.open(ALICE, None), hub.open(BOB, None), hub.open(ADMIN, None)
        for stream in (alice, bob, admin):
            assert (await _next(stream))["type"] == "ready"
        await hub.on_change(Change("alice", "agent-a", blocks=("human",)))
        await hub.on_change(Change("bob", "agent-b", messages=True))
        assert (await _next(alice))["agent_id"] == "agent-a"
        assert (await _next(bob))["agent_id"] == "agent-b"  # alice's change never reached bob
        assert [(await _next(admin))["agent_id"] for _ in range(2)] == ["agent-a", "agent-b"]
        for stream in (alice, bob, admin):
            await stream.aclose()
    assert hub.streams == {}


async def test_an_agent_stream_hears_only_that_agent_and_run_steps() -> None:
    hub = EventHub()
    with anyio.fail_after(5):
        stream = hub.open(ALICE, "agent-a")
        await _next(stream)
        await hub.on_change(Change("alice", "agent-other", messages=True))
        hub.publish_step("alice", "agent-a", "run-1", 2)
        assert await _next(stream) == {"type": "step", "agent_id": "agent-a", "run_id": "run-1", "step": 2}
        await stream.aclose()


async def test_a_stalled_page_gets_a_bounded_backlog_then_one_resync() -> None:
    hub = EventHub()
    with anyio.fail_after(5):
        stream = hub.open(ALICE, None)
        await _next(stream)
        for i in range(events.QUEUE_SIZE + 50):  # the page reads nothing meanwhile
            await hub.on_change(Change("alice", f"agent-{i}", messages=True))
        received = [await _next(stream) for _ in range(events.QUEUE_SIZE + 1)]
        await stream.aclose()
    kinds = [e["type"] for e in received]
    assert kinds.count("resync") == 1 and kinds.count("change") == events.QUEUE_SIZE


async def test_stream_limits_per_principal_and_release_on_close() -> None:
    hub = EventHub()
    with anyio.fail_after(5):
        streams = [hub.open(ALICE, None) for _ in range(events.MAX_STREAMS_PER_PRINCIPAL)]
        for stream in streams:
            await _next(stream)
        with pytest.raises(TooManyStreamsError, match="alice already has"):
            hub.open(ALICE, None)
        other = hub.open(BOB, None)  # others are not affected
        await _next(other)
        await streams[0].aclose()
        reopened = hub.open(ALICE, None)
        await _next(reopened)
        for stream in [*streams[1:], other, reopened]:
            await stream.aclose()
    assert hub.streams == {}
