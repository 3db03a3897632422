"""The MCP surface: tools, resources and transports over `AgentService`. No SQL here."""

from letta_mcp.server.app import create_server

__all__ = ["create_server"]
