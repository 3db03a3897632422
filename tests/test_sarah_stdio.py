"""The Sarah story, end to end over real processes.

A real ``letta-mcp serve`` subprocess on stdio, a real fake OpenAI server in another process, the
real ``openai`` client in between. The agent learns the user's name in one server process,
the process exits, and a new process on the same data directory answers from the memory block.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio

FAKE_SERVER = Path(__file__).with_name("fake_openai.py")


@pytest.fixture
def fake_model(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A fake OpenAI server process scripted for the whole story; yields (base_url, request log)."""
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            [
                {
                    "type": "tool_call",
                    "calls": [
                        {
                            "id": "call_1",
                            "name": "core_memory_append",
                            "arguments": {"label": "human", "content": "The user's name is Sarah."},
                        }
                    ],
                },
                {"type": "text", "content": "Nice to meet you, Sarah!"},
                {"type": "text", "content": "Your name is Sarah."},
            ]
        )
    )
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(FAKE_SERVER), "--port", "0", "--script", str(script), "--log", str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), base_url
        yield base_url, log
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _server(data_dir: Path, base_url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir)],
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base_url, "LETTA_MCP_LOG_LEVEL": "WARNING"},
    )


async def test_agent_remembers_sarah_across_server_restarts(tmp_path: Path, fake_model: tuple[str, Path]) -> None:
    base_url, log = fake_model
    data_dir = tmp_path / "data"

    with anyio.fail_after(60):
        async with Client(_server(data_dir, base_url)) as client:
            created = await client.call_tool("create_agent", {"name": "companion"})
            assert not created.is_error, created.content
            agent_id = created.structured_content["id"]
            first = await client.call_tool("send_message", {"agent_id": agent_id, "message": "My name is Sarah"})
            assert not first.is_error, first.content
            assert first.structured_content["reply"] == "Nice to meet you, Sarah!"
            assert [m["message_type"] for m in first.structured_content["messages"]] == [
                "user_message",
                "tool_call_message",
                "tool_return_message",
                "assistant_message",
            ]

        # A brand-new server process on the same data directory.
        async with Client(_server(data_dir, base_url)) as client:
            listed = await client.call_tool("list_agents", {})
            assert [a["id"] for a in listed.structured_content["agents"]] == [agent_id]
            memory = await client.read_resource(f"letta://agents/{agent_id}/blocks/human")
            assert "Sarah" in memory.contents[0].text
            second = await client.call_tool("send_message", {"agent_id": agent_id, "message": "What's my name?"})
            assert not second.is_error, second.content
            assert second.structured_content["reply"] == "Your name is Sarah."

    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(requests) == 3
    last = requests[-1]["messages"]
    system = last[0]
    assert system["role"] == "system"
    blocks = system["content"].split("<memory_blocks>", 1)[1].split("</memory_blocks>", 1)[0]
    human = blocks.split("<human>", 1)[1].split("</human>", 1)[0]
    assert "The user's name is Sarah." in human
    # The client sent only "What's my name?"; the earlier turn came from the server's own history.
    assert last[-1] == {"role": "user", "content": "What's my name?"}
    assert [m["role"] for m in last[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert last[1]["content"] == "My name is Sarah"
