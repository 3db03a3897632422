"""Browsing for people (the web inspector): agent listings with activity, block version history.

Everything here is paged and index-bounded, so a data directory with 10,000 agents or a
100,000-message history answers as fast as a small one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from letta_mcp.models import Agent
from letta_mcp.service.access import current_principal
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.errors import InvalidRequestError
from letta_mcp.store.agents import AgentSort

MAX_PAGE = 200
MAX_QUERY_CHARS = 200
AGENT_SORTS: tuple[AgentSort, ...] = ("name", "model", "tags", "messages", "last_active", "created")


@dataclass(frozen=True)
class AgentSummary:
    agent: Agent
    messages_in_history: int
    last_active: datetime | None  # when the newest message was written (None: no message yet)


@dataclass(frozen=True)
class AgentPage:
    agents: list[AgentSummary]
    total: int  # agents matching the query, over all pages


class BrowseMixin(ServiceBase):
    async def agent_summaries(
        self,
        *,
        query: str | None = None,
        sort: AgentSort = "last_active",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> AgentPage:
        """The acting principal's agents matching ``query`` (name, model or tag substring, or exact
        id), sorted by ``sort``, one page at a time."""
        if sort not in AGENT_SORTS:
            raise InvalidRequestError(f"sort must be one of {', '.join(AGENT_SORTS)}; got {sort!r}.")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}; got {limit}.")
        if not 0 <= offset <= 10_000_000:
            raise InvalidRequestError(f"offset must be between 0 and 10000000; got {offset}.")
        if query is not None and len(query) > MAX_QUERY_CHARS:
            raise InvalidRequestError(f"The search text is over {MAX_QUERY_CHARS} characters; shorten it.")
        async with self.store.read() as q:
            rows, total = await q.agents.summaries(
                owner=current_principal().owner_filter,
                query=query.strip() if query else None,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
            )
        return AgentPage([AgentSummary(agent, count, last) for agent, count, last in rows], total)
