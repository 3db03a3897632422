"""A run that fails outside the model's control is logged once, with its id, and recorded on the run."""

from __future__ import annotations

import logging

import anyio
import pytest

from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import ModelRequest, Role, RunStatus
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


def _provider_bug(request: ModelRequest) -> None:
    raise RuntimeError("provider bug")  # not an LLMError: nothing in the loop expects it


def _mentions(caplog: pytest.LogCaptureFixture, run_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if run_id in r.getMessage() and r.levelno >= logging.ERROR]


async def test_a_failing_background_run_is_logged_once_and_visible_through_get_run(
    service: AgentService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.add(_provider_bug)
    agent = (await service.create_agent(name="fragile")).agent
    with anyio.fail_after(10):
        accepted = await service.send_message(agent.id, "hello", background=True)
        # Nobody awaits a background run's task: it must end cleanly, not with the exception.
        assert await service.runs.wait(accepted.run) is None
    run = await service.get_run(accepted.run.id)
    assert run.status is RunStatus.failed
    assert run.error == "Internal error: RuntimeError: provider bug"
    assert len(_mentions(caplog, run.id)) == 1


async def test_a_failing_end_of_run_announcement_is_logged(
    service: AgentService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.add(reply("hi"))
    agent = (await service.create_agent(name="quiet")).agent

    async def broken_announcement(run: object) -> None:
        raise RuntimeError("subscriber store is gone")

    with anyio.fail_after(10):
        run = await service.runs.submit(
            agent, "hello", role=Role.user, max_steps=None, background=True, on_done=broken_announcement
        )
        result = await service.runs.wait(run)
    assert result is not None and result.reply == "hi"
    [record] = _mentions(caplog, run.id)
    assert record.exc_info is not None and "subscriber store is gone" in str(record.exc_info[1])
