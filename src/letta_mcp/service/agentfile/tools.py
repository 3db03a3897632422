"""Which Letta tools letta-mcp runs, and how ours appear in an Agent File.

Letta's built-in tools that we implement under the same name and parameters map to ours; the
unified ``memory`` tools map to our memory editors. Everything else is recorded inactive with a
reason the caller can act on: custom tools carry Python source that letta-mcp never executes,
``external_mcp`` tools belong to MCP servers that are configured by the operator, and some Letta
built-ins (web search, files, send_message) have no equivalent here.
"""

from __future__ import annotations

from letta_mcp.runtime.tools import BUILTIN_TOOLS
from letta_mcp.service.agentfile.schema import ToolRecord

LETTA_BUILTIN_TYPES = frozenset(
    {
        "letta_core",
        "letta_memory_core",
        "letta_sleeptime_core",
        "letta_voice_sleeptime_core",
        "letta_multi_agent_core",
        "letta_builtin",
        "letta_files_core",
    }
)

# Letta's later memory tools, done here by our editors of the same effect.
_ALIASES: dict[str, tuple[str, ...]] = {
    "memory": ("memory_insert", "memory_replace", "memory_rethink"),
    "memory_apply_patch": ("memory_replace", "memory_insert"),
}

# Our tool -> Letta's tool_type, for export.
_LETTA_TYPES: dict[str, str] = {
    "core_memory_append": "letta_memory_core",
    "core_memory_replace": "letta_memory_core",
    "memory_insert": "letta_sleeptime_core",
    "memory_replace": "letta_sleeptime_core",
    "memory_rethink": "letta_sleeptime_core",
    "memory_finish_edits": "letta_sleeptime_core",
    "send_message_to_agent_and_wait_for_reply": "letta_multi_agent_core",
    "send_message_to_agent_async": "letta_multi_agent_core",
    "send_message_to_agents_matching_tags": "letta_multi_agent_core",
}


def map_tool(tool: ToolRecord) -> tuple[list[str], str | None]:
    """(our tools standing in for ``tool``, None) or ([], why it stays inactive)."""
    builtin = tool.tool_type in LETTA_BUILTIN_TYPES or (tool.tool_type is None and tool.source_code is None)
    if builtin and tool.name in BUILTIN_TOOLS:
        return [tool.name], None
    if builtin and tool.name in _ALIASES:
        return [t for t in _ALIASES[tool.name] if t in BUILTIN_TOOLS], None
    if builtin:
        if tool.name == "send_message":
            return [], (
                "send_message belongs to Letta's MemGPT-style agents; here the agent answers in plain text, "
                "so the tool is not needed."
            )
        return [], f"Letta built-in tool ({tool.tool_type}) without a letta-mcp equivalent."
    if tool.tool_type == "external_mcp":
        server = ((tool.metadata or {}).get("mcp") or {}).get("server_name") or next(
            (t.removeprefix("mcp:") for t in tool.tags or [] if t.startswith("mcp:")), "unknown"
        )
        return [], (
            f"Tool of the MCP server {server!r}: letta-mcp only reaches MCP servers its operator configures; "
            "it stays inactive."
        )
    if tool.tool_type in (None, "custom"):
        return [], "Custom tool: letta-mcp never executes imported code; recorded, inactive."
    return [], f"External tool ({tool.tool_type}) that letta-mcp cannot call; recorded, inactive."


def letta_tool_type(name: str) -> str:
    """The tool_type Letta gives its built-in of this name."""
    return _LETTA_TYPES.get(name, "letta_core")
