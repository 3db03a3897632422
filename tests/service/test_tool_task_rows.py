"""Tool tasks in the service: the row an MCP task of ``import_agent``/``compact_context`` keeps."""

from __future__ import annotations

import pytest

from letta_mcp.config import Settings
from letta_mcp.models import ToolTaskStatus
from letta_mcp.service import AgentService
from letta_mcp.service.access import Principal, acting_as
from letta_mcp.service.changes import Change
from letta_mcp.service.errors import NotFoundError

pytestmark = pytest.mark.anyio

ALICE = Principal("alice")
BOB = Principal("bob")


async def test_a_tool_task_is_its_callers_and_keeps_the_answer(settings: Settings) -> None:
    service = await AgentService.open(settings)
    heard: list[Change] = []

    async def listen(change: Change) -> None:
        heard.append(change)

    service.on_change(listen)
    try:
        with acting_as(ALICE):
            task = await service.begin_tool_task("import_agent")
            assert (await service.get_tool_task(task.id)).status is ToolTaskStatus.working
        with acting_as(BOB), pytest.raises(NotFoundError):
            await service.get_tool_task(task.id)
        with acting_as(ALICE):
            await service.finish_tool_task(task, result='{"content": []}')
            done = await service.get_tool_task(task.id)
        assert done.status is ToolTaskStatus.completed and done.result == '{"content": []}'
        assert Change("alice", task_id=task.id) in heard  # its subscribers are told
    finally:
        await service.close()


async def test_a_tool_task_whose_process_stopped_reads_interrupted(settings: Settings) -> None:
    service = await AgentService.open(settings)
    try:
        task = await service.begin_tool_task("compact_context")
    finally:
        await service.close()  # the process stops before the tool answers
    service = await AgentService.open(settings)
    try:
        assert (await service.get_tool_task(task.id)).status is ToolTaskStatus.interrupted
    finally:
        await service.close()
