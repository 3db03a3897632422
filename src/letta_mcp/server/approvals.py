"""Asking the user, through MCP elicitation, to approve the tool calls a run paused on.

A client that supports elicitation over a connection with a back-channel (2025-11-25) is asked in
the middle of `send_message`, and the turn goes on in the same call, so the user sees the final
reply. Any other client, and a user who declines to answer, gets today's result: the run waits in
``requires_approval`` for `approve_run`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mcp import MCPError
from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from letta_mcp.models import Role, RunStatus
from letta_mcp.service import TurnResult

log = logging.getLogger(__name__)

_NO_BACK_CHANNEL_SINCE = "2026-07-28"

Decide = Callable[[str, bool, str | None], Awaitable[TurnResult]]


class Approval(BaseModel):
    """What the user is asked (elicitation schemas are flat primitives)."""

    approve: bool = Field(description="Run the tool call(s)?")
    reason: str = Field(default="", max_length=10_000, description="Told to the agent if you deny.")


def can_elicit(ctx: Context | None) -> bool:
    caps = ctx.client_capabilities if ctx is not None else None
    if ctx is None or caps is None or caps.elicitation is None:
        return False
    return not is_version_at_least(ctx.protocol_version or "", _NO_BACK_CHANNEL_SINCE)


async def settle_approvals(ctx: Context | None, result: TurnResult, decide: Decide) -> TurnResult:
    """While the run waits for approval, ask the user and resume it with ``decide(run_id, approve,
    reason)``; stop at the first question the user declines or cancels."""
    while result.run.status is RunStatus.requires_approval and can_elicit(ctx):
        assert ctx is not None  # can_elicit said so
        try:
            answer = await ctx.elicit(_question(result), Approval)
        except MCPError as e:  # the client could not ask: the run keeps waiting for approve_run
            log.warning("Run %s: asking for approval failed: %s", result.run.id, e)
            break
        if not isinstance(answer, AcceptedElicitation):
            break
        result = await decide(result.run.id, answer.data.approve, answer.data.reason or None)
    return result


def _question(result: TurnResult) -> str:
    pending = next((m for m in reversed(result.messages) if m.role is Role.assistant and m.tool_calls), None)
    calls = ", ".join(f"{c.name}({c.arguments})" for c in pending.tool_calls) if pending else "a tool call"
    return f"Agent {result.run.agent_id} wants to call {calls}. Approve?"
