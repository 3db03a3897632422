"""Inactive tools: tools an agent was given that letta-mcp records but does not run."""

from __future__ import annotations

from letta_mcp.models import InactiveTool
from letta_mcp.store.codec import dumps, loads
from letta_mcp.store.db import Db


class InactiveToolQueries:
    """Bound to one connection; write methods only inside `Store.write()`."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, agent_id: str, tools: list[InactiveTool]) -> None:
        await self._db.executemany(
            "INSERT INTO inactive_tools (agent_id, name, tool_type, description, json_schema, source_type,"
            " source_code, tags, metadata, reason) VALUES (:agent_id, :name, :tool_type, :description,"
            " :json_schema, :source_type, :source_code, :tags, :metadata, :reason)",
            [
                {
                    **t.model_dump(exclude={"json_schema", "tags", "metadata"}),
                    "agent_id": agent_id,
                    "json_schema": dumps(t.json_schema),
                    "tags": dumps(t.tags),
                    "metadata": dumps(t.metadata),
                }
                for t in tools
            ],
        )

    async def for_agent(self, agent_id: str) -> list[InactiveTool]:
        rows = await self._db.fetchall(
            "SELECT * FROM inactive_tools WHERE agent_id = :agent_id ORDER BY name", {"agent_id": agent_id}
        )
        return [
            InactiveTool(
                name=row["name"],
                tool_type=row["tool_type"],
                description=row["description"],
                json_schema=loads(row["json_schema"], {}),
                source_type=row["source_type"],
                source_code=row["source_code"],
                tags=loads(row["tags"], []),
                metadata=loads(row["metadata"], {}),
                reason=row["reason"],
            )
            for row in rows
        ]
