"""MCP tools for Letta Agent Files (.af): export an agent, import one as new agents."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Literal

import anyio
from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from letta_mcp.models import AgentGroup
from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import AgentId
from letta_mcp.service import AgentService, ImportedAgent, ImportResult

MAX_DOCUMENT_CHARS = 64 * 1024 * 1024


class ExportOut(BaseModel):
    agent_id: str
    agents: int = Field(description="Agents in the file: the one asked for and the others of its groups.")
    messages: int
    passages: int
    document: str = Field(description="The Letta Agent File as JSON text: save it as NAME.af.")


class InactiveToolOut(BaseModel):
    name: str
    tool_type: str | None
    reason: str


class ImportedAgentOut(BaseModel):
    id: str
    name: str
    file_id: str = Field(description="The agent's id inside the file (e.g. 'agent-0').")
    model: str
    blocks: int
    messages: int
    messages_in_context: int
    passages: int
    tools: list[str] = Field(description="Tools the agent can use here.")
    mapped_tools: dict[str, list[str]] = Field(description="Letta tools replaced by letta-mcp's equivalents.")
    inactive_tools: list[InactiveToolOut] = Field(description="Tools recorded but not available, with why.")

    @classmethod
    def of(cls, imported: ImportedAgent) -> ImportedAgentOut:
        agent = imported.agent
        return cls(
            id=agent.id,
            name=agent.name,
            file_id=imported.file_id,
            model=agent.model,
            blocks=imported.blocks,
            messages=imported.messages,
            messages_in_context=imported.messages_in_context,
            passages=imported.passages,
            tools=agent.tools,
            mapped_tools=imported.mapped_tools,
            inactive_tools=[InactiveToolOut(name=t.name, tool_type=t.tool_type, reason=t.reason)
                            for t in imported.inactive_tools],
        )  # fmt: skip


class GroupOut(BaseModel):
    id: str
    manager_type: str
    manager_agent_id: str | None
    agent_ids: list[str]
    enabled: bool = Field(description="False: stored only; nothing runs the group yet.")

    @classmethod
    def of(cls, group: AgentGroup) -> GroupOut:
        return cls(**group.model_dump(include={"id", "manager_type", "manager_agent_id", "agent_ids", "enabled"}))


class ImportOut(BaseModel):
    agent_id: str = Field(description="The new id of the file's main agent: talk to it with send_message.")
    agents: list[ImportedAgentOut]
    groups: list[GroupOut]
    notes: list[str] = Field(description="What was adapted or left out on the way in.")

    @classmethod
    def of(cls, result: ImportResult) -> ImportOut:
        return cls(
            agent_id=result.agents[0].agent.id,
            agents=[ImportedAgentOut.of(a) for a in result.agents],
            groups=[GroupOut.of(g) for g in result.groups],
            notes=result.notes,
        )


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Export agent", readOnlyHint=True))
    @tool_errors
    async def export_agent(
        agent_id: AgentId,
        messages: Annotated[
            Literal["all", "in_context", "none"],
            Field(description="History to include."),
        ] = "all",
        archival: Annotated[bool, Field()] = True,
    ) -> ExportOut:
        """Export an agent with its memory, history and archival passages as a Letta Agent File (.af)."""
        document = await service.export_agent(agent_id, messages=messages, archival=archival)
        extension = document["letta_mcp"]["agents"]
        return ExportOut(
            agent_id=agent_id,
            agents=len(document["agents"]),
            messages=sum(len(a["messages"]) for a in document["agents"]),
            passages=sum(len(a["passages"]) for a in extension.values()),
            document=await anyio.to_thread.run_sync(functools.partial(json.dumps, document, ensure_ascii=False)),
        )

    @mcp.tool(annotations=ToolAnnotations(title="Import agent", destructiveHint=False))
    @tool_errors
    async def import_agent(
        document: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_DOCUMENT_CHARS,
                description="The .af file's text.",
            ),
        ],
        name: Annotated[
            str | None, Field(min_length=1, max_length=200, description="New name for the main agent.")
        ] = None,
        strip_messages: Annotated[bool, Field(description="Start without the file's message history.")] = False,
    ) -> ImportOut:
        """Import a Letta Agent File (.af) as new agents; imported code never runs."""
        return ImportOut.of(await service.import_agent(document, name=name, strip_messages=strip_messages))
