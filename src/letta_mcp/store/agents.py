"""Agent rows and their tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from letta_mcp.models import Agent
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Row

_SELECT = """
    SELECT a.*, (SELECT json_group_array(tag) FROM (
        SELECT tag FROM agent_tags t WHERE t.agent_id = a.id ORDER BY tag) AS ordered) AS tags_json
    FROM agents a
"""


AgentSort = Literal["name", "model", "tags", "messages", "last_active", "created"]
# The newest message of agent ``a``: one descent of the (agent_id, seq) index.
_LATEST = "FROM messages m WHERE m.agent_id = a.id ORDER BY m.seq DESC LIMIT 1"
_SORT_KEYS: dict[str, str] = {
    "name": "a.name COLLATE NOCASE",
    "model": "a.model",
    "tags": "(SELECT group_concat(tag, ' ') FROM"
    " (SELECT tag FROM agent_tags t WHERE t.agent_id = a.id ORDER BY tag) AS ordered)",
    "messages": f"(SELECT m.seq {_LATEST})",
    "last_active": f"COALESCE((SELECT m.created_at {_LATEST}), a.created_at)",
    "created": "a.created_at",
}
_SUMMARY = f"""
    SELECT a.*, (SELECT json_group_array(tag) FROM (
        SELECT tag FROM agent_tags t WHERE t.agent_id = a.id ORDER BY tag) AS ordered) AS tags_json,
        (SELECT m.seq + 1 {_LATEST}) AS message_count, (SELECT m.created_at {_LATEST}) AS last_active
    FROM agents a
"""


def _agent(row: Row) -> Agent:
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
    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, agent: Agent) -> None:
        await self._db.execute(
            "INSERT INTO agents (id, name, system, model, tools, description, metadata, max_steps,"
            " context_window, owner, tool_rules, created_at, updated_at) VALUES (:id, :name, :system, :model,"
            " :tools, :description, :metadata, :max_steps, :context_window, :owner, :tool_rules, :created_at,"
            " :updated_at)",
            _params(agent),
        )
        await self._set_tags(agent.id, agent.tags)

    async def update(self, agent: Agent) -> None:
        await self._db.execute(
            "UPDATE agents SET name = :name, system = :system, model = :model, tools = :tools,"
            " description = :description, metadata = :metadata, max_steps = :max_steps,"
            " context_window = :context_window, tool_rules = :tool_rules, updated_at = :updated_at WHERE id = :id",
            _params(agent),
        )
        await self._db.execute("DELETE FROM agent_tags WHERE agent_id = :id", {"id": agent.id})
        await self._set_tags(agent.id, agent.tags)

    async def _set_tags(self, agent_id: str, tags: list[str]) -> None:
        await self._db.executemany(
            "INSERT INTO agent_tags (agent_id, tag) VALUES (:agent_id, :tag) ON CONFLICT DO NOTHING",
            [{"agent_id": agent_id, "tag": tag} for tag in tags],
        )

    async def get(self, agent_id: str) -> Agent | None:
        row = await self._db.fetchone(_SELECT + " WHERE a.id = :id", {"id": agent_id})
        return _agent(row) if row else None

    async def exists(self, agent_id: str) -> bool:
        return await self._db.fetchone("SELECT 1 FROM agents WHERE id = :id", {"id": agent_id}) is not None

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
        return [_agent(row) for row in await self._db.fetchall(sql, params)]

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

        ``query`` matches a substring of the name, model or a tag, or the exact id. Two steps: the
        page's ids are chosen by the sort key alone (cheap for every agent: the counts come from
        the newest message row, an index lookup), then only those rows are loaded in full.
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
        # NULLs (no messages, no tags) placed explicitly: SQLite and PostgreSQL differ by default.
        order = f"{_SORT_KEYS[sort]} {'DESC NULLS LAST' if descending else 'ASC NULLS FIRST'}, a.id"
        sql = f"SELECT a.id FROM agents a{clause} ORDER BY {order} LIMIT :limit OFFSET :offset"
        ids = [row[0] for row in await self._db.fetchall(sql, params)]
        (total,) = await self._db.fetchone(f"SELECT COUNT(*) FROM agents a{clause}", params) or (0,)
        keys = {f"id{i}": agent_id for i, agent_id in enumerate(ids)}
        sql = _SUMMARY + f" WHERE a.id IN ({', '.join(':' + k for k in keys)})"
        rows = {row["id"]: row for row in await self._db.fetchall(sql, keys)}
        page = []
        for agent_id in ids:
            r = rows[agent_id]
            last = from_ts(r["last_active"]) if r["last_active"] else None
            page.append((_agent(r), r["message_count"] or 0, last))
        return page, total

    async def delete(self, agent_id: str) -> None:
        await self._db.execute("DELETE FROM agents WHERE id = :id", {"id": agent_id})
