"""Agents talking to each other across two real server processes on one data directory."""

from __future__ import annotations

import ast
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from fake_openai import FakeOpenAI, Response, text, tool_call

pytestmark = pytest.mark.anyio

_AGENT_ID = re.compile(r"AGENT_ID: (agent-[0-9a-f-]+)")
_ASK = re.compile(r"^(wait|tags) (\S+) (.*)$")


def _params(data_dir: Path, base_url: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir), "--log-level", "WARNING"],
        env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base_url},
    )


def brain(body: dict[str, Any]) -> Response:
    """Every agent's model: ``wait <agent> <text>`` asks that agent and waits, ``tags <tag> <text>``
    fans out to agents tagged <tag>; a tool result is passed on verbatim; anything else is echoed."""
    me = _AGENT_ID.search(body["messages"][0]["content"]).group(1)  # type: ignore[union-attr]
    last = body["messages"][-1]
    if last["role"] == "tool":
        return text("result: " + json.loads(last["content"])["message"])
    content = last["content"] or ""
    if content.startswith("[Incoming message from agent"):
        content = content.split("] ", 1)[1]
    match = _ASK.match(content)
    if match is None:
        return text(f"{me} heard: {content}")
    verb, target, rest = match.groups()
    if verb == "tags":
        return tool_call(
            "send_message_to_agents_matching_tags", {"message": rest, "match_all": [target], "match_some": []}
        )
    return tool_call("send_message_to_agent_and_wait_for_reply", {"message": rest, "other_agent_id": target})


async def test_two_agents_converse_cycles_are_refused_and_fan_out_is_exact(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(*[brain] * 400)
    data_dir = tmp_path / "data"

    async def create(client: Client, name: str, tags: list[str]) -> str:
        args = {"name": name, "tags": tags, "include_multi_agent_tools": True}
        return (await client.call_tool("create_agent", args)).structured_content["id"]

    async def send(client: Client, agent_id: str, message: str) -> str:
        result = await client.call_tool("send_message", {"agent_id": agent_id, "message": message})
        assert not result.is_error, result.content
        return result.structured_content["reply"]

    with anyio.fail_after(180):
        async with contextlib.AsyncExitStack() as stack:
            one, two = [await stack.enter_async_context(Client(_params(data_dir, fake_openai.base_url))) for _ in "12"]
            alice = await create(one, "alice", ["crew"])
            bob = await create(two, "bob", ["crew", "ops"])
            carol = await create(two, "carol", ["ops"])

            # Alice (process 1) asks Bob while process 2 keeps Bob busy with its own messages.
            replies: dict[str, str] = {}

            async def direct(i: int) -> None:
                replies[f"direct-{i}"] = await send(two, bob, f"direct {i}")

            async def ask(i: int) -> None:
                replies[f"ask-{i}"] = await send(one, alice, f"wait {bob} question {i}")

            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(direct, i)
                    tg.start_soon(ask, i)
            for i in range(4):
                assert replies[f"direct-{i}"] == f"{bob} heard: direct {i}"
                assert ast.literal_eval(replies[f"ask-{i}"].removeprefix("result: ")) == {
                    "agent_id": bob,
                    "response": [f"{bob} heard: question {i}"],
                }

            # A -> B -> A is refused at once, whichever process runs which turn.
            cycle = await send(one, alice, f"wait {bob} wait {alice} hello")
            assert "Refused" in cycle and f"({alice} → {bob} → {alice})" in cycle

            # A fan-out from process 2 reaches exactly the agents tagged "crew" (but the sender).
            fan = await send(two, carol, "tags crew roll call")
            answered = ast.literal_eval(fan.removeprefix("result: "))
            assert sorted(a["agent_id"] for a in answered) == sorted([alice, bob])

            # Bob's turns never interleaved: each run's messages are contiguous in its history.
            page = await one.call_tool("list_messages", {"agent_id": bob, "limit": 200, "order": "asc"})
            runs = [m["run_id"] for m in page.structured_content["messages"] if m["message_type"] != "system_message"]
            for run_id in set(runs):
                first, last = runs.index(run_id), len(runs) - 1 - runs[::-1].index(run_id)
                assert runs[first : last + 1] == [run_id] * (last - first + 1)
            children = await two.call_tool("list_runs", {"agent_id": bob, "limit": 50})
            asked = [r for r in children.structured_content["runs"] if r.get("status") == "completed"]
            assert len(asked) >= 4 + 4 + 1 + 1  # direct, asked, the cycle's first hop, the fan-out
