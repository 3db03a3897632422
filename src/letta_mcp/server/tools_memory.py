"""MCP tools for memory blocks: read an agent's memory, edit one block."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import AgentId, BlockOut, Label, MemoryOut
from letta_mcp.service import AgentService


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Get memory", readOnlyHint=True))
    @tool_errors
    async def get_memory(agent_id: AgentId) -> MemoryOut:
        """An agent's memory blocks and the memory text its model sees."""
        view = await service.get_memory(agent_id)
        return MemoryOut(agent_id=view.agent_id, blocks=view.blocks, rendered=view.rendered)

    @mcp.tool(annotations=ToolAnnotations(title="Update memory block", idempotentHint=True))
    @tool_errors
    async def update_block(
        agent_id: AgentId,
        label: Label,
        value: Annotated[
            str | None, Field(description="The complete new text.", max_length=1_000_000)
        ] = None,
        limit: Annotated[int | None, Field(ge=1, le=1_000_000, description="Characters.")] = None,
        description: Annotated[
            str | None, Field(description="What belongs in it.", max_length=10_000)
        ] = None,
        read_only: Annotated[
            bool | None, Field(description="Lock it against the agent's own edits.")
        ] = None,
    ) -> BlockOut:
        """Set one of an agent's memory blocks (versioned; its limit applies)."""
        return BlockOut.model_validate(
            await service.update_block(
                agent_id, label, value=value, limit=limit, description=description, read_only=read_only
            )
        )
