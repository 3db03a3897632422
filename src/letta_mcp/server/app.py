"""Assembling the MCP server around one `AgentService`."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import RequestStateSecurity
from pydantic import SecretStr

from letta_mcp import __version__
from letta_mcp.config import AuthSettings, ToolGroup
from letta_mcp.server import (
    capabilities,
    prompts,
    resources,
    tools_agent_files,
    tools_agents,
    tools_archival,
    tools_blocks,
    tools_context,
    tools_mcp,
    tools_memory,
    tools_messages,
    tools_runs,
    tools_templates,
)
from letta_mcp.server.auth import principal_of, sdk_auth
from letta_mcp.server.listen import ListenHandler
from letta_mcp.server.live import LiveResources
from letta_mcp.server.mcp_server import LettaMCPServer
from letta_mcp.server.tasks import TasksExtension
from letta_mcp.service import AgentService, acting_as

INSTRUCTIONS = """\
letta-mcp hosts stateful agents: each agent has persistent memory blocks it edits itself, one \
perpetual conversation, and lives on after this session. Typical use: find an agent with \
list_agents (or make one with create_agent), then call send_message with only the new message \
and show the user `reply`. Read or correct what an agent remembers with get_memory and \
update_block; look back with list_messages or search_messages."""

# The modules registering each tool group (`tool_groups` setting); their resources are always served.
TOOL_MODULES: dict[ToolGroup, tuple[ModuleType, ...]] = {
    "agents": (tools_agents, tools_messages),
    "memory": (tools_memory, tools_blocks),
    "archival": (tools_archival,),
    "runs": (tools_runs,),
    "context": (tools_context,),
    "templates": (tools_templates, tools_agent_files),
    "tools": (tools_mcp,),
}


def create_server(
    service: AgentService,
    *,
    auth: AuthSettings | None = None,
    base_url: str = "http://127.0.0.1",
    stateless: bool = False,
    request_state_key: SecretStr | None = None,
) -> MCPServer:
    """An `MCPServer` exposing ``service``; the caller owns the service's lifetime.

    With ``auth`` configured, HTTP requests need a bearer token and run as its principal; without
    it (stdio, in-process, loopback HTTP) every request runs as the local user. ``base_url`` is
    where the server is reached, used only as a placeholder issuer for static tokens.
    ``stateless``: no connection outlives its request (`http.stateless`), so handshake-era
    ``resources/subscribe`` is not offered. ``request_state_key`` seals multi-round-trip state
    (shared by replicas); without it a key of this process does.
    """
    admins = frozenset(auth.admins) if auth else frozenset()
    verifier_and_settings = sdk_auth(auth, fallback_url=base_url) if auth else None
    verifier, sdk_settings = verifier_and_settings or (None, None)

    async def act_as_caller(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        # Every request (tools, resources, prompts, completion, subscriptions) runs as the
        # principal of its bearer token; the service enforces ownership from there.
        with acting_as(principal_of(get_access_token(), admins)):
            return await call_next(ctx)

    live = LiveResources(service)
    tasks = TasksExtension(service)
    mcp = LettaMCPServer(
        "letta-mcp",
        tool_groups=service.settings.tool_groups,
        version=__version__,
        instructions=INSTRUCTIONS,
        token_verifier=verifier,
        auth=sdk_settings,
        subscriptions=live.bus,
        request_state_security=RequestStateSecurity(keys=[request_state_key.get_secret_value()])
        if request_state_key is not None
        else None,
        middleware=[act_as_caller],
        extensions=[tasks],
    )
    for group, modules in TOOL_MODULES.items():
        with mcp.tool_group(group):
            for module in modules:
                module.register(mcp, service)
    resources.register(mcp, service)
    prompts.register(mcp, service)
    listen = ListenHandler(live.bus, service, tasks.read)
    capabilities.install(mcp, service, live, listen=listen, subscriptions=not stateless)
    return mcp
