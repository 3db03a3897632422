"""Agent templates: named configurations new agents start from."""

from __future__ import annotations

import sqlite3

import aiosqlite

from letta_mcp.models import BlockSpec, Template
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.errors import ConflictError


def _template(row: aiosqlite.Row) -> Template:
    return Template(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        system=row["system"],
        model=row["model"],
        tools=loads(row["tools"], []),
        tags=loads(row["tags"], []),
        blocks=[BlockSpec(**b) for b in loads(row["blocks"], [])],
        max_steps=row["max_steps"],
        created_at=from_ts(row["created_at"]),
    )


class TemplateQueries:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert(self, template: Template) -> None:
        try:
            await self._conn.execute(
                "INSERT INTO templates (id, name, description, system, model, tools, tags, blocks, max_steps,"
                " created_at) VALUES (:id, :name, :description, :system, :model, :tools, :tags, :blocks,"
                " :max_steps, :created_at)",
                {
                    "id": template.id,
                    "name": template.name,
                    "description": template.description,
                    "system": template.system,
                    "model": template.model,
                    "tools": dumps(template.tools),
                    "tags": dumps(template.tags),
                    "blocks": dumps([b.model_dump() for b in template.blocks]),
                    "max_steps": template.max_steps,
                    "created_at": ts(template.created_at),
                },
            )
        except sqlite3.IntegrityError as e:
            raise ConflictError(f"A template named {template.name!r} already exists.") from e

    async def get(self, id_or_name: str) -> Template | None:
        async with self._conn.execute(
            "SELECT * FROM templates WHERE id = :key OR name = :key", {"key": id_or_name}
        ) as cur:
            row = await cur.fetchone()
        return _template(row) if row else None

    async def list(self) -> list[Template]:
        async with self._conn.execute("SELECT * FROM templates ORDER BY name") as cur:
            return [_template(row) for row in await cur.fetchall()]
