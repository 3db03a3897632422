"""Agent groups (Letta's sleep-time pairs and other multi-agent groups) and their members."""

from __future__ import annotations

from typing import Any

from letta_mcp.models import AgentGroup
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Row


class GroupQueries:
    """Bound to one connection; write methods only inside `Store.write()`."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, group: AgentGroup) -> None:
        await self._db.execute(
            "INSERT INTO agent_groups (id, manager_type, manager_agent_id, config, description, enabled, created_at)"
            " VALUES (:id, :manager_type, :manager_agent_id, :config, :description, :enabled, :created_at)",
            {
                "id": group.id,
                "manager_type": group.manager_type,
                "manager_agent_id": group.manager_agent_id,
                "config": dumps(group.config),
                "description": group.description,
                "enabled": int(group.enabled),
                "created_at": ts(group.created_at),
            },
        )
        await self._db.executemany(
            "INSERT INTO agent_group_members (group_id, agent_id, position) VALUES (:group_id, :agent_id, :position)",
            [{"group_id": group.id, "agent_id": aid, "position": i} for i, aid in enumerate(group.agent_ids)],
        )

    async def for_agent(self, agent_id: str) -> list[AgentGroup]:
        """The groups the agent manages or belongs to, oldest first."""
        return [
            _group(row)
            for row in await self._db.fetchall(
                _SELECT + " WHERE g.manager_agent_id = :agent_id"
                " OR g.id IN (SELECT group_id FROM agent_group_members WHERE agent_id = :agent_id)"
                " ORDER BY g.created_at, g.id",
                {"agent_id": agent_id},
            )
        ]

    async def managed(self, agent_id: str, manager_type: str) -> AgentGroup | None:
        """The group of ``manager_type`` that ``agent_id`` manages (e.g. its sleep-time pair)."""
        row = await self._db.fetchone(
            _SELECT + " WHERE g.manager_agent_id = :agent_id AND g.manager_type = :type ORDER BY g.created_at LIMIT 1",
            {"agent_id": agent_id, "type": manager_type},
        )
        return _group(row) if row else None

    async def update(self, group_id: str, *, config: dict[str, Any], enabled: bool) -> None:
        await self._db.execute(
            "UPDATE agent_groups SET config = :config, enabled = :enabled WHERE id = :id",
            {"id": group_id, "config": dumps(config), "enabled": int(enabled)},
        )

    async def delete(self, group_id: str) -> None:
        await self._db.execute("DELETE FROM agent_groups WHERE id = :id", {"id": group_id})

    async def count_turn(self, group_id: str) -> int:
        """Add one to the group's ``turns_counter``; returns the new count (atomic across processes)."""
        sql = {
            "sqlite": "UPDATE agent_groups SET config = json_set(config, '$.turns_counter',"
            " COALESCE(json_extract(config, '$.turns_counter'), 0) + 1) WHERE id = :id"
            " RETURNING json_extract(config, '$.turns_counter')",
            "postgresql": "UPDATE agent_groups SET config = jsonb_set(config::jsonb, '{turns_counter}',"
            " to_jsonb(COALESCE((config::jsonb ->> 'turns_counter')::bigint, 0) + 1))::text WHERE id = :id"
            " RETURNING (config::jsonb ->> 'turns_counter')::bigint",
        }
        row = await self._db.fetchone(sql[self._db.dialect], {"id": group_id})
        return int(row[0]) if row else 0

    async def mark_processed(self, group_id: str, seq: int) -> None:
        """Record that the sleep-time agent has seen the main agent's messages up to ``seq`` (never
        moving backwards, so a late-finishing older run cannot undo a newer one)."""
        sql = {
            "sqlite": "UPDATE agent_groups SET config = json_set(config, '$.last_processed_seq', :seq) WHERE id = :id"
            " AND COALESCE(json_extract(config, '$.last_processed_seq'), -1) < :seq",
            "postgresql": "UPDATE agent_groups SET config = jsonb_set(config::jsonb, '{last_processed_seq}',"
            " to_jsonb(CAST(:seq AS BIGINT)))::text WHERE id = :id"
            " AND COALESCE((config::jsonb ->> 'last_processed_seq')::bigint, -1) < :seq",
        }
        await self._db.execute(sql[self._db.dialect], {"id": group_id, "seq": seq})


_SELECT = (
    "SELECT g.*, (SELECT json_group_array(agent_id) FROM (SELECT agent_id FROM agent_group_members m"
    " WHERE m.group_id = g.id ORDER BY position) AS ordered) AS members FROM agent_groups g"
)


def _group(row: Row) -> AgentGroup:
    return AgentGroup(
        id=row["id"],
        manager_type=row["manager_type"],
        manager_agent_id=row["manager_agent_id"],
        agent_ids=loads(row["members"], []),
        config=loads(row["config"], {}),
        description=row["description"],
        enabled=bool(row["enabled"]),
        created_at=from_ts(row["created_at"]),
    )
