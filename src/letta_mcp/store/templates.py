"""Agent templates: named configurations new agents start from."""

from __future__ import annotations

from letta_mcp.models import BlockSpec, Template
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Row
from letta_mcp.store.errors import ConflictError, IntegrityError


def _template(row: Row) -> Template:
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
        owner=row["owner"],
        created_at=from_ts(row["created_at"]),
    )


class TemplateQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, template: Template) -> None:
        try:
            await self._db.execute(
                "INSERT INTO templates (id, owner, name, description, system, model, tools, tags, blocks,"
                " max_steps, created_at) VALUES (:id, :owner, :name, :description, :system, :model, :tools,"
                " :tags, :blocks, :max_steps, :created_at)",
                {
                    "id": template.id,
                    "owner": template.owner,
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
        except IntegrityError as e:
            raise ConflictError(f"A template named {template.name!r} already exists.") from e

    async def get(
        self, id_or_name: str, *, owner: str | None = None, prefer_owner: str | None = None
    ) -> Template | None:
        """The template with this id or name, among ``owner``'s (everyone's if None). Names are unique
        per owner only, so when several owners' match, ``prefer_owner``'s wins, then the oldest."""
        row = await self._db.fetchone(
            "SELECT * FROM templates WHERE (id = :key OR name = :key) AND (owner = :owner OR :owner IS NULL)"
            " ORDER BY id = :key DESC, owner = :prefer DESC, created_at LIMIT 1",
            {"key": id_or_name, "owner": owner, "prefer": prefer_owner},
        )
        return _template(row) if row else None

    async def list(self, *, owner: str | None = None) -> list[Template]:
        """Templates by name, only ``owner``'s unless it is None."""
        return [
            _template(row)
            for row in await self._db.fetchall(
                "SELECT * FROM templates WHERE owner = :owner OR :owner IS NULL ORDER BY name, owner", {"owner": owner}
            )
        ]
