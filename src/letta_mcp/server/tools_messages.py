"""MCP tools for the conversation: send a message, page through history, search it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BeforeValidator, Field

from letta_mcp.models import Role
from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import (
    AgentId,
    MessagePage,
    SearchResult,
    SearchResults,
    SendMessageResult,
    expand_all,
)
from letta_mcp.service import AgentService

RoleName = Literal["user", "assistant", "tool", "system"]


def _bare_date(value: object) -> object:
    """Keep 'YYYY-MM-DD' a date: pydantic would read it as midnight, losing "the whole day" for end_date."""
    return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else value


DateBound = Annotated[datetime | date | None, BeforeValidator(_bare_date)]


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Send message", destructiveHint=False, openWorldHint=True))
    @tool_errors
    async def send_message(
        agent_id: AgentId,
        message: Annotated[
            str,
            Field(
                min_length=1, max_length=1_000_000, description="Only the new message; the agent remembers the rest."
            ),
        ],
        role: Annotated[
            Literal["user", "system"],
            Field(description="'user' for a message from the user; 'system' for a notice from the application."),
        ] = "user",
        max_steps: Annotated[int | None, Field(ge=1, le=1000, description="Cap on LLM calls for this turn.")] = None,
        background: Annotated[
            bool,
            Field(description="Return at once with run_id (status 'created') and let the agent work on; "
                  "poll get_run for the reply."),
        ] = False,
        ctx: Context | None = None,
    ) -> SendMessageResult:
        """Send a new message to an agent and get its reply.

        Send only the new message: the agent keeps its whole conversation and memory itself. It may
        think, edit its memory and search its history before answering; `messages` shows those steps
        and `reply` is the answer to show the user. Messages to one agent are handled one at a time,
        in order. If you hang up, the agent still finishes; get_run(run_id) shows the outcome.
        """

        async def progress(step: int, max_steps: int) -> None:
            if ctx is not None:
                await ctx.report_progress(step, max_steps, message=f"step {step} done")

        result = await service.send_message(
            agent_id, message, role=Role(role), max_steps=max_steps, background=background,
            on_step=None if background else progress,
        )
        return SendMessageResult.of(result.run, result.messages, result.reply)

    @mcp.tool(annotations=ToolAnnotations(title="List messages", readOnlyHint=True))
    @tool_errors
    async def list_messages(
        agent_id: AgentId,
        limit: Annotated[int, Field(ge=1, le=200, description="Messages per page.")] = 20,
        before: Annotated[
            int | None,
            Field(
                ge=0, description="Only messages with seq lower than this (cursor from next_cursor when order='desc')."
            ),
        ] = None,
        after: Annotated[
            int | None,
            Field(
                ge=-1, description="Only messages with seq higher than this (cursor from next_cursor when order='asc')."
            ),
        ] = None,
        order: Annotated[Literal["desc", "asc"], Field(description="'desc': newest first.")] = "desc",
        roles: Annotated[list[RoleName] | None, Field(description="Only these roles.")] = None,
    ) -> MessagePage:
        """Page through an agent's complete message history (every message ever, also those no longer
        in its context window)."""
        page = await service.list_messages(
            agent_id,
            before_seq=before,
            after_seq=after,
            roles=[Role(r) for r in roles] if roles else None,
            limit=limit,
            newest_first=order == "desc",
        )
        return MessagePage(messages=expand_all(page), next_cursor=page[-1].seq if len(page) == limit else None)

    @mcp.tool(annotations=ToolAnnotations(title="Search messages", readOnlyHint=True))
    @tool_errors
    async def search_messages(
        agent_id: AgentId,
        query: Annotated[
            str | None,
            Field(
                max_length=2000,
                description="Words to look for (any of them; best matches first). Omit to get the newest messages.",
            ),
        ] = None,
        roles: Annotated[list[RoleName] | None, Field(description="Default: user and assistant.")] = None,
        start_date: Annotated[DateBound, Field(description="Earliest, e.g. '2024-05-01'.")] = None,
        end_date: Annotated[DateBound, Field(description="Latest (a date includes that whole day).")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
    ) -> SearchResults:
        """Full-text search over an agent's whole conversation history, with role and date filters."""
        found = await service.search_messages(
            agent_id,
            query=query,
            roles=[Role(r) for r in roles] if roles else None,
            start=_bound(start_date, end=False),
            end=_bound(end_date, end=True),
            limit=limit,
        )
        return SearchResults(
            results=[
                SearchResult(id=m.id, seq=m.seq, role=m.role.value, content=m.content, date=m.created_at) for m in found
            ]
        )


def _bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.max if end else time.min)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
