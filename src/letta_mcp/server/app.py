"""Assembling the MCP server around one `AgentService`."""

from __future__ import annotations

from mcp.server import MCPServer

from letta_mcp import __version__
from letta_mcp.server import resources, tools_agents, tools_memory, tools_messages, tools_templates
from letta_mcp.service import AgentService

INSTRUCTIONS = """\
letta-mcp hosts stateful agents: each agent has persistent memory blocks it edits itself, one \
perpetual conversation, and lives on after this session. Typical use: find an agent with \
list_agents (or make one with create_agent), then call send_message with only the new message \
and show the user `reply`. Read or correct what an agent remembers with get_memory and \
update_block; look back with list_messages or search_messages."""


def create_server(service: AgentService) -> MCPServer:
    """An `MCPServer` exposing ``service``; the caller owns the service's lifetime."""
    mcp = MCPServer("letta-mcp", version=__version__, instructions=INSTRUCTIONS)
    for module in (tools_agents, tools_messages, tools_memory, tools_templates, resources):
        module.register(mcp, service)
    return mcp
