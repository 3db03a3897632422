"""Helpers shared by the in-process MCP tests: unwrap results, snapshot the whole database."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult

from letta_mcp.service import AgentService


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a call that must have succeeded."""
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None
    return result.structured_content


def err(result: CallToolResult) -> str:
    """The message of a call that must have failed."""
    assert result.is_error, result.structured_content
    return result.content[0].text


async def snapshot(service: AgentService) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (FTS shadow tables aside): equal snapshots mean nothing was written."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    tables = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'messages_fts%'",
        "postgresql": "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
    }[service.store.dialect]
    async with service.store.read() as q:
        for (table,) in await q.db.fetchall(tables):
            rows = [tuple(row) for row in await q.db.fetchall(f"SELECT * FROM {table}")]
            out[table] = sorted(rows, key=repr)
    return out
