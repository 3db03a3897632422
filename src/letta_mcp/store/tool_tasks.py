"""Tool calls run as MCP tasks (``tool_tasks``, migration 13): written once the call outlasts the task
threshold, finished with the tool's answer; a ``working`` task whose process is gone reads ``interrupted``."""

from __future__ import annotations

from datetime import datetime

from letta_mcp.models import ToolTask, ToolTaskStatus
from letta_mcp.store.codec import from_ts, ts
from letta_mcp.store.db import Db, Row


def _tool_task(row: Row) -> ToolTask:
    status = ToolTaskStatus(row["status"])
    if status is ToolTaskStatus.working and not row["alive"]:
        status = ToolTaskStatus.interrupted  # its process stopped (or was swept as dead) before it finished
    return ToolTask(
        id=row["id"],
        owner=row["owner"],
        tool=row["tool"],
        status=status,
        result=row["result"],
        error=row["error"],
        holder=row["holder"],
        created_at=from_ts(row["created_at"]),
        updated_at=from_ts(row["updated_at"]),
    )


class ToolTaskQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, task: ToolTask) -> None:
        await self._db.execute(
            "INSERT INTO tool_tasks (id, owner, tool, status, result, error, holder, created_at, updated_at)"
            " VALUES (:id, :owner, :tool, :status, :result, :error, :holder, :created_at, :updated_at)",
            {
                **task.model_dump(include={"id", "owner", "tool", "result", "error", "holder"}),
                "status": task.status.value,
                "created_at": ts(task.created_at),
                "updated_at": ts(task.updated_at),
            },
        )

    async def finish(
        self, task_id: str, status: ToolTaskStatus, *, result: str | None, error: str | None, at: datetime
    ) -> None:
        await self._db.execute(
            "UPDATE tool_tasks SET status = :status, result = :result, error = :error, updated_at = :at"
            " WHERE id = :id AND status = 'working'",
            {"id": task_id, "status": status.value, "result": result, "error": error, "at": ts(at)},
        )

    async def get(self, task_id: str) -> ToolTask | None:
        row = await self._db.fetchone(
            "SELECT t.*, EXISTS (SELECT 1 FROM processes p WHERE p.holder = t.holder) AS alive"
            " FROM tool_tasks t WHERE t.id = :id",
            {"id": task_id},
        )
        return _tool_task(row) if row else None
