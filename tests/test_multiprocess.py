"""Several real server processes on one data directory: ordering, no lost edits, crash recovery."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, delay, remember, text

pytestmark = pytest.mark.anyio


def _params(data_dir: Path, base_url: str, ttl_s: float = 5) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir), "--log-level", "WARNING"],
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base_url, "LETTA_MCP_LEASE_TTL_S": str(ttl_s)},
    )


@contextlib.asynccontextmanager
async def _clients(data_dir: Path, base_url: str, n: int) -> AsyncIterator[list[Client]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(Client(_params(data_dir, base_url))) for _ in range(n)]


async def test_three_processes_sixty_concurrent_messages_to_one_agent(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(remember(label="log"))
    data_dir = tmp_path / "data"
    with anyio.fail_after(240):
        async with _clients(data_dir, fake_openai.base_url, 3) as clients:
            created = await clients[0].call_tool(
                "create_agent",
                {"name": "shared", "blocks": [{"label": "log", "value": "", "limit": 20_000}]},
            )
            agent_id = created.structured_content["id"]
            replies: list[str] = []

            async def send(client: Client, text_: str) -> None:
                result = await client.call_tool("send_message", {"agent_id": agent_id, "message": text_})
                assert not result.is_error, result.content
                replies.append(result.structured_content["reply"])

            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(send, clients[i % 3], f"note-{i:02d} from process {i % 3}")

            assert sorted(replies) == sorted(f"ok: note-{i:02d} from process {i % 3}" for i in range(60))
            history = await _all_messages(clients[1], agent_id)
            block = await clients[2].read_resource(f"letta://agents/{agent_id}/blocks/log")

    users = [m for m in history if m["message_type"] == "user_message"]
    answers = [m for m in history if m["message_type"] == "assistant_message"]
    assert len(users) == 60 and len(answers) == 60
    # Turns never interleave: each run's messages are contiguous and complete.
    runs = [m["run_id"] for m in history if m["message_type"] != "system_message"]
    for run_id in set(runs):
        first, last = runs.index(run_id), len(runs) - 1 - runs[::-1].index(run_id)
        assert runs[first : last + 1] == [run_id] * (last - first + 1)
    for user in users:
        turn = [m for m in history if m["run_id"] == user["run_id"]]
        assert [m["message_type"] for m in turn] == [
            "user_message",
            "tool_call_message",
            "tool_return_message",
            "assistant_message",
        ]
        assert turn[-1]["content"] == f"ok: {user['content']}"
    # No block edit was lost: all 60 appends are in the block.
    lines = block.contents[0].text.splitlines()
    assert sorted(lines) == sorted(f"note-{i:02d} from process {i % 3}" for i in range(60))


async def _all_messages(client: Client, agent_id: str) -> list[dict]:
    messages: list[dict] = []
    cursor = -1
    while cursor is not None:
        page = await client.call_tool(
            "list_messages", {"agent_id": agent_id, "limit": 200, "order": "asc", "after": cursor}
        )
        messages += page.structured_content["messages"]
        cursor = page.structured_content["next_cursor"]
    return messages


class _HangUp:
    """Exit callback: swallows the errors of leaving a client whose server was killed, once it was."""

    killed = False

    async def __call__(self, *exc_info: object) -> bool:
        return self.killed


def _server_pid(data_dir: Path) -> int:
    with contextlib.closing(sqlite3.connect(data_dir / "letta.db")) as db:
        rows = db.execute("SELECT pid FROM processes").fetchall()
    assert len(rows) == 1, rows
    return int(rows[0][0])


async def test_kill_9_mid_run_then_restart(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data_dir = tmp_path / "data"
    fake_openai.script(delay(60, then=text("too late")))
    with anyio.fail_after(90):
        # Only leaving the client may fail (its server is gone); every assertion before the kill is unguarded.
        hang_up = _HangUp()
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_exit(hang_up)
            client = await stack.enter_async_context(Client(_params(data_dir, fake_openai.base_url)))
            created = await client.call_tool("create_agent", {"name": "crashy"})
            agent_id = created.structured_content["id"]
            sent = await client.call_tool(
                "send_message", {"agent_id": agent_id, "message": "remember the red door", "background": True}
            )
            run_id = sent.structured_content["run_id"]
            assert sent.structured_content["status"] == "created"
            await fake_openai.wait_for_requests(1)  # the model call is in flight
            os.kill(_server_pid(data_dir), signal.SIGKILL)
            hang_up.killed = True

        with contextlib.closing(sqlite3.connect(data_dir / "letta.db")) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        fake_openai.reset()
        fake_openai.script(text("I remember: the red door."))
        async with Client(_params(data_dir, fake_openai.base_url)) as client:
            run = await client.call_tool("get_run", {"run_id": run_id})
            assert run.structured_content["status"] == "interrupted"
            assert run.structured_content["input"] == "remember the red door"
            history = await client.call_tool("list_messages", {"agent_id": agent_id, "order": "asc"})
            contents = [m["content"] for m in history.structured_content["messages"]]
            assert "remember the red door" in contents
            answer = await client.call_tool("send_message", {"agent_id": agent_id, "message": "what do you recall?"})
            assert not answer.is_error, answer.content
            assert answer.structured_content["reply"] == "I remember: the red door."


def _signalling(event: threading.Event, response: dict[str, Any]) -> Any:
    """A script entry that tells the test (running in another thread's loop) the call has arrived."""

    def entry(body: dict[str, Any]) -> dict[str, Any]:
        event.set()
        return response

    return entry


async def _arrived(event: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(event.wait, 60), "the model call never came"


def _query(data_dir: Path, sql: str, *params: object) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(data_dir / "letta.db")) as db:
        return db.execute(sql, params).fetchall()


def _stop_outside_a_write(pid: int, data_dir: Path) -> None:
    """SIGSTOP ``pid`` at a moment it holds no write transaction: a process stopped inside one
    blocks every writer of the file until it resumes (SQLite's lock; no sweep can break it)."""
    for _ in range(100):
        os.kill(pid, signal.SIGSTOP)
        with contextlib.closing(sqlite3.connect(data_dir / "letta.db", timeout=0.2)) as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.rollback()
                return
            except sqlite3.OperationalError:
                pass
        os.kill(pid, signal.SIGCONT)
    raise AssertionError(f"process {pid} kept the database locked")


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX job-control signals")
async def test_a_stalled_process_is_fenced_and_rejoins_the_queue(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """SIGSTOP a server mid-turn past the lease TTL: the other process takes over the agent, the
    stalled turn never commits once resumed, and afterwards both processes' turns still alternate
    one at a time."""
    data_dir = tmp_path / "data"
    stale_call, fresh_call = threading.Event(), threading.Event()
    fake_openai.script(
        _signalling(stale_call, delay(1, then=text("stale reply"))),  # answered while its process is stopped
        _signalling(fresh_call, delay(3, then=text("fresh reply"))),  # slow, so the stale turn resumes during it
        remember(label="log", delay=0.2),
    )
    with anyio.fail_after(180):
        async with contextlib.AsyncExitStack() as stack:
            one, two = [
                await stack.enter_async_context(Client(_params(data_dir, fake_openai.base_url, 3))) for _ in range(2)
            ]
            created = await one.call_tool(
                "create_agent", {"name": "shared", "blocks": [{"label": "log", "value": "", "limit": 20_000}]}
            )
            agent_id = created.structured_content["id"]
            stalled = await one.call_tool(
                "send_message", {"agent_id": agent_id, "message": "stalled turn", "background": True}
            )
            stalled_run = stalled.structured_content["run_id"]
            await _arrived(stale_call)
            [(pid,)] = _query(
                data_dir, "SELECT p.pid FROM runs r JOIN processes p ON p.holder = r.holder WHERE r.id = ?", stalled_run
            )
            replies: dict[str, str] = {}

            async def send(client: Client, message: str) -> None:
                result = await client.call_tool("send_message", {"agent_id": agent_id, "message": message})
                assert not result.is_error, result.content
                replies[message] = result.structured_content["reply"]

            await anyio.to_thread.run_sync(_stop_outside_a_write, pid, data_dir)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(send, two, "while one is stopped")  # runs once one's lease is swept
                    await _arrived(fresh_call)
                    os.kill(pid, signal.SIGCONT)  # one's model answer is waiting: it tries to commit now
            finally:
                os.kill(pid, signal.SIGCONT)
            assert replies == {"while one is stopped": "fresh reply"}

            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(send, (one, two)[i % 2], f"after-{i}")
            assert {m: r for m, r in replies.items() if m.startswith("after-")} == {
                f"after-{i}": f"ok: after-{i}" for i in range(6)
            }

    [(status,)] = _query(data_dir, "SELECT status FROM runs WHERE id = ?", stalled_run)
    assert status == "interrupted"
    # The stalled turn wrote its input before it stopped, and nothing after.
    assert _query(data_dir, "SELECT role FROM messages WHERE run_id = ?", stalled_run) == [("user",)]
    assert _query(data_dir, "SELECT COUNT(*) FROM steps WHERE run_id = ?", stalled_run) == [(0,)]
    assert _query(data_dir, "SELECT COUNT(*) FROM messages WHERE content = 'stale reply'") == [(0,)]
    # Turns never overlap in time: from its input to its last message, each run has the agent alone.
    spans = sorted(
        _query(
            data_dir,
            "SELECT MIN(created_at), MAX(created_at), run_id FROM messages WHERE agent_id = ? AND run_id IS NOT NULL"
            " GROUP BY run_id",
            agent_id,
        )
    )
    assert len(spans) == 8
    for (_, end, run), (start, _, following) in itertools.pairwise(spans):
        assert end < start, f"run {run} was still writing when run {following} started"
