"""Asking the user, through MCP elicitation, to approve the tool calls a run paused on.

A client that supports elicitation is asked during `send_message`, and the turn goes on in the
same call, so the user sees the final reply: on 2025-11-25 connections with a request in the
middle of the call, on 2026-07-28 ones (which have no such back-channel) by answering the call with
an `InputRequiredResult` that the client retries with the answer and the run id as
``request_state``. Declining the form denies the calls (as for MCP tasks); cancelling it, or a
client that cannot be asked, leaves today's result: the run waits in ``requires_approval`` for
`approve_run`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mcp import MCPError
from mcp.server.elicitation import AcceptedElicitation, DeclinedElicitation, render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, ValidationError

from letta_mcp.models import RunStatus
from letta_mcp.service import AgentService, TurnResult, unanswered_calls

log = logging.getLogger(__name__)

_NO_BACK_CHANNEL_SINCE = "2026-07-28"
_DECLINED = "The user declined."

Decide = Callable[[str, bool, str | None], Awaitable[TurnResult]]


class Approval(BaseModel):
    """What the user is asked (elicitation schemas are flat primitives)."""

    approve: bool = Field(description="Run the tool call(s)?")
    reason: str = Field(default="", max_length=10_000, description="Told to the agent if you deny.")


def _asks_mid_call(ctx: Context | None) -> bool | None:
    """None: the client cannot be asked; True: in the middle of the call; False: by retry."""
    caps = ctx.client_capabilities if ctx is not None else None
    if ctx is None or caps is None or caps.elicitation is None:
        return None
    return not is_version_at_least(ctx.protocol_version or "", _NO_BACK_CHANNEL_SINCE)


async def settle_approvals(ctx: Context | None, result: TurnResult, decide: Decide) -> TurnResult:
    """While the run waits for approval and the client can be asked mid-call, ask the user and
    resume it with ``decide(run_id, approve, reason)``."""
    while result.run.status is RunStatus.requires_approval and _asks_mid_call(ctx):
        assert ctx is not None  # _asks_mid_call said so
        try:
            answer = await ctx.elicit(_question(result), Approval)
        except MCPError as e:  # the client could not ask: the run keeps waiting for approve_run
            log.warning("Run %s: asking for approval failed: %s", result.run.id, e)
            break
        if isinstance(answer, AcceptedElicitation):
            result = await decide(result.run.id, answer.data.approve, answer.data.reason or None)
        elif isinstance(answer, DeclinedElicitation):
            result = await decide(result.run.id, False, _DECLINED)
        else:
            break
    return result


def ask_by_retry(ctx: Context | None, result: TurnResult) -> InputRequiredResult | None:
    """For a 2026-07-28 client that supports elicitation, the question for a paused run."""
    if result.run.status is not RunStatus.requires_approval or _asks_mid_call(ctx) is not False:
        return None
    assert ctx is not None  # _asks_mid_call said so
    key = _key(result)
    if key in (ctx.input_responses or {}):  # the user cancelled this very question: do not ask again
        return None
    params = ElicitRequestFormParams(message=_question(result), requested_schema=render_elicitation_schema(Approval))
    return InputRequiredResult(input_requests={key: ElicitRequest(params=params)}, request_state=result.run.id)


async def answered(ctx: Context | None, service: AgentService, agent_id: str, decide: Decide) -> TurnResult | None:
    """On the retry of a call `ask_by_retry` answered: the turn after the user's answer (None on a
    first round). A forged ``request_state`` gains nothing: the run must be one the caller may see,
    of this agent, waiting for approval, which `approve_run` would decide for the caller anyway (and
    the SDK seals the state to this call's arguments and principal besides)."""
    run_id = ctx.request_state if ctx is not None else None
    if ctx is None or run_id is None:
        return None
    details = await service.get_run_details(run_id)
    paused = TurnResult(run=details.run, messages=details.messages, reply=details.reply)
    if details.run.agent_id != agent_id or details.run.status is not RunStatus.requires_approval:
        raise ToolError(f"Run {run_id} of agent {agent_id} is not waiting for approval; call get_run to see it.")
    response = (ctx.input_responses or {}).get(_key(paused))
    if not isinstance(response, ElicitResult):  # not answered yet (or not by an elicitation result)
        return paused
    if response.action == "decline":
        return await decide(run_id, False, _DECLINED)
    if response.action != "accept":
        return paused
    try:
        approval = Approval.model_validate(response.content or {})
    except ValidationError as e:
        raise ToolError(f"The approval answer must be {{approve: boolean, reason?: string}}: {e}") from e
    return await decide(run_id, approval.approve, approval.reason or None)


def _pending_calls(result: TurnResult) -> str:
    pending = unanswered_calls(result.messages)  # not calls of the same step that already ran
    return ", ".join(f"{c.name}({c.arguments})" for c in pending) if pending else "a tool call"


def _key(result: TurnResult) -> str:
    """The input request's key: the paused calls make it unique (a later pause has other calls)."""
    pending = unanswered_calls(result.messages)
    return "approve:" + ",".join(c.id for c in pending) if pending else "approve"


def _question(result: TurnResult) -> str:
    return f"Agent {result.run.agent_id} wants to call {_pending_calls(result)}. Approve?"
