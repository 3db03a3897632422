"""Two real server processes, two agents, one shared block edited by both at once: no edit lost."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, remember

pytestmark = pytest.mark.anyio


def _params(data_dir: Path, base_url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir), "--log-level", "WARNING"],
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base_url},
    )


async def test_two_processes_two_agents_editing_one_shared_block(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(remember(label="team"))  # every turn appends its user message to "team"
    data_dir = tmp_path / "data"
    with anyio.fail_after(180):
        async with contextlib.AsyncExitStack() as stack:
            one, two = [await stack.enter_async_context(Client(_params(data_dir, fake_openai.base_url))) for _ in "12"]
            alice = (await one.call_tool("create_agent", {"name": "alice"})).structured_content["id"]
            bob = (await two.call_tool("create_agent", {"name": "bob"})).structured_content["id"]
            block = await one.call_tool("create_block", {"block": {"label": "team", "limit": 10_000}})
            block_id = block.structured_content["id"]
            for client, agent_id in ((one, alice), (two, bob)):
                attached = await client.call_tool("attach_block", {"agent_id": agent_id, "block_id": block_id})
                assert not attached.is_error, attached.content

            async def send(client: Client, agent_id: str, text: str) -> None:
                result = await client.call_tool("send_message", {"agent_id": agent_id, "message": text})
                assert not result.is_error, result.content

            async with anyio.create_task_group() as tg:
                for i in range(15):
                    tg.start_soon(send, one, alice, f"alice-{i:02d}")
                    tg.start_soon(send, two, bob, f"bob-{i:02d}")

            memory = await two.call_tool("get_memory", {"agent_id": alice})
            history = await one.call_tool("block_history", {"agent_id": bob, "label": "team", "limit": 200})
    value = next(b["value"] for b in memory.structured_content["blocks"] if b["label"] == "team")
    expected = sorted(f"{who}-{i:02d}" for i in range(15) for who in ("alice", "bob"))
    assert sorted(line for line in value.splitlines() if line) == expected
    versions = history.structured_content["versions"]
    assert [v["version"] for v in versions] == list(range(31, 0, -1))  # one version per edit, none overwritten
    assert {v["actor"] for v in versions[:-1]} == {f"agent:{alice}", f"agent:{bob}"}
