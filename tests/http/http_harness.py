"""Real HTTP servers for the transport, auth and isolation tests (fixtures re-exported by conftest.py).

Each server is a real ``python -m letta_mcp serve --transport streamable-http --port 0``
subprocess on 127.0.0.1, with its own data directory and config file; the port it bound is read
from its start-up log line. Its model is a `FakeOpenAI` (real HTTP) shared by the module. Servers
are module-scoped, so tests create their own agents instead of assuming an empty server.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from fake_openai import FakeOpenAI
from letta_mcp.server.auth import hash_token

LISTENING = re.compile(r"serving .* on (http://\S+) \(")
START_TIMEOUT_S = 30.0


@dataclass
class ServerProcess:
    """A running ``letta-mcp serve`` subprocess and what it logged."""

    process: subprocess.Popen[str]
    url: str
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    @property
    def sse_url(self) -> str:
        return f"{self.url}/sse"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # uvicorn shuts down gracefully on SIGTERM
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self.reader is not None:
            self.reader.join(timeout=15)
        if self.process.stderr is not None:
            self.process.stderr.close()


def serve_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "letta_mcp", "serve", "--data-dir", str(data_dir), *args]


def server_env(model_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETTA_MCP_")}
    env.update({"OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "test-key", "LETTA_MCP_LOG_LEVEL": "INFO"})
    return env


def start_server(
    data_dir: Path,
    model_url: str,
    *,
    config: str = "",
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """Start a streamable-http server on a free loopback port and wait until it accepts requests.
    ``env``: more environment variables (settings of servers started at once on one data directory,
    which share its config file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config_file = data_dir.parent / f"{data_dir.name}.toml"
    config_file.write_text(config, encoding="utf-8")
    command = serve_command(data_dir, "--transport", "streamable-http", "--port", "0", "--config", str(config_file))
    process = subprocess.Popen(
        [*command, *args],
        env=server_env(model_url) | (env or {}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:  # keep reading so the server never blocks on a full stderr pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if not url and (match := LISTENING.search(line)):
                url.append(match.group(1))
                found.set()
        found.set()

    reader = threading.Thread(target=drain, name="server-stderr", daemon=True)
    reader.start()
    if not found.wait(START_TIMEOUT_S) or not url:
        ServerProcess(process, "", lines, reader).stop()
        raise RuntimeError("letta-mcp serve did not start:\n" + "".join(lines))
    server = ServerProcess(process, url[0], lines, reader)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:  # the socket listens before uvicorn finishes starting: wait for /readyz
        try:
            if httpx2.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx2.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            server.stop()
            raise RuntimeError("letta-mcp serve never became healthy:\n" + "".join(lines))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    """The fake model behind every server of the module; tests script it before sending messages."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI) -> Iterator[ServerProcess]:
    """A loopback server without auth: every request runs as the local user."""
    server = start_server(tmp_path_factory.mktemp("open") / "data", model.base_url)
    yield server
    server.stop()


@dataclass(frozen=True)
class Tokens:
    alice: str
    bob: str
    ops: str  # an admin: sees every principal's agents
    jwt_secret: str


JWT_ISSUER = "https://issuer.example.test"
JWT_AUDIENCE = "letta-mcp-tests"


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    return Tokens(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(32))


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI, tokens: Tokens) -> Iterator[ServerProcess]:
    """A server with bearer tokens for alice, bob and the admin ops, and HS256 JWTs from JWT_ISSUER."""
    root = tmp_path_factory.mktemp("auth")
    key_file = root / "jwt.key"
    key_file.write_text(tokens.jwt_secret, encoding="utf-8")
    config = f"""
[http]
max_request_body_bytes = 65536

[auth]
admins = ["ops"]
jwt_key_file = "{key_file.as_posix()}"
jwt_issuer = "{JWT_ISSUER}"
jwt_audience = "{JWT_AUDIENCE}"
jwt_algorithms = ["HS256"]

[auth.tokens]
"{hash_token(tokens.alice)}" = "alice"
"{hash_token(tokens.bob)}" = "bob"
"{hash_token(tokens.ops)}" = "ops"
"""
    server = start_server(root / "data", model.base_url, config=config)
    yield server
    server.stop()


@asynccontextmanager
async def connect(url: str, token: str | None = None, *, mode: str = "auto") -> AsyncIterator[Client]:
    """An `mcp.Client` over Streamable HTTP, sending ``token`` as a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        yield client


@asynccontextmanager
async def connect_sse(url: str, token: str | None = None, **kwargs: Any) -> AsyncIterator[Client]:
    """An `mcp.Client` over the legacy SSE transport."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with Client(sse_client(url, headers=headers), **kwargs) as client:
        yield client


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text
