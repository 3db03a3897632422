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
    async with service.store.read() as q:
        async with q.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'messages_fts%'"
        ) as cur:
            tables = [row[0] for row in await cur.fetchall()]
        for table in tables:
            async with q.conn.execute(f"SELECT * FROM {table} ORDER BY rowid") as cur:
                out[table] = [tuple(row) for row in await cur.fetchall()]
    return out
