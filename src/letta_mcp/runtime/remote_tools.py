"""Tools from other MCP servers, as the agent loop sees them.

The operator declares servers in the config; an agent is given a tool as ``mcp:<server>/<tool>``
in its ``tools``. Providers accept only ``[A-Za-z0-9_-]`` in tool names, so the model sees it as
``mcp__<server>__<tool>`` (`provider_name`), mapped back here when it calls it. Such a call is a
network round trip that may take long, so like the multi-agent tools it never runs inside the
step's write transaction: `run_outside` executes it before, and the step then records its outcome
with the rest. The runtime reaches the servers only through the `RemoteTools` the service was
given; the MCP client itself lives above the service (`letta_mcp.remote`), as nothing below it may
import ``mcp``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

from letta_mcp.models import Agent, ToolCall, ToolRule, ToolSchema
from letta_mcp.runtime.errors import RuntimeToolError

log = logging.getLogger(__name__)

PREFIX = "mcp:"
_PROVIDER_PREFIX = "mcp__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64  # OpenAI's limit on function names


class RemoteToolError(RuntimeToolError):
    """A server is unknown, unreachable or failed to list its tools; the message says which."""


@dataclass(frozen=True)
class RemoteTool:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def handle(self) -> str:
        """How an agent's ``tools`` names it."""
        return f"{PREFIX}{self.server}/{self.name}"


class RemoteTools(Protocol):
    """The operator's MCP servers (implemented by `letta_mcp.remote.RemoteServers`)."""

    def servers(self) -> list[str]:
        """The configured server names."""
        ...

    async def list_tools(self, server: str) -> list[RemoteTool]:
        """The server's tools (starting or connecting to it if needed); raises `RemoteToolError`."""
        ...

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        """Call a tool: (ok, text for the model). Never raises for the server's failures, timeouts or
        crashes: they are a failed outcome the model reads."""
        ...

    async def aclose(self) -> None:
        """Stop the servers this process started and close the connections."""
        ...


def parse_handle(name: str) -> tuple[str, str] | None:
    """``mcp:<server>/<tool>`` → (server, tool); None for any other name."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition("/")
    return (server, tool) if server and sep and tool else None


def provider_name(handle: str) -> str:
    """The name a provider accepts for the tool ``handle`` (``mcp__<server>__<tool>``); long names
    are cut and given a hash of the whole so two tools never share one."""
    server, tool = parse_handle(handle) or ("", handle)
    name = _UNSAFE.sub("_", f"{_PROVIDER_PREFIX}{server}__{tool}")
    if len(name) > _MAX_NAME or name != f"{_PROVIDER_PREFIX}{server}__{tool}":
        digest = hashlib.sha256(handle.encode()).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}_{digest}"
    return name


def remote_handles(agent: Agent) -> dict[str, str]:
    """The agent's remote tools: handle by provider name."""
    return {provider_name(t): t for t in agent.tools if parse_handle(t) is not None}


def provider_rules(rules: list[ToolRule]) -> list[ToolRule]:
    """``rules`` with remote tools named as the model sees them, so the rules solver (which works on
    the offered names) applies rules written with ``mcp:<server>/<tool>`` handles."""

    def name(value: Any) -> Any:
        return provider_name(value) if isinstance(value, str) and parse_handle(value) else value

    converted = []
    for rule in rules:
        data = rule.model_dump()
        data["tool_name"] = name(data["tool_name"])
        if isinstance(data.get("children"), list):
            data["children"] = [name(c) for c in data["children"]]
        if isinstance(data.get("child_output_mapping"), dict):
            data["child_output_mapping"] = {k: name(v) for k, v in data["child_output_mapping"].items()}
        if "default_child" in data:
            data["default_child"] = name(data["default_child"])
        converted.append(ToolRule.model_validate(data))
    return converted


async def remote_schemas(remote: RemoteTools | None, agent: Agent) -> list[ToolSchema]:
    """The schemas of the agent's remote tools, under their provider names. A server that cannot be
    reached now is left out (logged): the turn goes on with the other tools."""
    wanted: dict[str, list[str]] = {}
    for name in agent.tools:
        parsed = parse_handle(name)
        if parsed is not None:
            wanted.setdefault(parsed[0], []).append(parsed[1])
    if remote is None or not wanted:
        return []
    schemas: list[ToolSchema] = []
    for server, names in wanted.items():
        try:
            listed = {t.name: t for t in await remote.list_tools(server)}
        except RemoteToolError as e:
            log.warning("agent %s: the tools of MCP server %r are not offered this step: %s", agent.id, server, e)
            continue
        for tool_name in names:
            tool = listed.get(tool_name)
            if tool is not None:
                schemas.append(
                    ToolSchema(
                        name=provider_name(tool.handle),
                        description=tool.description,
                        parameters=tool.input_schema or {"type": "object", "properties": {}},
                    )
                )
    return schemas


async def run_outside(remote: RemoteTools | None, agent: Agent, calls: list[ToolCall]) -> dict[str, tuple[bool, str]]:
    """Execute the remote-tool calls among ``calls`` (before the step's transaction); returns
    (ok, message) by tool call id. Calls of tools the agent lacks are left to the normal path."""
    handles = remote_handles(agent)
    done: dict[str, tuple[bool, str]] = {}
    for call in calls:
        handle = handles.get(call.name)
        if handle is None:
            continue
        server, tool = parse_handle(handle) or ("", "")
        if remote is None:
            done[call.id] = (False, f"Tools from other MCP servers are not available in this server ({handle}).")
            continue
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
        except json.JSONDecodeError as e:
            done[call.id] = (False, f"Error parsing arguments of {call.name}: {e.msg}. Send one JSON object.")
            continue
        if not isinstance(args, dict):
            done[call.id] = (False, f"Arguments of {call.name} must be a JSON object, not {type(args).__name__}.")
            continue
        done[call.id] = await remote.call(server, tool, args)  # `execute_tool` truncates a long result
    return done
