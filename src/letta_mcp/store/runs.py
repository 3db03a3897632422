"""Runs (one per send_message) and their steps (one per LLM call)."""

from __future__ import annotations

from letta_mcp.models import Role, Run, RunStatus, Step, StopReason, Usage, utcnow
from letta_mcp.store.codec import from_ts, ts
from letta_mcp.store.db import Db, Row


def _run(row: Row) -> Run:
    return Run(
        id=row["id"],
        agent_id=row["agent_id"],
        status=RunStatus(row["status"]),
        stop_reason=StopReason(row["stop_reason"]) if row["stop_reason"] else None,
        usage=Usage(
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            total_tokens=row["total_tokens"],
        ),
        step_count=row["step_count"],
        error=row["error"],
        input=row["input"],
        input_role=Role(row["input_role"] or "user"),
        background=bool(row["background"]),
        holder=row["holder"],
        cancel_requested=bool(row["cancel_requested"]),
        created_at=from_ts(row["created_at"]),
        completed_at=from_ts(row["completed_at"]),
        parent_run_id=row["parent_run_id"],
    )


def _step(row: Row) -> Step:
    return Step(
        id=row["id"],
        run_id=row["run_id"],
        agent_id=row["agent_id"],
        index=row["step_index"],
        model=row["model"],
        usage=Usage(
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            total_tokens=row["total_tokens"],
        ),
        finish_reason=row["finish_reason"],
        error=row["error"],
        created_at=from_ts(row["created_at"]),
    )


def _run_params(run: Run) -> dict[str, object]:
    return {
        "id": run.id,
        "agent_id": run.agent_id,
        "status": run.status.value,
        "stop_reason": run.stop_reason.value if run.stop_reason else None,
        "prompt_tokens": run.usage.prompt_tokens,
        "completion_tokens": run.usage.completion_tokens,
        "total_tokens": run.usage.total_tokens,
        "step_count": run.step_count,
        "error": run.error,
        "input": run.input,
        "input_role": run.input_role.value,
        "background": int(run.background),
        "holder": run.holder,
        "created_at": ts(run.created_at),
        "completed_at": ts(run.completed_at) if run.completed_at else None,
        "parent_run_id": run.parent_run_id,
    }


class RunQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def insert(self, run: Run) -> None:
        await self._db.defer(
            "INSERT INTO runs (id, agent_id, status, stop_reason, prompt_tokens, completion_tokens,"
            " total_tokens, step_count, error, input, input_role, background, holder, created_at, completed_at,"
            " parent_run_id) VALUES (:id, :agent_id, :status, :stop_reason, :prompt_tokens, :completion_tokens,"
            " :total_tokens, :step_count, :error, :input, :input_role, :background, :holder, :created_at,"
            " :completed_at, :parent_run_id)",
            _run_params(run),
        )

    async def update(self, run: Run) -> None:
        await self._db.defer(
            "UPDATE runs SET status = :status, stop_reason = :stop_reason, prompt_tokens = :prompt_tokens,"
            " completion_tokens = :completion_tokens, total_tokens = :total_tokens,"
            " step_count = :step_count, error = :error, holder = :holder, completed_at = :completed_at"
            " WHERE id = :id",
            _run_params(run),
        )

    async def ancestry(self, run_id: str, *, limit: int = 64) -> list[tuple[str, str]]:
        """(run id, agent id) of ``run_id`` and of each run that started it, nearest first."""
        return [
            (row[0], row[1])
            for row in await self._db.fetchall(
                "WITH RECURSIVE chain(id, agent_id, parent, depth) AS ("
                " SELECT id, agent_id, parent_run_id, 0 FROM runs WHERE id = :id"
                " UNION ALL SELECT r.id, r.agent_id, r.parent_run_id, chain.depth + 1 FROM runs r"
                " JOIN chain ON r.id = chain.parent WHERE chain.depth < :limit)"
                " SELECT id, agent_id FROM chain ORDER BY depth",
                {"id": run_id, "limit": limit},
            )
        ]

    async def get(self, run_id: str) -> Run | None:
        row = await self._db.fetchone("SELECT * FROM runs WHERE id = :id", {"id": run_id})
        return _run(row) if row else None

    async def for_agent(self, agent_id: str, *, status: RunStatus | None = None, limit: int = 20) -> list[Run]:
        """The agent's runs, newest first, optionally only those with ``status``."""
        where = "agent_id = :agent_id" + (" AND status = :status" if status else "")
        return [
            _run(row)
            for row in await self._db.fetchall(
                f"SELECT * FROM runs WHERE {where} ORDER BY created_at DESC LIMIT :limit",
                {"agent_id": agent_id, "status": status.value if status else None, "limit": limit},
            )
        ]

    async def insert_step(self, step: Step) -> None:
        await self._db.defer(
            "INSERT INTO steps (id, run_id, agent_id, step_index, model, prompt_tokens, completion_tokens,"
            " total_tokens, finish_reason, error, created_at) VALUES (:id, :run_id, :agent_id, :index,"
            " :model, :prompt_tokens, :completion_tokens, :total_tokens, :finish_reason, :error, :created_at)",
            {
                "id": step.id,
                "run_id": step.run_id,
                "agent_id": step.agent_id,
                "index": step.index,
                "model": step.model,
                "prompt_tokens": step.usage.prompt_tokens,
                "completion_tokens": step.usage.completion_tokens,
                "total_tokens": step.usage.total_tokens,
                "finish_reason": step.finish_reason,
                "error": step.error,
                "created_at": ts(step.created_at),
            },
        )

    async def steps(self, run_id: str) -> list[Step]:
        return [
            _step(row)
            for row in await self._db.fetchall(
                "SELECT * FROM steps WHERE run_id = :run_id ORDER BY step_index", {"run_id": run_id}
            )
        ]

    async def request_cancel(self, run_id: str) -> None:
        await self._db.execute("UPDATE runs SET cancel_requested = 1 WHERE id = :id", {"id": run_id})

    async def cancel_requested(self, run_id: str) -> bool:
        row = await self._db.fetchone("SELECT cancel_requested FROM runs WHERE id = :id", {"id": run_id})
        return bool(row and row[0])

    async def mark_interrupted(self, holders: list[str]) -> int:
        """Runs left ``created``/``running`` by the given (dead) processes; returns how many were marked.

        Runs with no holder predate leases; runs whose process left no row at all are orphans too.
        """
        params = {f"h{i}": h for i, h in enumerate(holders)}
        names = ", ".join(f":{k}" for k in params) or "NULL"
        return await self._db.execute(
            "UPDATE runs SET status = 'interrupted', error = 'The server process running this run stopped"
            " before it finished; the accepted message is kept (see input).', completed_at = :now"
            f" WHERE status IN ('created', 'running') AND (holder IS NULL OR holder IN ({names})"
            " OR holder NOT IN (SELECT holder FROM processes))",
            {**params, "now": ts(utcnow())},
        )
