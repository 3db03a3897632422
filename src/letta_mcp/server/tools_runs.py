"""MCP tools and resource for runs: poll, list and cancel turns (background ones especially)."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from letta_mcp.models import RunStatus
from letta_mcp.server.client_model import client_model
from letta_mcp.server.errors import resource_errors, tool_errors
from letta_mcp.server.schemas import AgentId, RunList, RunOut, RunSummary, SendMessageResult
from letta_mcp.service import AgentService, lending

RunId = Annotated[str, Field(max_length=100)]


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Get run", readOnlyHint=True))
    @tool_errors
    async def get_run(run_id: RunId) -> RunOut:
        """A run (one send_message): status, steps, messages and, once done, the reply."""
        return RunOut.of_details(await service.get_run_details(run_id))

    @mcp.tool(annotations=ToolAnnotations(title="List runs", readOnlyHint=True))
    @tool_errors
    async def list_runs(
        agent_id: AgentId,
        status: Annotated[
            Literal["created", "running", "completed", "failed", "cancelled", "interrupted", "requires_approval"]
            | None,
            Field(),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> RunList:
        """List an agent's runs, newest first."""
        runs = await service.list_runs(agent_id, status=RunStatus(status) if status else None, limit=limit)
        return RunList.model_validate({"runs": runs})

    @mcp.tool(annotations=ToolAnnotations(title="Cancel run", destructiveHint=False, idempotentHint=True))
    @tool_errors
    async def cancel_run(run_id: RunId) -> RunSummary:
        """Stop a run at its next step (stop_reason 'cancelled'); a queued run never starts."""
        return RunSummary.model_validate(await service.cancel_run(run_id))

    @mcp.tool(annotations=ToolAnnotations(title="Approve run", destructiveHint=False))
    @tool_errors
    async def approve_run(
        run_id: RunId,
        approve: Annotated[bool, Field(description="false: deny the paused call(s).")],
        reason: Annotated[str | None, Field(max_length=10_000, description="Told to the agent on denial.")] = None,
        background: Annotated[bool, Field(description="Return at once; get_run gives the reply.")] = False,
        ctx: Context | None = None,
    ) -> SendMessageResult:
        """Approve or deny the tool call a run paused on (stop_reason 'requires_approval'); the turn
        then goes on."""
        with lending(client_model(ctx)):  # the resumed turn of a 'client'-model agent thinks with ours
            result = await service.approve_run(run_id, approve=approve, reason=reason, background=background)
        return SendMessageResult.of(result.run, result.messages, result.reply)

    @mcp.resource(
        "letta://runs/{run_id}",
        name="run",
        mime_type="application/json",
        description="One run: status, steps, messages and reply.",
    )
    @resource_errors
    async def run(run_id: str) -> str:
        return RunOut.of_details(await service.get_run_details(run_id)).model_dump_json()
