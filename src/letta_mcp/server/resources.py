"""MCP resources: read-only views of agents and their memory."""

from __future__ import annotations

from mcp.server import MCPServer

from letta_mcp.models import Agent
from letta_mcp.server.errors import resource_errors
from letta_mcp.server.schemas import AgentOut, AgentSummary
from letta_mcp.service import AgentService

AGENT_PAGE = 200


async def all_agents(service: AgentService) -> list[Agent]:
    """Every agent the acting principal may see, newest first, read page by page (never cut off at a
    page size). An agent created meanwhile shifts the pages by one: ids already listed are skipped."""
    agents: dict[str, Agent] = {}
    offset = 0
    while True:
        page = await service.list_agents(limit=AGENT_PAGE, offset=offset)
        for agent in page:
            agents.setdefault(agent.id, agent)
        if len(page) < AGENT_PAGE:
            return list(agents.values())
        offset += AGENT_PAGE


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.resource(
        "letta://agents",
        name="agents",
        mime_type="application/json",
        description="All agents (id, name, model, tags), newest first.",
    )
    async def agents() -> str:
        listed = await all_agents(service)
        return "[" + ",".join(AgentSummary.model_validate(a).model_dump_json() for a in listed) + "]"

    @mcp.resource(
        "letta://agents/{agent_id}",
        name="agent",
        mime_type="application/json",
        description="One agent: configuration, memory blocks and message counts.",
    )
    @resource_errors
    async def agent(agent_id: str) -> str:
        return AgentOut.of_details(await service.get_agent(agent_id)).model_dump_json()

    @mcp.resource(
        "letta://agents/{agent_id}/memory",
        name="agent_memory",
        mime_type="text/plain",
        description="The agent's memory exactly as its model sees it (<memory_blocks> and <memory_metadata>).",
    )
    @resource_errors
    async def memory(agent_id: str) -> str:
        return (await service.get_memory(agent_id)).rendered

    @mcp.resource(
        "letta://agents/{agent_id}/blocks/{label}",
        name="agent_block",
        mime_type="text/plain",
        description="The text of one memory block.",
    )
    @resource_errors
    async def block(agent_id: str, label: str) -> str:
        return (await service.get_block(agent_id, label)).value
