"""Connecting to a task-serving ``letta-mcp serve`` over Streamable HTTP, shared by the HTTP task tests.

The server's task threshold is 0.2 s (`TASK_CONFIG`); the model is a `FakeOpenAI` whose ``delay``
entries make a turn slower than that, so a client that declares the extension gets a task,
deterministically: the turn cannot finish before its model answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.session import MessageHandlerFnT
from mcp.client.streamable_http import streamable_http_client
from task_client import CreateTaskResult

TASK_CONFIG = """
[tasks]
threshold_s = 0.2
poll_interval_ms = 20
ttl_ms = 3600000
"""


@asynccontextmanager
async def connect(
    url: str, *extensions: Any, token: str | None = None, message_handler: MessageHandlerFnT | None = None
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(
            streamable_http_client(url, http_client=http),  # type: ignore[arg-type]
            extensions=list(extensions),
            message_handler=message_handler,
        ) as client,
    ):
        yield client


async def new_agent(client: Client, **spec: Any) -> str:
    created = await client.call_tool("create_agent", {"name": "tasker", **spec})
    assert not created.is_error, created.content
    assert created.structured_content is not None
    return str(created.structured_content["id"])


async def start_task(client: Client, agent_id: str, message: str, **arguments: Any) -> CreateTaskResult:
    """send_message as a client holding the extension, keeping the task handle instead of resolving it."""
    created = await client.session.call_tool(
        "send_message", {"agent_id": agent_id, "message": message, **arguments}, allow_claimed=True
    )
    assert isinstance(created, CreateTaskResult), created
    return created
