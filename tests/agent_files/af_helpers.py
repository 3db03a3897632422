"""Shared by the Agent File tests: the real .af files under tests/fixtures/agent_files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio

FIXTURES = Path(__file__).parent.parent / "fixtures" / "agent_files"
REAL_FILES = sorted(FIXTURES.glob("*.af"))


def fixture(name: str) -> Path:
    return next(p for p in REAL_FILES if p.name == name)


async def read(path: Path) -> bytes:
    return await anyio.Path(path).read_bytes()


async def document(path: Path) -> dict[str, Any]:
    """The file as a JSON object (the agent-file examples are double-encoded)."""
    data = json.loads(await read(path))
    return json.loads(data) if isinstance(data, str) else data
