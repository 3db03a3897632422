"""Two server processes writing archival memory in one store lose nothing and duplicate nothing, with
the index in the data directory or in an S3 bucket (a real ``moto_server``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.service import AgentService
from letta_mcp.store.lance import LanceIndex
from s3 import S3Bucket

pytestmark = pytest.mark.anyio

PER_PROCESS = 20

WRITER = """
import json, sys, anyio
from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.service import AgentService

async def main(data_dir, agent_id, name, count):
    settings = load_settings(overrides={"data_dir": data_dir})  # LETTA_MCP_DATABASE_URL too, if set
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    ids = []
    try:
        for i in range(count):
            (p,) = await service.archival.insert(agent_id, f"note {i} from writer {name} zq{name}x{i}", tags=[name])
            ids.append(p.id)
            if i % 10 == 5:  # searching indexes pending rows: index writes from both processes interleave
                await service.archival.search(agent_id, f"zq{name}x{i}")
        await service.archival.wait_indexed()
    finally:
        await service.close()
    print(json.dumps(ids))

anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
"""


async def test_two_processes_inserting_at_once_lose_nothing(settings: Settings) -> None:
    await check_two_writers(settings)


async def test_two_processes_sharing_an_s3_index_lose_nothing(
    tmp_path: Path, s3: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**s3.env, "LETTA_MCP_LANCE_URI": s3.uri()}.items():
        monkeypatch.setenv(name, value)  # the writers read their settings from the environment
    await check_two_writers(load_settings(overrides={"data_dir": str(tmp_path / "data")}))


async def check_two_writers(settings: Settings) -> None:
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    agent = (await service.create_agent(name="shared")).agent.id
    await service.close()

    results: dict[str, subprocess.CompletedProcess[bytes]] = {}

    async def write(name: str) -> None:
        command = [sys.executable, "-c", WRITER, str(settings.data_dir), agent, name, str(PER_PROCESS)]
        results[name] = await anyio.run_process(command, check=False)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for name in ("a", "b"):
                tg.start_soon(write, name)
    written: list[str] = []
    for result in results.values():
        assert result.returncode == 0, result.stderr.decode()[-3000:]
        written += json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert len(written) == 2 * PER_PROCESS
    # Checked before any process opens the index again: its start-up repair would remove duplicates.
    index = await LanceIndex.open(settings.lance_target, storage_options=settings.lance_options())
    assert sorted(await index.ids()) == sorted(written)  # every passage indexed exactly once

    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    try:
        assert service.archival is not None
        assert await service.archival.count(agent) == 2 * PER_PROCESS
        for name in ("a", "b"):
            for i in (0, PER_PROCESS // 2, PER_PROCESS - 1):
                hits = await service.archival.search(agent, f"zq{name}x{i}", top_k=1)
                assert hits and hits[0].passage.text.endswith(f"zq{name}x{i}")
    finally:
        await service.close()
