"""Other MCP servers: the operator's ``[mcp_servers.NAME]`` reached through the official ``mcp`` client.

`RemoteServers` implements the runtime's `RemoteTools`: it lists a server's tools and calls them
for agents. It sits at the top beside ``server/`` because nothing below the MCP surface may import
``mcp``; the process entry point builds it from the settings and hands it to the service.

Servers come from the configuration only, so no client can make this process start a command.
Every text this module returns passes through `_Scrubber`: the configured ``env`` and ``headers``
values (and credentials in URLs) become ``***``, whatever a server echoes back. So does every log
record, ours and the libraries' (the ``mcp`` client logs whole messages at DEBUG): a filter on the
root logger's handlers applies the same scrubber while the servers are open.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from mcp import MCPError
from mcp.types import CONNECTION_CLOSED, CallToolResult, TextContent

from letta_mcp.config import McpServerSettings
from letta_mcp.redact import MASK, redact_text
from letta_mcp.remote.connection import Connection, Live, StartError
from letta_mcp.runtime.remote_tools import RemoteTool, RemoteToolError

log = logging.getLogger(__name__)

__all__ = ["RemoteServers"]


class RemoteServers:
    """The configured servers, shared by every agent of this process; started on first use."""

    def __init__(self, settings: dict[str, McpServerSettings]) -> None:
        self._connections = {name: Connection(name, cfg) for name, cfg in settings.items()}
        self._scrub = _Scrubber([secret for cfg in settings.values() for secret in cfg.secrets()])
        self._log_filter = _ScrubbingFilter(self._scrub)
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._log_filter)
        # Each server's listing, kept while the session it came from lives (a restarted server may differ).
        self._listed: dict[str, tuple[Live, list[RemoteTool]]] = {}

    def servers(self) -> list[str]:
        return list(self._connections)

    async def list_tools(self, server: str) -> list[RemoteTool]:
        connection = self._connection(server)
        timeout = connection.settings.timeout_s
        live: Live | None = None
        try:
            with anyio.fail_after(timeout):
                live = await connection.session()
                cached = self._listed.get(server)
                if cached is not None and cached[0] is live:
                    return cached[1]
                result = await live.client.list_tools()
        except TimeoutError:
            raise RemoteToolError(f"MCP server {server!r} did not answer within {timeout:g} s.") from None
        except StartError as e:
            raise RemoteToolError(f"MCP server {server!r} could not be started: {self._scrub(str(e))}") from None
        except Exception as e:
            if live is not None and not _refused(e):
                await connection.drop(live)
            raise RemoteToolError(f"MCP server {server!r} failed to list its tools: {self._describe(e)}") from None
        tools = [
            RemoteTool(
                server=server,
                name=tool.name,
                description=self._scrub(tool.description or ""),
                input_schema=json.loads(self._scrub(json.dumps(tool.input_schema))),
            )
            for tool in result.tools
        ]
        self._listed[server] = (live, tools)
        return tools

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        try:
            connection = self._connection(server)
        except RemoteToolError as e:
            return False, str(e)
        timeout = connection.settings.timeout_s
        live: Live | None = None
        try:
            with anyio.fail_after(timeout):
                live = await connection.session()
                result = await live.client.call_tool(tool, arguments)
        except TimeoutError:
            return False, (
                f"The tool {tool!r} of MCP server {server!r} did not finish within {timeout:g} s; it was abandoned. "
                "Try again later or with a smaller request."
            )
        except StartError as e:
            return False, f"MCP server {server!r} could not be started: {self._scrub(str(e))}"
        except Exception as e:
            if _refused(e):  # an error answer: the session is fine
                return False, f"MCP server {server!r} refused the call of {tool!r}: {self._describe(e)}"
            if live is not None:  # the session died (a crash, a dropped connection): start afresh next time
                await connection.drop(live)
            log.warning("MCP server %r: call of %r failed: %s", server, tool, self._describe(e))
            return False, (
                f"The tool {tool!r} of MCP server {server!r} failed: {self._describe(e)}. "
                "The server will be restarted at the next call."
            )
        return _outcome(result, self._scrub)

    async def aclose(self) -> None:
        for connection in self._connections.values():
            await connection.aclose()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._log_filter)

    def _connection(self, server: str) -> Connection:
        connection = self._connections.get(server)
        if connection is None:
            known = ", ".join(self._connections) or "none are configured"
            raise RemoteToolError(f"No MCP server named {server!r}; the configured servers are: {known}.")
        return connection

    def _describe(self, error: BaseException) -> str:
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        return self._scrub(f"{type(error).__name__}: {error}"[:500])


def _refused(error: Exception) -> bool:
    """Whether ``error`` is the server's error answer (as opposed to a session that ended)."""
    return isinstance(error, MCPError) and error.code != CONNECTION_CLOSED


def _outcome(result: CallToolResult, scrub: _Scrubber) -> tuple[bool, str]:
    """(ok, text) of a tool result: its text content joined (other content summarised), else its
    structured content as JSON."""
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, TextContent):
            parts.append(item.text)
        else:
            parts.append(f"[{item.type} content omitted]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return not result.is_error, scrub("\n".join(parts))


class _Scrubber:
    """Replaces every configured secret value, and credentials in URLs, with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return redact_text(text)


class _ScrubbingFilter(logging.Filter):
    """Applies a `_Scrubber` to each record a handler emits, arguments and traceback included."""

    def __init__(self, scrub: _Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._scrub.secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports that itself
            return True
        scrubbed = self._scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True
