"""Agent groups (Letta's sleep-time pairs and other multi-agent groups) and their members."""

from __future__ import annotations

import aiosqlite

from letta_mcp.models import AgentGroup
from letta_mcp.store.codec import dumps, from_ts, loads, ts


class GroupQueries:
    """Bound to one connection; write methods only inside `Store.write()`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert(self, group: AgentGroup) -> None:
        await self._conn.execute(
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
        await self._conn.executemany(
            "INSERT INTO agent_group_members (group_id, agent_id, position) VALUES (:group_id, :agent_id, :position)",
            [{"group_id": group.id, "agent_id": aid, "position": i} for i, aid in enumerate(group.agent_ids)],
        )

    async def for_agent(self, agent_id: str) -> list[AgentGroup]:
        """The groups the agent manages or belongs to, oldest first."""
        async with self._conn.execute(
            "SELECT g.*, (SELECT json_group_array(agent_id) FROM (SELECT agent_id FROM agent_group_members m"
            " WHERE m.group_id = g.id ORDER BY position)) AS members FROM agent_groups g"
            " WHERE g.manager_agent_id = :agent_id"
            " OR g.id IN (SELECT group_id FROM agent_group_members WHERE agent_id = :agent_id)"
            " ORDER BY g.created_at, g.id",
            {"agent_id": agent_id},
        ) as cur:
            rows = await cur.fetchall()
        return [
            AgentGroup(
                id=row["id"],
                manager_type=row["manager_type"],
                manager_agent_id=row["manager_agent_id"],
                agent_ids=loads(row["members"], []),
                config=loads(row["config"], {}),
                description=row["description"],
                enabled=bool(row["enabled"]),
                created_at=from_ts(row["created_at"]),
            )
            for row in rows
        ]
