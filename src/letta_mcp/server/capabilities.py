"""Optional MCP capabilities: resource subscriptions, log levels and argument completion.

``mcp`` 2.3's `MCPServer` serves ``resources/subscribe`` only to 2026-07-28 clients (through
``subscriptions/listen``) and has no ``logging/setLevel`` at all; handshake-era clients get
-32601 and see ``subscribe: false`` and no ``logging`` capability. The SDK's own guidance for
"re-providing a spec method the 2026 revision removed" is the lowlevel
``Server.add_request_handler``, which also makes the server advertise the capability. `MCPServer`
keeps its lowlevel server private, so this module is the one place that reaches into SDK
internals, written against mcp 2.3.0 (re-check on upgrade):

- ``MCPServer._lowlevel_server``: to register the three legacy methods, and our
  ``subscriptions/listen`` in place of the SDK's (`server.listen`);
- ``ServerSession._connection``: the per-client connection a legacy subscription belongs to (the
  session handed to a handler is a per-request proxy); its ``exit_stack`` drops the
  subscriptions when the client goes away, and its standalone channel carries the notifications.

Completion uses the public ``@mcp.completion()`` hook: agent ids for ``agent_id`` arguments and
block labels for ``label``, limited to what the acting principal may see.
"""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)

from letta_mcp.server.listen import ListenHandler
from letta_mcp.server.live import LiveResources
from letta_mcp.server.resources import all_agents
from letta_mcp.service import AgentService, NotFoundError, current_principal

MAX_COMPLETIONS = 100  # the protocol's cap on values per completion


def install(
    mcp: MCPServer, service: AgentService, live: LiveResources, *, listen: ListenHandler, subscriptions: bool = True
) -> None:
    """Serve resources/(un)subscribe (unless ``subscriptions`` is false: a stateless server's
    connection ends with its request, and a subscription with it) and logging/setLevel to
    handshake-era clients, completion, and ``subscriptions/listen`` through ``listen`` (the SDK's
    own handler knows no task notifications)."""
    lowlevel = mcp._lowlevel_server  # private: see the module docstring

    async def subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        connection = ctx.session._connection  # private: see the module docstring
        if live.legacy.add(connection, connection.send_resource_updated, current_principal(), str(params.uri)):
            connection.exit_stack.callback(live.legacy.drop, connection)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        live.legacy.remove(ctx.session._connection, str(params.uri))
        return EmptyResult()

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        # letta-mcp logs to stderr and sends no notifications/message; the level is kept per
        # connection so protocol logging can honour it if it is ever added.
        ctx.session._connection.state["log_level"] = params.level
        return EmptyResult()

    if subscriptions:
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen)

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        arguments = (context.arguments if context else None) or {}
        if argument.name == "agent_id":
            values = await _agent_ids(service, argument.value)
        elif argument.name == "label" and arguments.get("agent_id"):
            values = await _labels(service, arguments["agent_id"], argument.value)
        else:
            return None
        return Completion(values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS)


async def _agent_ids(service: AgentService, typed: str) -> list[str]:
    """Ids starting with ``typed``, then ids of agents whose name contains it (newest first)."""
    agents = await all_agents(service)
    needle = typed.lower()
    by_id = [a.id for a in agents if a.id.startswith(typed)]
    by_name = [a.id for a in agents if needle and needle in a.name.lower() and a.id not in by_id]
    return by_id + by_name


async def _labels(service: AgentService, agent_id: str, typed: str) -> list[str]:
    try:
        details = await service.get_agent(agent_id)
    except NotFoundError:
        return []
    return [b.label for b in details.blocks if b.label.startswith(typed)]
