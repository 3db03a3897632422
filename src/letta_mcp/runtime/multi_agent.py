"""Agent-to-agent messaging: Letta's three multi-agent tools.

Unlike the other built-in tools these wait on other agents' turns, so they must never run inside
the step's write transaction (the other agent's turn needs to write): `run_outside` executes them
before it, and the step then records their outcomes with the rest. They reach other agents only
through an `AgentMessenger` that the service passes in; the runtime never imports the service.
Letta's texts and return shapes are kept: the target receives a system-role message prefixed
with the sender's id, and the caller reads ``str({"agent_id": …, "response": [...]})``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from letta_mcp.models import Agent, ToolCall
from letta_mcp.runtime.errors import RuntimeToolError

WAIT = "send_message_to_agent_and_wait_for_reply"
ASYNC = "send_message_to_agent_async"
TAGS = "send_message_to_agents_matching_tags"
MULTI_AGENT_TOOLS: tuple[str, ...] = (WAIT, ASYNC, TAGS)


@dataclass(frozen=True)
class AgentReply:
    agent_id: str
    response: list[str]  # the assistant texts of the target's turn, in order

    def letta_form(self) -> dict[str, object]:
        return {"agent_id": self.agent_id, "response": self.response}


class AgentMessenger(Protocol):
    """How the runtime reaches other agents (implemented by the service).

    Each method raises `RuntimeToolError` with a message for the calling model (unknown agent,
    a waiting cycle, a depth or fan-out limit)."""

    async def send(self, sender: Agent, run_id: str, target_id: str, message: str, *, wait: bool) -> AgentReply:
        """Queue ``message`` as a turn of ``target_id`` started by run ``run_id``; with ``wait``,
        return that turn's reply (otherwise an empty one, at once)."""
        ...

    async def send_to_tags(
        self, sender: Agent, run_id: str, match_all: list[str], match_some: list[str], message: str
    ) -> list[AgentReply]:
        """Send ``message`` to every agent having all of ``match_all`` and at least one of
        ``match_some`` tags, waiting for each reply."""
        ...


def incoming(sender: Agent, message: str, *, wait: bool) -> str:
    """The system-role text the target agent receives."""
    how = (
        "your response will be delivered to the sender"
        if wait
        else "this is a one-way notification; to reply, message the sender with send_message_to_agent_async"
    )
    return f"[Incoming message from agent with ID '{sender.id}' - {how}] {message}"


async def run_outside(
    messenger: AgentMessenger | None, agent: Agent, run_id: str, calls: list[ToolCall]
) -> dict[str, tuple[bool, str]]:
    """Execute the multi-agent calls among ``calls`` (before the step's transaction); returns
    (ok, message) by tool call id. Calls of tools the agent lacks are left to the normal path,
    which reports them."""
    done: dict[str, tuple[bool, str]] = {}
    for call in calls:
        if call.name not in MULTI_AGENT_TOOLS or call.name not in agent.tools:
            continue
        if messenger is None:
            done[call.id] = (False, "Agent-to-agent messaging is not available in this server.")
            continue
        try:
            done[call.id] = (True, await _run(messenger, agent, run_id, call))
        except RuntimeToolError as e:
            done[call.id] = (False, str(e))
        except (TypeError, ValueError) as e:
            done[call.id] = (False, f"Error executing function {call.name}: {type(e).__name__}: {e}"[:1000])
    return done


async def _run(messenger: AgentMessenger, agent: Agent, run_id: str, call: ToolCall) -> str:
    args = json.loads(call.arguments) if call.arguments.strip() else {}
    if not isinstance(args, dict):
        raise ValueError("arguments must be a JSON object")
    message = _text(args, "message")
    if call.name == TAGS:
        match_all, match_some = _tags(args, "match_all"), _tags(args, "match_some")
        replies = await messenger.send_to_tags(agent, run_id, match_all, match_some, message)
        return str([reply.letta_form() for reply in replies])
    target = _text(args, "other_agent_id")
    reply = await messenger.send(agent, run_id, target, message, wait=call.name == WAIT)
    return str(reply.letta_form()) if call.name == WAIT else "Successfully sent message"


def _text(args: dict[str, object], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _tags(args: dict[str, object], name: str) -> list[str]:
    value = args.get(name) or []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError(f"{name} must be a list of tag strings")
    return value
