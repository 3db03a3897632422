"""MCP tools for the conversation: send a message, page through history, search it."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import InputRequiredResult, ToolAnnotations
from pydantic import Field

from letta_mcp.models import Role
from letta_mcp.server.approvals import answered, ask_by_retry, settle_approvals
from letta_mcp.server.client_model import client_model
from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import (
    MAX_POSITION,
    AgentId,
    DateBound,
    MessagePage,
    SearchResult,
    SearchResults,
    SendMessageResult,
    date_bound,
    expand_all,
)
from letta_mcp.service import AgentService, TurnResult, lending

RoleName = Literal["user", "assistant", "tool", "system"]


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Send message", destructiveHint=False, openWorldHint=True))
    @tool_errors
    async def send_message(
        agent_id: AgentId,
        message: Annotated[
            str,
            Field(min_length=1, max_length=1_000_000, description="Only the new message; the agent keeps the rest."),
        ],
        role: Annotated[
            Literal["user", "system"], Field(description="'system': a notice from the application, not the user.")
        ] = "user",
        max_steps: Annotated[int | None, Field(ge=1, le=1000, description="Cap on LLM calls for this turn.")] = None,
        background: Annotated[bool, Field(description="Return at once; get_run gives the reply.")] = False,
        ctx: Context | None = None,
    ) -> SendMessageResult | InputRequiredResult:
        """Send a new message to an agent; show its `reply` to the user. Messages to one agent run
        one at a time, in order."""

        async def progress(step: int, max_steps: int) -> None:
            if ctx is not None:
                await ctx.report_progress(step, max_steps, message=f"step {step} done")

        async def decide(run_id: str, approve: bool, reason: str | None) -> TurnResult:
            return await service.approve_run(run_id, approve=approve, reason=reason)

        # An agent with model 'client' thinks with this caller's model, for as long as this call lasts.
        with lending(client_model(ctx)):
            # A retry carrying the user's answer to an approval question goes on with that run.
            result = await answered(ctx, service, agent_id, decide)
            if result is None:
                result = await service.send_message(
                    agent_id,
                    message,
                    role=Role(role),
                    max_steps=max_steps,
                    background=background,
                    on_step=None if background else progress,
                )
            result = await settle_approvals(ctx, result, decide)
        return ask_by_retry(ctx, result) or SendMessageResult.of(result.run, result.messages, result.reply)

    @mcp.tool(annotations=ToolAnnotations(title="List messages", readOnlyHint=True))
    @tool_errors
    async def list_messages(
        agent_id: AgentId,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
        before: Annotated[
            int | None, Field(ge=0, le=MAX_POSITION, description="seq below (next_cursor if desc).")
        ] = None,
        after: Annotated[
            int | None, Field(ge=-1, le=MAX_POSITION, description="seq above (next_cursor if asc).")
        ] = None,
        order: Annotated[Literal["desc", "asc"], Field(description="'desc': newest first.")] = "desc",
        roles: Annotated[list[RoleName] | None, Field(max_length=4)] = None,
    ) -> MessagePage:
        """Page through an agent's whole history (also messages out of its context)."""
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
        query: Annotated[str | None, Field(max_length=2000, description="Any of these words (omit: newest).")] = None,
        roles: Annotated[list[RoleName] | None, Field(max_length=4, description="Default: user, assistant.")] = None,
        start_date: DateBound = None,
        end_date: Annotated[DateBound, Field(description="A date includes that day.")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
    ) -> SearchResults:
        """Search an agent's whole history by its words (and by meaning too when an embedder is set)."""
        found = await service.search_messages(
            agent_id,
            query=query,
            roles=[Role(r) for r in roles] if roles else None,
            start=date_bound(start_date, end=False),
            end=date_bound(end_date, end=True),
            limit=limit,
        )
        return SearchResults(results=[SearchResult.model_validate(m) for m in found])
