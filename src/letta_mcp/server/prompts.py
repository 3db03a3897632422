"""MCP prompts: ready-made starting points a client can offer its user for one agent."""

from __future__ import annotations

from typing import Annotated

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import UserMessage
from mcp.types import INVALID_PARAMS
from pydantic import Field

from letta_mcp.service import AgentDetails, AgentService, NotFoundError


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.prompt(
        title="Chat with an agent",
        description="Relay this conversation to a stateful agent: each of your messages goes to the agent "
        "with send_message and its reply comes back; the agent keeps its own memory.",
    )
    async def chat_with_agent(
        agent_id: Annotated[str, Field(description="The agent to talk to (from list_agents).")],
    ) -> list[UserMessage]:
        details = await _details(service, agent_id)
        agent = details.agent
        about = f" ({agent.description})" if agent.description else ""
        return [
            UserMessage(
                f"From now on, act as a relay to the stateful agent {agent.name!r}{about}, id {agent.id}. "
                f"For every message I send, call the send_message tool with agent_id={agent.id!r} and only "
                "my new message (the agent remembers the rest of our conversation itself), then show me its "
                "`reply` verbatim. Do not answer in its place. To see what it remembers about me, read "
                f"letta://agents/{agent.id}/memory."
            )
        ]

    @mcp.prompt(
        title="Ask what an agent remembers",
        description="Answer a question from an agent's memory: its memory blocks are included, and its "
        "whole history can be searched with search_messages.",
    )
    async def recall(
        agent_id: Annotated[str, Field(description="The agent whose memory to consult.")],
        question: Annotated[str, Field(description="What to find out, e.g. 'What do you know about my projects?'")],
    ) -> list[UserMessage]:
        view = await _memory(service, agent_id)
        return [
            UserMessage(
                f"Answer this question using what the agent {agent_id} remembers: {question}\n\n"
                f"Its memory blocks, exactly as it sees them:\n\n{view}\n\n"
                f"If the blocks do not answer it, call search_messages with agent_id={agent_id!r} and a few "
                "key words to search its whole conversation history. Say so plainly if nothing is found."
            )
        ]


async def _details(service: AgentService, agent_id: str) -> AgentDetails:
    try:
        return await service.get_agent(agent_id)
    except NotFoundError as e:
        raise MCPError(code=INVALID_PARAMS, message=str(e)) from e


async def _memory(service: AgentService, agent_id: str) -> str:
    try:
        return (await service.get_memory(agent_id)).rendered
    except NotFoundError as e:
        raise MCPError(code=INVALID_PARAMS, message=str(e)) from e
