"""Ownership across tables: moving everything one principal owns to another.

Agents, templates, blocks and archives carry an ``owner``; messages and runs follow their agent.
"""

from __future__ import annotations

import aiosqlite

# Every table with an owner column (a constant list: the names are interpolated into SQL).
OWNED_TABLES = ("agents", "templates", "blocks", "archives")


class OwnerQueries:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def template_clashes(self, old: str, new: str) -> list[str]:
        """Names of ``old``'s templates that ``new`` already has (template names are unique per owner)."""
        sql = (
            "SELECT t.name FROM templates t JOIN templates u ON u.name = t.name AND u.owner = :new"
            " WHERE t.owner = :old ORDER BY t.name"
        )
        async with self.conn.execute(sql, {"old": old, "new": new}) as cur:
            return [row[0] for row in await cur.fetchall()]

    async def reassign(self, old: str, new: str) -> dict[str, int]:
        """Give everything ``old`` owns to ``new``; the rows moved, by table."""
        moved: dict[str, int] = {}
        for table in OWNED_TABLES:
            cur = await self.conn.execute(
                f"UPDATE {table} SET owner = :new WHERE owner = :old", {"old": old, "new": new}
            )
            moved[table] = cur.rowcount
        return moved
