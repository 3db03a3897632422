"""Fixtures for tools from other MCP servers: a real stdio server and a real Streamable HTTP server
(`tool_servers.py`), a service whose agents may use them, and an MCP client of that service."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from remote_config import SERVERS, server_settings

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.remote import RemoteServers
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

START_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def http_tools_url() -> Iterator[str]:
    """A Streamable HTTP MCP server on a free loopback port (its URL), for the whole module."""
    with _serve("http") as port:
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture(scope="module")
def sse_tools_url() -> Iterator[str]:
    """The same tools over the legacy SSE transport."""
    with _serve("sse") as port:
        yield f"http://127.0.0.1:{port}/sse"


@contextlib.contextmanager
def _serve(transport: str) -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, str(SERVERS), transport], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline() if process.stdout else ""))
    reader.start()
    reader.join(START_TIMEOUT_S)  # the line comes once the socket is bound (and already accepting)
    try:
        assert first and first[0].startswith("listening on "), f"the HTTP tool server did not start: {first}"
        yield int(first[0].split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=15)
        process.stdout.close()


@pytest.fixture
def remote_settings(tmp_path: Path, http_tools_url: str) -> Settings:
    return load_settings(
        overrides={"data_dir": str(tmp_path / "data"), "mcp_servers": server_settings(tmp_path, http_tools_url)},
        environ={},
    )


@pytest.fixture
async def remote_service(remote_settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[AgentService]:
    service = await AgentService.open(
        remote_settings,
        providers={"openai": scripted},
        remote_tools=RemoteServers(remote_settings.mcp_servers),
    )
    try:
        yield service
    finally:
        await service.close()


@pytest.fixture
async def remote_client(remote_service: AgentService) -> AsyncIterator[Client]:
    async with Client(create_server(remote_service)) as client:
        yield client
