"""Shared fixtures: a tmp data dir, a scripted model, the service, and an in-process MCP client.

Real model calls are impossible from the suite: the standard OpenAI variables are replaced by a
closed local port before any test runs, so a test that forgot to script its model fails fast.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.server import create_server
from letta_mcp.service import AgentService

if TYPE_CHECKING:
    from s3 import S3Bucket  # a plugin (below): importing it here would bypass assertion rewriting

os.environ.pop("OPENAI_API_KEY", None)
os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # discard port: nothing listens
# The whole suite with its LanceDB index on S3 (moto): read once and removed, since settings loaded
# from the environment (CLI runs in-process) would take a LETTA_MCP_* variable for a setting.
LANCE_ON_S3 = os.environ.pop("LETTA_MCP_TEST_LANCE_S3", "") == "1"

pytest_plugins = ["fake_openai", "s3", "postgres"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    overrides: dict[str, Any] = {"data_dir": str(tmp_path / "data")}
    if LANCE_ON_S3:
        s3: S3Bucket = request.getfixturevalue("s3")
        overrides |= {"lance_uri": s3.uri(), "lance_storage_options": s3.options}
        # The CLI runs and subprocesses a test starts read the same index from their environment.
        for name, value in {**s3.env, "LETTA_MCP_LANCE_URI": overrides["lance_uri"]}.items():
            request.getfixturevalue("monkeypatch").setenv(name, value)
    if os.environ.get("LETTA_TEST_DATABASE_URL"):  # the whole suite on PostgreSQL (tests/postgres.py)
        overrides["database_url"] = request.getfixturevalue("postgres_url")
        # The CLI and server subprocesses a test starts on the same data directory use it too.
        request.getfixturevalue("monkeypatch").setenv("LETTA_MCP_DATABASE_URL", overrides["database_url"])
    return load_settings(overrides=overrides, environ={})


@pytest.fixture
def scripted() -> ScriptedProvider:
    """The model behind every agent of the `service` fixture; add responses with ``scripted.add``."""
    return ScriptedProvider()


@pytest.fixture
async def service(settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[AgentService]:
    svc = await AgentService.open(settings, providers={"openai": scripted})
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def client(service: AgentService) -> AsyncIterator[Client]:
    async with Client(create_server(service)) as c:
        yield c
