"""MCP tools for blocks as objects of their own: shared blocks, version history and undo."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import AgentId, BlockInput, BlockOut, FromDomain, Label
from letta_mcp.service import AgentService

BlockId = Annotated[
    str, Field(description="From create_block or list_blocks.", max_length=100)
]
Limit = Annotated[int, Field(ge=1, le=200, description="At most this many.")]


class SharedBlockOut(BlockOut):
    owner: str | None
    agent_ids: list[str] = Field(description="Agents the block is attached to.")


class BlockListOut(BaseModel):
    blocks: list[SharedBlockOut]


class BlockVersionOut(FromDomain):
    version: int
    value: str
    limit: int
    actor: str = Field(description="Who made it: 'agent:<id>' (with run_id) or 'principal:<name>'.")
    run_id: str | None
    reason: str
    created_at: datetime


class BlockHistoryOut(BaseModel):
    agent_id: str
    label: str
    versions: list[BlockVersionOut] = Field(description="Newest first.")


class DeletedBlockOut(BaseModel):
    block_id: str
    detached_from: list[str]


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Create block"))
    @tool_errors
    async def create_block(block: BlockInput) -> SharedBlockOut:
        """Create a standalone memory block you own; attach it to agents to share it between them."""
        made = await service.create_block(
            block.label, value=block.value, limit=block.limit, description=block.description, read_only=block.read_only
        )
        return SharedBlockOut.model_validate({**dict(made), "agent_ids": []})

    @mcp.tool(annotations=ToolAnnotations(title="List blocks", readOnlyHint=True))
    @tool_errors
    async def list_blocks(
        label: Annotated[str | None, Field(description="Only blocks with this label.", max_length=64)] = None,
        limit: Limit = 50,
        offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0,
    ) -> BlockListOut:
        """List your blocks, oldest first, with the agents each is attached to."""
        found = await service.list_blocks(label=label, limit=limit, offset=offset)
        return BlockListOut(
            blocks=[SharedBlockOut.model_validate({**dict(s.block), "agent_ids": s.agent_ids}) for s in found]
        )

    @mcp.tool(annotations=ToolAnnotations(title="Attach block", idempotentHint=False))
    @tool_errors
    async def attach_block(agent_id: AgentId, block_id: BlockId) -> BlockOut:
        """Attach a block to an agent under its label; every agent it is attached to sees its edits."""
        return BlockOut.model_validate(await service.attach_block(agent_id, block_id))

    @mcp.tool(annotations=ToolAnnotations(title="Detach block"))
    @tool_errors
    async def detach_block(agent_id: AgentId, label: Label) -> BlockOut:
        """Detach a block from an agent. The block is kept (see list_blocks)."""
        return BlockOut.model_validate(await service.detach_block(agent_id, label))

    @mcp.tool(annotations=ToolAnnotations(title="Delete block", destructiveHint=True))
    @tool_errors
    async def delete_block(
        block_id: BlockId,
        force: Annotated[bool, Field(description="Also detach it from the agents using it.")] = False,
    ) -> DeletedBlockOut:
        """Delete a block and its history. Refused while agents use it, unless force."""
        detached = await service.delete_block(block_id, force=force)
        return DeletedBlockOut(block_id=block_id, detached_from=detached)

    @mcp.tool(annotations=ToolAnnotations(title="Block history", readOnlyHint=True))
    @tool_errors
    async def block_history(
        agent_id: AgentId,
        label: Label,
        limit: Limit = 20,
        before_version: Annotated[int | None, Field(ge=1, le=2**31, description="Page: older than this.")] = None,
    ) -> BlockHistoryOut:
        """Every version of an agent's block: value, who changed it and when."""
        versions = await service.block_history(agent_id, label, limit=limit, before_version=before_version)
        return BlockHistoryOut(
            agent_id=agent_id, label=label, versions=[BlockVersionOut.model_validate(v) for v in versions]
        )

    @mcp.tool(annotations=ToolAnnotations(title="Undo block edit"))
    @tool_errors
    async def undo_block(
        agent_id: AgentId,
        label: Label,
        version: Annotated[
            int | None, Field(ge=1, le=2**31, description="Version to restore; default: the one before.")
        ] = None,
    ) -> BlockOut:
        """Restore an earlier value of a block as a new version (history is kept; the limit applies)."""
        return BlockOut.model_validate(await service.undo_block(agent_id, label, version=version))
