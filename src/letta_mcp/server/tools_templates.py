"""MCP tools for templates: save an agent's configuration, list saved ones."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import AgentId, TemplateList, TemplateOut
from letta_mcp.service import AgentService


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Create template", destructiveHint=False))
    @tool_errors
    async def create_template(
        name: Annotated[str, Field(min_length=1, max_length=200)],
        agent_id: AgentId,
        description: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> TemplateOut:
        """Save an agent's setup (not its history) as a template for create_agent."""
        template = await service.create_template(name, agent_id=agent_id, description=description)
        return TemplateOut.model_validate(template)

    @mcp.tool(annotations=ToolAnnotations(title="List templates", readOnlyHint=True))
    @tool_errors
    async def list_templates() -> TemplateList:
        """The saved agent templates."""
        return TemplateList.model_validate({"templates": await service.list_templates()})
