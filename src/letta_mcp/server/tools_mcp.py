"""MCP tool listing the tools of the operator's other MCP servers, which agents may be given."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import AliasChoices, BaseModel, Field

from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import FromDomain
from letta_mcp.service import AgentService


class McpToolOut(FromDomain):
    tool: str = Field(
        validation_alias=AliasChoices("tool", "handle"),
        description="The name to put in an agent's tools: 'mcp:<server>/<tool>'.",
    )
    server: str
    name: str = Field(description="The tool's name on its server.")
    description: str
    input_schema: dict[str, Any] = Field(description="JSON Schema of its arguments.")


class McpToolList(BaseModel):
    tools: list[McpToolOut]
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Servers that could not be listed now, with the reason."
    )


def register(mcp: MCPServer, service: AgentService) -> None:
    if not service.settings.mcp_servers:  # nothing to list: spare every client's model the tool's tokens
        return

    @mcp.tool(annotations=ToolAnnotations(title="List MCP tools", readOnlyHint=True))
    @tool_errors
    async def list_mcp_tools(
        server: Annotated[
            str | None, Field(max_length=100, description="One configured server (default: all of them).")
        ] = None,
    ) -> McpToolList:
        """Tools of the other MCP servers this server's operator configured. Give one to an agent by
        adding its 'tool' value (mcp:<server>/<tool>) to tools in create_agent or update_agent."""
        listing = await service.list_mcp_tools(server)
        return McpToolList(
            tools=[McpToolOut.model_validate(t) for t in listing.tools],
            unavailable=listing.unavailable,
        )
