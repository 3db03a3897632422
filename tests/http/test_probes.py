"""/healthz and /readyz answer 503 when a dependency or the process itself is not fit for work,
and say which check failed without revealing where the dependency lives."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.server.http import build_app
from letta_mcp.service import AgentService

pytestmark = pytest.mark.anyio


async def _get(app: object, path: str) -> httpx2.Response:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        return await client.get(path)


async def test_healthz_is_503_when_the_index_cannot_be_opened(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the index directory should be", encoding="utf-8")
    settings = load_settings(
        overrides={"data_dir": str(tmp_path / "data"), "lance_uri": str(blocker / "lance")}, environ={}
    )
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    try:
        with anyio.fail_after(60):
            response = await _get(build_app(service, settings), "/healthz")
    finally:
        await service.close()
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["checks"] == {"database": True, "index": False}
    assert str(blocker) not in response.text


async def test_readyz_is_503_once_the_service_is_closing(tmp_path: Path) -> None:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data")}, environ={})
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    app = build_app(service, settings)
    with anyio.fail_after(30):
        assert (await _get(app, "/readyz")).status_code == 200
        await service.close()
        response = await _get(app, "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"serving": False, "accepting": True}
