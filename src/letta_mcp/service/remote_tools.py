"""Tools from the operator's other MCP servers: listing them, and checking an agent's ``mcp:`` tools."""

from __future__ import annotations

from dataclasses import dataclass, field

from letta_mcp.runtime.remote_tools import RemoteTool, RemoteToolError, parse_handle
from letta_mcp.service.base import ServiceBase
from letta_mcp.service.errors import InvalidRequestError, NotFoundError

_NONE_CONFIGURED = "No MCP servers are configured; the operator declares them in the config file as [mcp_servers.NAME]."


@dataclass(frozen=True)
class RemoteToolListing:
    tools: list[RemoteTool]
    unavailable: dict[str, str] = field(default_factory=dict)  # why, by server that could not be listed


class RemoteToolsMixin(ServiceBase):
    async def list_mcp_tools(self, server: str | None = None) -> RemoteToolListing:
        """The tools of one configured server, or of all of them (a server that cannot be reached
        is reported in ``unavailable`` rather than failing the whole listing)."""
        remote = self._loop.remote
        configured = remote.servers() if remote is not None else []
        if server is not None and server not in configured:
            known = f"the configured servers are: {', '.join(configured)}." if configured else _NONE_CONFIGURED
            raise NotFoundError(f"No MCP server named {server!r}; {known}")
        listing = RemoteToolListing(tools=[])
        if remote is None:
            return listing
        for name in [server] if server is not None else configured:
            try:
                listing.tools.extend(await remote.list_tools(name))
            except RemoteToolError as e:
                if server is not None:
                    raise InvalidRequestError(str(e)) from e
                listing.unavailable[name] = str(e)
        return listing

    async def _check_remote_tools(self, tools: list[str]) -> None:
        """Each ``mcp:<server>/<tool>`` among ``tools`` names a configured server that lists the tool
        (asked before any write transaction: it may start the server)."""
        wanted: dict[str, list[str]] = {}
        for name in tools:
            if name.startswith("mcp:"):
                parsed = parse_handle(name)
                if parsed is None:
                    raise InvalidRequestError(
                        f"Invalid tool name {name!r}: tools of other MCP servers are named 'mcp:<server>/<tool>' "
                        "(list_mcp_tools shows them)."
                    )
                wanted.setdefault(parsed[0], []).append(parsed[1])
        for server, names in wanted.items():
            try:
                listed = {t.name for t in (await self.list_mcp_tools(server)).tools}
            except NotFoundError as e:
                raise InvalidRequestError(str(e)) from e
            missing = [n for n in names if n not in listed]
            if missing:
                raise InvalidRequestError(
                    f"MCP server {server!r} has no tool(s) {', '.join(map(repr, missing))}; it offers: "
                    f"{', '.join(sorted(listed)) or 'none'}."
                )
