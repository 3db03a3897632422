"""Messages: every message an agent ever saw (recall memory), with in-context membership per row.

Per-step work must not grow with history length, so every query an agent step runs is bounded by
an index: the next ``seq`` comes from the ``(agent_id, seq)`` unique index, the context window from
the partial ``in_context`` index. Only search and paging touch the long tail.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from letta_mcp.models import Message, Role, ToolCall
from letta_mcp.store.codec import dumps, from_ts, loads, ts
from letta_mcp.store.db import Db, Dialect, Row
from letta_mcp.store.pg_migrations.m0001_initial import MESSAGE_SEARCH_TEXT

_WORD = re.compile(r"\w+", re.UNICODE)
SEARCH_POOL = 200
"""Best full-text matches considered per search (with their neighbours)."""
NEIGHBOURS = 2
NEIGHBOUR_WEIGHT = 0.8
"""Messages each side whose match counts for a message, and how much (archival's context column:
LoCoMo dev recall@10 0.637 → 0.724 with two neighbours, weight 0.8)."""


def _message(row: Row) -> Message:
    # Rows were validated when written; skipping validation keeps loading a context window cheap
    # (this runs for every in-context message on every step).
    return Message.model_construct(
        id=row["id"],
        agent_id=row["agent_id"],
        seq=row["seq"],
        role=Role(row["role"]),
        content=row["content"],
        reasoning=row["reasoning"],
        tool_calls=[ToolCall.model_construct(**tc) for tc in loads(row["tool_calls"], [])],
        tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"],
        run_id=row["run_id"],
        step_id=row["step_id"],
        in_context=bool(row["in_context"]),
        kind=row["kind"],
        tokens=row["tokens"],
        created_at=from_ts(row["created_at"]),
    )


def _params(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "agent_id": m.agent_id,
        "seq": m.seq,
        "role": m.role.value,
        "content": m.content,
        "reasoning": m.reasoning,
        "tool_calls": dumps([tc.model_dump() for tc in m.tool_calls]) if m.tool_calls else None,
        "tool_call_id": m.tool_call_id,
        "tool_name": m.tool_name,
        "run_id": m.run_id,
        "step_id": m.step_id,
        "in_context": int(m.in_context),
        "kind": m.kind,
        "tokens": m.tokens,
        "created_at": ts(m.created_at),
    }


def fts_query(text: str, dialect: Dialect = "sqlite") -> str | None:
    """A full-text query matching any word of ``text``: FTS5's (each word quoted, so no FTS syntax
    leaks through) or PostgreSQL's ``to_tsquery`` text (words are letters and digits only)."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    if dialect == "postgresql":
        return " | ".join(dict.fromkeys(words))
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class MessageQueries:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def next_seq(self, agent_id: str) -> int:
        row = await self._db.fetchone(
            "SELECT MAX(seq) FROM messages WHERE agent_id = :agent_id", {"agent_id": agent_id}
        )
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    async def insert(self, messages: list[Message]) -> None:
        await self._db.defer_many(
            "INSERT INTO messages (id, agent_id, seq, role, content, reasoning, tool_calls, tool_call_id,"
            " tool_name, run_id, step_id, in_context, kind, tokens, created_at) VALUES (:id, :agent_id, :seq,"
            " :role, :content, :reasoning, :tool_calls, :tool_call_id, :tool_name, :run_id, :step_id,"
            " :in_context, :kind, :tokens, :created_at)",
            [_params(m) for m in messages],
        )

    async def update_content(self, message_id: str, content: str, tokens: int | None = None) -> None:
        await self._db.execute(
            "UPDATE messages SET content = :content, tokens = :tokens WHERE id = :id",
            {"id": message_id, "content": content, "tokens": tokens},
        )

    async def set_in_context(self, message_ids: list[str], in_context: bool) -> None:
        await self._db.executemany(
            "UPDATE messages SET in_context = :flag WHERE id = :id",
            [{"id": mid, "flag": int(in_context)} for mid in message_ids],
        )

    async def in_context(self, agent_id: str) -> list[Message]:
        """The context window in the order the model reads it."""
        return [
            _message(row)
            for row in await self._db.fetchall(
                # The system message first, then the compaction summary (written later, so with a
                # higher seq), then the conversation in order.
                "SELECT * FROM messages WHERE agent_id = :agent_id AND in_context = 1"
                " ORDER BY seq = 0 DESC, COALESCE(kind, '') = 'summary' DESC, seq",
                {"agent_id": agent_id},
            )
        ]

    async def system_message(self, agent_id: str) -> Message | None:
        row = await self._db.fetchone(
            "SELECT * FROM messages WHERE agent_id = :agent_id AND seq = 0", {"agent_id": agent_id}
        )
        return _message(row) if row else None

    async def system_and_stamp(self, agent_id: str) -> tuple[Message | None, tuple[int, int]]:
        """The system message, and (highest seq, count) of the in-context messages after it: one
        statement, as every step reads both.

        Only the system message is ever rewritten in place; every other change to the window appends
        a message or evicts some (and a compaction also appends its summary), so this pair, read
        from the partial index alone, tells whether a cached window is still current.
        """
        row = await self._db.fetchone(
            "SELECT m.*, s.top AS stamp_top, s.n AS stamp_count FROM (SELECT COALESCE(MAX(seq), 0) AS top,"
            " COUNT(*) AS n FROM messages WHERE agent_id = :agent_id AND in_context = 1 AND seq > 0) s"
            " LEFT JOIN messages m ON m.agent_id = :agent_id AND m.seq = 0",
            {"agent_id": agent_id},
        )
        if row is None:  # the aggregate always yields a row; this keeps the type checker honest
            return None, (0, 0)
        return (_message(row) if row["id"] is not None else None), (int(row["stamp_top"]), int(row["stamp_count"]))

    async def in_context_after(self, agent_id: str, seq: int) -> list[Message]:
        """In-context messages newer than ``seq``, in seq order (an incremental window update)."""
        return [
            _message(row)
            for row in await self._db.fetchall(
                "SELECT * FROM messages WHERE agent_id = :agent_id AND in_context = 1 AND seq > :seq ORDER BY seq",
                {"agent_id": agent_id, "seq": seq},
            )
        ]

    async def for_run(self, run_id: str) -> list[Message]:
        """Messages a run added, in order (the run index keeps this cheap)."""
        return [
            _message(row)
            for row in await self._db.fetchall(
                "SELECT * FROM messages WHERE run_id = :run_id ORDER BY seq", {"run_id": run_id}
            )
        ]

    async def counts(self, agent_id: str) -> tuple[int, int]:
        """(messages in history, messages in context), both index-bounded."""
        total = await self.next_seq(agent_id)
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM messages WHERE agent_id = :agent_id AND in_context = 1",
            {"agent_id": agent_id},
        )
        return total, int(row[0]) if row else 0

    async def tail(self, agent_id: str, *, limit: int) -> list[Message]:
        """The agent's newest message that is not a tool result, and the tool results after it,
        newest first (at most ``limit``): what a turn checks for calls left unanswered. Usually
        one row; both lookups walk the ``(agent_id, seq)`` index back from its end."""
        return [
            _message(row)
            for row in await self._db.fetchall(
                "SELECT * FROM messages WHERE agent_id = :agent_id AND seq >= COALESCE((SELECT seq FROM messages"
                " WHERE agent_id = :agent_id AND role != 'tool' ORDER BY seq DESC LIMIT 1), 0)"
                " ORDER BY seq DESC LIMIT :limit",
                {"agent_id": agent_id, "limit": limit},
            )
        ]

    async def page(
        self,
        agent_id: str,
        *,
        before_seq: int | None = None,
        after_seq: int | None = None,
        roles: list[Role] | None = None,
        limit: int = 50,
        newest_first: bool = True,
    ) -> list[Message]:
        """One page of history, ordered by ``seq``; cursors are exclusive."""
        where = ["agent_id = :agent_id"]
        params: dict[str, Any] = {"agent_id": agent_id, "limit": limit}
        if before_seq is not None:
            where.append("seq < :before")
            params["before"] = before_seq
        if after_seq is not None:
            where.append("seq > :after")
            params["after"] = after_seq
        if roles:
            where.append(_in_clause("role", [r.value for r in roles], params))
        order = "DESC" if newest_first else "ASC"
        return [
            _message(row)
            for row in await self._db.fetchall(
                f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT :limit", params
            )
        ]

    async def search(
        self,
        agent_id: str,
        *,
        query: str | None,
        roles: list[Role],
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 10,
    ) -> list[Message]:
        """Messages matching any word of ``query`` (best first), or the newest when no query.

        A message's score is its own BM25 plus `NEIGHBOUR_WEIGHT` × the best of the `NEIGHBOURS`
        messages said just before and after it: the answer to a question rarely
        repeats its words, the question said just before it does. Only messages with text are
        candidates; date bounds are inclusive, on ``created_at``; neighbours count whatever their
        role or date.
        """
        params: dict[str, Any] = {"agent_id": agent_id, "limit": limit}
        where = ["m.agent_id = :agent_id", "m.content IS NOT NULL", "m.content != ''"]
        where.append(_in_clause("m.role", [r.value for r in roles], params))
        if start is not None:
            where.append("m.created_at >= :start")
            params["start"] = ts(start)
        if end is not None:
            where.append("m.created_at <= :end")
            params["end"] = ts(end)
        match = fts_query(query or "", self._db.dialect)
        if match is None:
            sql = f"SELECT m.* FROM messages m WHERE {' AND '.join(where)} ORDER BY m.seq DESC LIMIT :limit"
            return [_message(row) for row in await self._db.fetchall(sql, params)]
        scores = await self._scores_with_neighbours(agent_id, match)
        if not scores:
            return []
        params.update({f"seq_{i}": seq for i, seq in enumerate(scores)})
        where.append(f"m.seq IN ({', '.join(f':seq_{i}' for i in range(len(scores)))})")
        found = [
            _message(row)
            for row in await self._db.fetchall(f"SELECT m.* FROM messages m WHERE {' AND '.join(where)}", params)
        ]
        found.sort(key=lambda m: (-scores[m.seq], -m.seq))
        return found[:limit]

    async def _scores_with_neighbours(self, agent_id: str, match: str) -> dict[int, float]:
        """Scores by ``seq`` of the `SEARCH_POOL` best matches and their conversation neighbours."""
        said = "x.agent_id = :agent_id AND x.role IN ('user', 'assistant') AND x.content != ''"  # as `Role`
        before = [
            f"(SELECT x.seq FROM messages x WHERE {said} AND x.seq < h.seq ORDER BY x.seq DESC LIMIT 1 OFFSET {k})"
            for k in range(NEIGHBOURS)
        ]
        after = [
            f"(SELECT x.seq FROM messages x WHERE {said} AND x.seq > h.seq ORDER BY x.seq LIMIT 1 OFFSET {k})"
            for k in range(NEIGHBOURS)
        ]
        # The best matches: FTS5's BM25 on SQLite, ts_rank over the same stemmed text on PostgreSQL.
        hits = {
            "sqlite": "SELECT m.seq AS seq, m.role AS role, -bm25(messages_fts) AS score"
            " FROM messages_fts f JOIN messages m ON m.rowid = f.rowid"
            " WHERE messages_fts MATCH :match AND m.agent_id = :agent_id AND m.content != ''"
            " ORDER BY bm25(messages_fts) LIMIT :pool",
            "postgresql": f"SELECT m.seq AS seq, m.role AS role, ts_rank({MESSAGE_SEARCH_TEXT}, q) AS score"
            " FROM messages m, to_tsquery('english', :match) q"
            f" WHERE {MESSAGE_SEARCH_TEXT} @@ q AND m.agent_id = :agent_id AND m.content != ''"
            " ORDER BY score DESC LIMIT :pool",
        }[self._db.dialect]
        sql = f"WITH h AS ({hits}) SELECT {', '.join(['h.seq', 'h.score', 'h.role', *before, *after])} FROM h"
        rows = await self._db.fetchall(sql, {"agent_id": agent_id, "match": match, "pool": SEARCH_POOL})
        own = {seq: score for seq, score, *_ in rows}
        # The best neighbour counts, not the sum: a message between two matches must not outrank them.
        # Only what was said lends context (a system prompt or a tool result is not part of the talk).
        context: dict[int, float] = {}
        for _, score, role, *neighbours in rows:
            if role not in (Role.user.value, Role.assistant.value):
                continue
            for other in neighbours:
                if other is not None:
                    context[other] = max(context.get(other, 0.0), score)
        return {seq: own.get(seq, 0.0) + NEIGHBOUR_WEIGHT * context.get(seq, 0.0) for seq in own.keys() | context}


def _in_clause(column: str, values: list[str], params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        key = f"{column.replace('.', '_')}_{i}"
        params[key] = value
        names.append(f":{key}")
    return f"{column} IN ({', '.join(names)})" if names else "1 = 0"
