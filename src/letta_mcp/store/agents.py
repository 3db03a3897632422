"""Agent rows and their tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import aiosqlite

from letta_mcp.models import Agent
from letta_mcp.store.codec import dumps, from_ts, loads, ts

_SELECT = """
    SELECT a.*, (SELECT json_group_array(tag) FROM (
        SELECT tag FROM agent_tags t WHERE t.agent_id = a.id ORDER BY tag)) AS tags_json
    FROM agents a
"""


AgentSort = Literal["name", "model", "tags", "messages", "last_active", "created"]
_SORT_COLUMNS: dict[str, str] = {
    "name": "name COLLATE NOCASE",
    "model": "model",
    "tags": "tags_json",
    "messages": "message_count",
    "last_active": "COALESCE(last_active, created_at)",
    "created": "created_at",
}


def _agent(row: aiosqlite.Row) -> Agent:
    return Agent(
        id=row["id"],
        name=row["name"],
        system=row["system"],
        model=row["model"],
        tools=loads(row["tools"], []),
        tags=loads(row["tags_json"], []),
        description=row["description"],
        metadata=loads(row["metadata"], {}),
        max_steps=row["max_steps"],
        context_window=row["context_window"],
        owner=row["owner"],
        tool_rules=loads(row["tool_rules"], []),
        created_at=from_ts(row["created_at"]),
        updated_at=from_ts(row["updated_at"]),
    )


def _params(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "system": agent.system,
        "model": agent.model,
        "tools": dumps(agent.tools),
        "description": agent.description,
        "metadata": dumps(agent.metadata),
        "max_steps": agent.max_steps,
        "context_window": agent.context_window,
        "owner": agent.owner,
        "tool_rules": dumps([rule.model_dump() for rule in agent.tool_rules]),
        "created_at": ts(agent.created_at),
        "updated_at": ts(agent.updated_at),
    }


class AgentQueries:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert(self, agent: Agent) -> None:
        await self._conn.execute(
            "INSERT INTO agents (id, name, system, model, tools, description, metadata, max_steps,"
            " context_window, owner, tool_rules, created_at, updated_at) VALUES (:id, :name, :system, :model,"
            " :tools, :description, :metadata, :max_steps, :context_window, :owner, :tool_rules, :created_at,"
            " :updated_at)",
            _params(agent),
        )
        await self._set_tags(agent.id, agent.tags)

    async def update(self, agent: Agent) -> None:
        await self._conn.execute(
            "UPDATE agents SET name = :name, system = :system, model = :model, tools = :tools,"
            " description = :description, metadata = :metadata, max_steps = :max_steps,"
            " context_window = :context_window, tool_rules = :tool_rules, updated_at = :updated_at WHERE id = :id",
            _params(agent),
        )
        await self._conn.execute("DELETE FROM agent_tags WHERE agent_id = :id", {"id": agent.id})
        await self._set_tags(agent.id, agent.tags)

    async def _set_tags(self, agent_id: str, tags: list[str]) -> None:
        await self._conn.executemany(
            "INSERT OR IGNORE INTO agent_tags (agent_id, tag) VALUES (:agent_id, :tag)",
            [{"agent_id": agent_id, "tag": tag} for tag in tags],
        )

    async def get(self, agent_id: str) -> Agent | None:
        async with self._conn.execute(_SELECT + " WHERE a.id = :id", {"id": agent_id}) as cur:
            row = await cur.fetchone()
        return _agent(row) if row else None

    async def exists(self, agent_id: str) -> bool:
        async with self._conn.execute("SELECT 1 FROM agents WHERE id = :id", {"id": agent_id}) as cur:
            return await cur.fetchone() is not None

    async def list(
        self,
        *,
        tags: list[str] | None = None,
        match_all_tags: bool = False,
        name: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Agent]:
        """Agents, newest first, optionally filtered by tags (any or all), a name substring and owner."""
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if owner is not None:
            params["owner"] = owner
            where.append("a.owner = :owner")
        if tags:
            names = []
            for i, tag in enumerate(tags):
                params[f"tag{i}"] = tag
                names.append(f":tag{i}")
            matched = f"SELECT agent_id FROM agent_tags WHERE tag IN ({', '.join(names)}) GROUP BY agent_id"
            if match_all_tags:
                matched += f" HAVING COUNT(DISTINCT tag) = {len(set(tags))}"
            where.append(f"a.id IN ({matched})")
        if name:
            params["name"] = f"%{name}%"
            where.append("a.name LIKE :name")
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY a.created_at DESC, a.id LIMIT :limit OFFSET :offset"
        async with self._conn.execute(sql, params) as cur:
            return [_agent(row) for row in await cur.fetchall()]

    async def summaries(
        self,
        *,
        owner: str | None,
        query: str | None = None,
        sort: AgentSort = "last_active",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[tuple[Agent, int, datetime | None]], int]:
        """One page of (agent, messages in history, last message time) and the number of matches.

        ``query`` matches a substring of the name, model or a tag, or the exact id. The counts come
        from the newest message row per agent (an index lookup), so sorting by them stays cheap.
        """
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if owner is not None:
            params["owner"] = owner
            where.append("a.owner = :owner")
        if query:
            params["exact"] = query
            params["like"] = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(a.id = :exact OR a.name LIKE :like ESCAPE '\\' OR a.model LIKE :like ESCAPE '\\' OR EXISTS ("
                "SELECT 1 FROM agent_tags t WHERE t.agent_id = a.id AND t.tag LIKE :like ESCAPE '\\'))"
            )
        clause = " WHERE " + " AND ".join(where) if where else ""
        latest = "FROM messages m WHERE m.agent_id = a.id ORDER BY m.seq DESC LIMIT 1"
        sql = (
            f"SELECT * FROM (SELECT a.*, (SELECT json_group_array(tag) FROM (SELECT tag FROM agent_tags t"
            f" WHERE t.agent_id = a.id ORDER BY tag)) AS tags_json, COALESCE((SELECT m.seq + 1 {latest}), 0)"
            f" AS message_count, (SELECT m.created_at {latest}) AS last_active FROM agents a{clause})"
            f" ORDER BY {_SORT_COLUMNS[sort]} {'DESC' if descending else 'ASC'}, id LIMIT :limit OFFSET :offset"
        )
        async with self._conn.execute(sql, params) as cur:
            rows = await cur.fetchall()
        async with self._conn.execute(f"SELECT COUNT(*) FROM agents a{clause}", params) as cur:
            (total,) = await cur.fetchone() or (0,)
        page = [(_agent(r), r["message_count"], from_ts(r["last_active"]) if r["last_active"] else None) for r in rows]
        return page, total

    async def delete(self, agent_id: str) -> None:
        await self._conn.execute("DELETE FROM agents WHERE id = :id", {"id": agent_id})
