"""Memory blocks, their links to agents, and their version history."""

from __future__ import annotations

from typing import Any

import aiosqlite

from letta_mcp.models import Block, BlockHistoryEntry
from letta_mcp.store.codec import dumps, from_ts, loads, ts


def _block(row: aiosqlite.Row) -> Block:
    return Block(
        id=row["id"],
        label=row["label"],
        value=row["value"],
        limit=row["limit"],
        description=row["description"],
        read_only=bool(row["read_only"]),
        metadata=loads(row["metadata"], {}),
        version=row["version"],
        created_at=from_ts(row["created_at"]),
        updated_at=from_ts(row["updated_at"]),
    )


def _params(block: Block) -> dict[str, Any]:
    return {
        "id": block.id,
        "label": block.label,
        "value": block.value,
        "limit": block.limit,
        "description": block.description,
        "read_only": int(block.read_only),
        "metadata": dumps(block.metadata),
        "version": block.version,
        "created_at": ts(block.created_at),
        "updated_at": ts(block.updated_at),
    }


class BlockQueries:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert(self, block: Block) -> None:
        await self._conn.execute(
            'INSERT INTO blocks (id, label, value, "limit", description, read_only, metadata, version,'
            " created_at, updated_at) VALUES (:id, :label, :value, :limit, :description, :read_only,"
            " :metadata, :version, :created_at, :updated_at)",
            _params(block),
        )

    async def link(self, agent_id: str, block: Block) -> None:
        """Attach ``block`` to ``agent_id`` under its label, after the agent's other blocks."""
        await self._conn.execute(
            "INSERT INTO agent_blocks (agent_id, block_id, label, position) VALUES (:agent_id, :block_id,"
            " :label, (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_blocks WHERE agent_id = :agent_id))",
            {"agent_id": agent_id, "block_id": block.id, "label": block.label},
        )

    async def for_agent(self, agent_id: str) -> list[Block]:
        async with self._conn.execute(
            "SELECT b.* FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id"
            " WHERE ab.agent_id = :agent_id ORDER BY ab.position",
            {"agent_id": agent_id},
        ) as cur:
            return [_block(row) for row in await cur.fetchall()]

    async def by_label(self, agent_id: str, label: str) -> Block | None:
        async with self._conn.execute(
            "SELECT b.* FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id"
            " WHERE ab.agent_id = :agent_id AND ab.label = :label",
            {"agent_id": agent_id, "label": label},
        ) as cur:
            row = await cur.fetchone()
        return _block(row) if row else None

    async def update(self, block: Block) -> None:
        """Write ``block``'s fields; the caller has already bumped ``version`` and ``updated_at``."""
        await self._conn.execute(
            'UPDATE blocks SET label = :label, value = :value, "limit" = :limit, description = :description,'
            " read_only = :read_only, metadata = :metadata, version = :version, updated_at = :updated_at"
            " WHERE id = :id",
            _params(block),
        )

    async def add_history(self, entry: BlockHistoryEntry) -> None:
        await self._conn.execute(
            'INSERT INTO block_history (id, block_id, version, label, value, "limit", description, actor,'
            " reason, created_at) VALUES (:id, :block_id, :version, :label, :value, :limit, :description,"
            " :actor, :reason, :created_at)",
            {**entry.model_dump(exclude={"created_at"}), "created_at": ts(entry.created_at)},
        )

    async def history(self, block_id: str, *, limit: int = 50) -> list[BlockHistoryEntry]:
        """Recorded versions of a block, newest first."""
        async with self._conn.execute(
            "SELECT * FROM block_history WHERE block_id = :block_id ORDER BY version DESC LIMIT :limit",
            {"block_id": block_id, "limit": limit},
        ) as cur:
            rows = await cur.fetchall()
        return [
            BlockHistoryEntry(
                id=r["id"],
                block_id=r["block_id"],
                version=r["version"],
                label=r["label"],
                value=r["value"],
                limit=r["limit"],
                description=r["description"],
                actor=r["actor"],
                reason=r["reason"],
                created_at=from_ts(r["created_at"]),
            )
            for r in rows
        ]

    async def delete_unlinked(self, block_ids: list[str]) -> None:
        """Delete those of ``block_ids`` that no agent links to any more (shared blocks survive)."""
        for block_id in block_ids:
            await self._conn.execute(
                "DELETE FROM blocks WHERE id = :id AND NOT EXISTS (SELECT 1 FROM agent_blocks WHERE block_id = :id)",
                {"id": block_id},
            )
