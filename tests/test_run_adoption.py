"""Background runs are claimable by any process: a killed server's queued background runs are taken
over by a live one, in their place in the agent's turn order; the run it was in the middle of is
interrupted (half a turn may be written), never run twice."""

from __future__ import annotations

import json
import os
import sys

import anyio
import pytest

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Role, RunStatus
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio

# A server process whose model never answers: its first run stays mid-turn, the others queued.
DOOMED = """
import asyncio, json, sys
from letta_mcp.config import load_settings
from letta_mcp.service import AgentService

class NeverAnswers:
    async def complete(self, request):
        print("model called", flush=True)
        await asyncio.Event().wait()

    async def aclose(self):
        pass

async def main(data_dir, agent_id):
    settings = load_settings(overrides={"data_dir": data_dir})  # LETTA_MCP_DATABASE_URL too, if set
    service = await AgentService.open(settings, providers={"openai": NeverAnswers()})
    runs = []
    for text in ("first", "second", "third"):
        runs.append((await service.send_message(agent_id, text, background=True)).run.id)
    print(json.dumps(runs), flush=True)
    await asyncio.Event().wait()  # until killed

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_killed_servers_queued_background_runs_are_taken_over_in_order(settings: Settings) -> None:
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    agent = (await service.create_agent(name="worker")).agent.id
    await service.close()

    doomed = await anyio.open_process(
        [sys.executable, "-c", DOOMED, str(settings.data_dir), agent], stderr=None, env=dict(os.environ)
    )
    try:
        assert doomed.stdout is not None
        with anyio.fail_after(60):
            lines: list[str] = []
            buffer = b""
            while len(lines) < 2:  # the run ids, and the first run inside its model call
                buffer += await doomed.stdout.receive()
                *done, buffer = buffer.split(b"\n")
                lines += [line.decode() for line in done]
        runs = json.loads(next(line for line in lines if line.startswith("[")))
        assert "model called" in lines
        doomed.kill()  # SIGKILL: no clean-up, its tickets and runs stay behind
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
        await doomed.aclose()

    scripted = ScriptedProvider([reply("second answer"), reply("third answer")])
    # Opening sweeps at once: the dead process ran on this host and its pid is gone.
    survivor = await AgentService.open(settings, providers={"openai": scripted})
    try:
        with anyio.fail_after(60):
            first, second, third = [await survivor.get_run(run_id) for run_id in runs]
            for run in (second, third):
                await survivor.runs.wait(run)
        first, second, third = [await survivor.get_run(run_id) for run_id in runs]
        assert first.status is RunStatus.interrupted  # it was mid-turn: never run again
        assert second.status is RunStatus.completed and third.status is RunStatus.completed
        assert second.holder == third.holder == survivor.runs.lease.holder
        said = [m.content for m in await survivor.list_messages(agent, limit=50, newest_first=False)]
        spoken = [text for text in said if text in ("second", "second answer", "third", "third answer")]
        assert spoken == ["second", "second answer", "third", "third answer"]  # in their turn order
        assert [r.input_role for r in (second, third)] == [Role.user, Role.user]
    finally:
        await survivor.close()
