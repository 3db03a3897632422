"""letta-mcp: an MCP server hosting stateful, self-editing-memory agents (Letta/MemGPT style)."""

__version__ = "0.1.0"
