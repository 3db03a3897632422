"""Archival fixtures: a service with a deterministic embedder, and a reopenable data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from archival_embedders import BagOfWords

from letta_mcp.config import Settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.service import AgentService


@pytest.fixture
async def hybrid(settings: Settings, scripted: ScriptedProvider) -> AsyncIterator[AgentService]:
    """An `AgentService` whose archival memory embeds with `BagOfWords` (hybrid search)."""
    svc = await AgentService.open(settings, providers={"openai": scripted}, embedder=BagOfWords())
    try:
        yield svc
    finally:
        await svc.close()
