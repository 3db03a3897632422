"""Ownership across tables: moving everything one principal owns to another.

Agents, templates, blocks and archives carry an ``owner``; messages and runs follow their agent.
"""

from __future__ import annotations

from letta_mcp.store.db import Db

# Every table with an owner column (a constant list: the names are interpolated into SQL).
OWNED_TABLES = ("agents", "templates", "blocks", "archives")


class OwnerQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def template_clashes(self, old: str, new: str) -> list[str]:
        """Names of ``old``'s templates that ``new`` already has (template names are unique per owner)."""
        sql = (
            "SELECT t.name FROM templates t JOIN templates u ON u.name = t.name AND u.owner = :new"
            " WHERE t.owner = :old ORDER BY t.name"
        )
        return [row[0] for row in await self._db.fetchall(sql, {"old": old, "new": new})]

    async def reassign(self, old: str, new: str) -> dict[str, int]:
        """Give everything ``old`` owns to ``new``; the rows moved, by table."""
        moved: dict[str, int] = {}
        for table in OWNED_TABLES:
            moved[table] = await self._db.execute(
                f"UPDATE {table} SET owner = :new WHERE owner = :old", {"old": old, "new": new}
            )
        return moved
