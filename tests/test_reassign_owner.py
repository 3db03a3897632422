"""`letta-mcp reassign-owner` as a real subprocess: one principal's agents move to another in place."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from letta_mcp.config import Settings, load_settings
from letta_mcp.service import AgentService
from letta_mcp.service.access import LOCAL, Principal, acting_as
from test_cli import letta_mcp

pytestmark = pytest.mark.anyio


def settings_for(data_dir: Path) -> Settings:
    return load_settings(overrides={"data_dir": str(data_dir)}, environ={})


async def test_local_agents_move_to_a_principal_with_their_ids(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with anyio.fail_after(120):
        service = await AgentService.open(settings_for(data_dir))
        try:
            agent_id = (await service.create_agent(name="made-over-stdio", tags=["mine"])).agent.id
            await service.create_template("starter", agent_id=agent_id)
        finally:
            await service.close()
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("reassign-owner", "local", "alice", "--data-dir", str(data_dir))
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["from"] == "local" and report["to"] == "alice"
        assert report["moved"]["agents"] == 1 and report["moved"]["templates"] == 1
        assert report["moved"]["blocks"] == 2  # persona and human
        service = await AgentService.open(settings_for(data_dir))
        try:
            with acting_as(Principal("alice")):
                assert [a.id for a in await service.list_agents()] == [agent_id]
                assert (await service.get_agent(agent_id)).agent.owner == "alice"
                assert [t.name for t in await service.list_templates()] == ["starter"]
            with acting_as(Principal("bob")):
                assert await service.list_agents() == []
            with acting_as(LOCAL):  # the local user still sees everyone's
                assert [a.id for a in await service.list_agents()] == [agent_id]
        finally:
            await service.close()


async def test_a_template_name_clash_moves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with anyio.fail_after(120):
        service = await AgentService.open(settings_for(data_dir))
        try:
            local_agent = (await service.create_agent(name="l")).agent.id
            await service.create_template("starter", agent_id=local_agent)
            with acting_as(Principal("alice")):
                alices = (await service.create_agent(name="a")).agent.id
                await service.create_template("starter", agent_id=alices)
        finally:
            await service.close()
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("reassign-owner", "local", "alice", "--data-dir", str(data_dir))
        )
        assert done.returncode == 2
        assert "'alice' already has templates named 'starter'" in done.stderr and "Nothing was moved" in done.stderr
        assert "Traceback" not in done.stderr
        service = await AgentService.open(settings_for(data_dir))
        try:
            assert (await service.get_agent(local_agent)).agent.owner == "local"
        finally:
            await service.close()


def test_an_owner_with_nothing_is_reported(tmp_path: Path) -> None:
    done = letta_mcp("reassign-owner", "nobody", "alice", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert "'nobody' owns nothing here" in done.stderr
