"""Memory blocks, their links to agents, and their version history."""

from __future__ import annotations

from typing import Any

from letta_mcp.models import Block, BlockHistoryEntry
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Row


def _block(row: Row) -> Block:
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
        owner=row["owner"],
        standalone=bool(row["standalone"]),
    )


def _history(row: Row) -> BlockHistoryEntry:
    return BlockHistoryEntry(
        id=row["id"],
        block_id=row["block_id"],
        version=row["version"],
        label=row["label"],
        value=row["value"],
        limit=row["limit"],
        description=row["description"],
        actor=row["actor"],
        reason=row["reason"],
        created_at=from_ts(row["created_at"]),
        run_id=row["run_id"],
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
        "owner": block.owner,
        "standalone": int(block.standalone),
    }


class BlockQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, block: Block) -> None:
        await self._db.execute(
            'INSERT INTO blocks (id, label, value, "limit", description, read_only, metadata, version,'
            " created_at, updated_at, owner, standalone) VALUES (:id, :label, :value, :limit, :description,"
            " :read_only, :metadata, :version, :created_at, :updated_at, :owner, :standalone)",
            _params(block),
        )

    async def link(self, agent_id: str, block: Block) -> None:
        """Attach ``block`` to ``agent_id`` under its label, after the agent's other blocks.

        A block inserted without an owner takes the owner of the first agent it is attached to."""
        params = {"agent_id": agent_id, "block_id": block.id, "label": block.label}
        await self._db.execute(
            "INSERT INTO agent_blocks (agent_id, block_id, label, position) VALUES (:agent_id, :block_id,"
            " :label, (SELECT COALESCE(MAX(position), -1) + 1 FROM agent_blocks WHERE agent_id = :agent_id))",
            params,
        )
        await self._db.execute(
            "UPDATE blocks SET owner = (SELECT owner FROM agents WHERE id = :agent_id)"
            " WHERE id = :block_id AND owner IS NULL",
            params,
        )

    async def unlink(self, agent_id: str, block_id: str) -> None:
        await self._db.execute(
            "DELETE FROM agent_blocks WHERE agent_id = :agent_id AND block_id = :block_id",
            {"agent_id": agent_id, "block_id": block_id},
        )

    async def get(self, block_id: str) -> Block | None:
        row = await self._db.fetchone("SELECT * FROM blocks WHERE id = :id", {"id": block_id})
        return _block(row) if row else None

    async def attached_agents(self, block_id: str) -> list[str]:
        """Ids of the agents ``block_id`` is attached to, in id order."""
        return [
            row[0]
            for row in await self._db.fetchall(
                "SELECT agent_id FROM agent_blocks WHERE block_id = :id ORDER BY agent_id", {"id": block_id}
            )
        ]

    async def attachments(self, block_ids: list[str]) -> dict[str, list[str]]:
        """Block id → ids of the agents it is attached to, for each of ``block_ids``."""
        found: dict[str, list[str]] = {block_id: [] for block_id in block_ids}
        if not block_ids:
            return found
        marks = ", ".join(f":b{i}" for i in range(len(block_ids)))
        for row in await self._db.fetchall(
            f"SELECT block_id, agent_id FROM agent_blocks WHERE block_id IN ({marks}) ORDER BY agent_id",
            {f"b{i}": block_id for i, block_id in enumerate(block_ids)},
        ):
            found[row[0]].append(row[1])
        return found

    async def owned(
        self, *, owner: str | None, label: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[Block]:
        """Blocks of ``owner`` (everyone's when None), optionally with one label, oldest first."""
        return [
            _block(row)
            for row in await self._db.fetchall(
                "SELECT * FROM blocks WHERE (owner = :owner OR :owner IS NULL) AND (label = :label OR :label IS NULL)"
                " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
                {"owner": owner, "label": label, "limit": limit, "offset": offset},
            )
        ]

    async def version(self, block_id: str, version: int) -> BlockHistoryEntry | None:
        row = await self._db.fetchone(
            "SELECT * FROM block_history WHERE block_id = :block_id AND version = :version",
            {"block_id": block_id, "version": version},
        )
        return _history(row) if row else None

    async def delete(self, block_id: str) -> None:
        """Delete the block, its attachments and its history."""
        await self._db.execute("DELETE FROM blocks WHERE id = :id", {"id": block_id})

    async def for_agent(self, agent_id: str) -> list[Block]:
        return [
            _block(row)
            for row in await self._db.fetchall(
                "SELECT b.* FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id"
                " WHERE ab.agent_id = :agent_id ORDER BY ab.position",
                {"agent_id": agent_id},
            )
        ]

    async def by_label(self, agent_id: str, label: str) -> Block | None:
        row = await self._db.fetchone(
            "SELECT b.* FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id"
            " WHERE ab.agent_id = :agent_id AND ab.label = :label",
            {"agent_id": agent_id, "label": label},
        )
        return _block(row) if row else None

    async def update(self, block: Block) -> None:
        """Write ``block``'s fields; the caller has already bumped ``version`` and ``updated_at``."""
        await self._db.execute(
            'UPDATE blocks SET label = :label, value = :value, "limit" = :limit, description = :description,'
            " read_only = :read_only, metadata = :metadata, version = :version, updated_at = :updated_at"
            " WHERE id = :id",
            _params(block),
        )

    async def add_history(self, entry: BlockHistoryEntry) -> None:
        await self._db.execute(
            'INSERT INTO block_history (id, block_id, version, label, value, "limit", description, actor,'
            " reason, created_at, run_id) VALUES (:id, :block_id, :version, :label, :value, :limit,"
            " :description, :actor, :reason, :created_at, :run_id)",
            {**entry.model_dump(exclude={"created_at"}), "created_at": ts(entry.created_at)},
        )

    async def history(
        self, block_id: str, *, limit: int = 50, before_version: int | None = None
    ) -> list[BlockHistoryEntry]:
        """Recorded versions of a block, newest first (older than ``before_version`` when given)."""
        return [
            _history(row)
            for row in await self._db.fetchall(
                "SELECT * FROM block_history WHERE block_id = :block_id"
                " AND (version < :before OR :before IS NULL) ORDER BY version DESC LIMIT :limit",
                {"block_id": block_id, "limit": limit, "before": before_version},
            )
        ]

    async def delete_unlinked(self, block_ids: list[str]) -> None:
        """Delete those of ``block_ids`` that no agent links to any more and that were made with an
        agent (shared blocks and standalone ones survive)."""
        for block_id in block_ids:
            await self._db.execute(
                "DELETE FROM blocks WHERE id = :id AND standalone = 0"
                " AND NOT EXISTS (SELECT 1 FROM agent_blocks WHERE block_id = :id)",
                {"id": block_id},
            )
