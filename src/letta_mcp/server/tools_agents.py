"""MCP tools for agents: create, list, get, update, delete."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from letta_mcp.models import BlockSpec, ToolRule
from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import (
    MAX_POSITION,
    AgentId,
    AgentList,
    AgentOut,
    AgentSummary,
    BlockInput,
    Deleted,
    ToolRuleIn,
)
from letta_mcp.service import AgentService

Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]] | None,
    Field(description="e.g. ['user:sarah'].", max_length=50),
]
ContextWindow = Annotated[
    int | None,
    Field(
        ge=1_000,
        le=10_000_000,
        description="Tokens (default: the model's).",
    ),
]
ToolNames = Annotated[
    list[str] | None,
    Field(description="Built-in tools (default: memory, conversation_search, archival)."),
]


EnableSleeptime = Annotated[bool | None, Field(description="Add a sleep-time agent that curates its memory.")]
SleeptimeFrequency = Annotated[
    int | None, Field(ge=1, le=1000, description="Sleep-time run every N turns (default 5).")
]
ToolRules = Annotated[list[ToolRuleIn] | None, Field(max_length=100, description="Letta tool rules (see README).")]


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Create agent", destructiveHint=False))
    @tool_errors
    async def create_agent(
        name: Annotated[str | None, Field(max_length=200)] = None,
        persona: Annotated[str | None, Field(description="Who it is.", max_length=1_000_000)] = None,
        human: Annotated[
            str | None,
            Field(
                description="What it knows about its user.",
                max_length=1_000_000,
            ),
        ] = None,
        blocks: Annotated[
            list[BlockInput] | None,
            Field(description="More blocks.", max_length=100),
        ] = None,
        system: Annotated[
            str | None,
            Field(
                description="Replaces the default system prompt.",
                max_length=200_000,
            ),
        ] = None,
        model: Annotated[
            str | None,
            Field(
                description="'provider/model', e.g. 'openai/gpt-4o-mini'; 'client': your own model (sampling).",
                max_length=200,
            ),
        ] = None,
        tools: ToolNames = None,
        tags: Tags = None,
        description: Annotated[str | None, Field(max_length=2000)] = None,
        template: Annotated[str | None, Field(max_length=200, description="Template name or id to start from.")] = None,
        max_steps: Annotated[int | None, Field(ge=1, le=1000, description="LLM calls per message.")] = None,
        context_window: ContextWindow = None,
        include_multi_agent_tools: Annotated[bool, Field(description="Tools to message your other agents.")] = False,
        enable_sleeptime: EnableSleeptime = None,
        sleeptime_agent_frequency: SleeptimeFrequency = None,
        tool_rules: ToolRules = None,
    ) -> AgentOut:
        """Create a stateful agent (keep its `id`): one conversation, memory blocks it edits itself.
        Talk to it with send_message."""
        details = await service.create_agent(
            name=name,
            persona=persona,
            human=human,
            blocks=[BlockSpec(**b.model_dump()) for b in blocks] if blocks is not None else None,
            system=system,
            model=model,
            tools=tools,
            tags=tags,
            description=description,
            template=template,
            max_steps=max_steps,
            context_window=context_window,
            include_multi_agent_tools=include_multi_agent_tools,
            enable_sleeptime=bool(enable_sleeptime),
            sleeptime_agent_frequency=sleeptime_agent_frequency,
            tool_rules=_rules(tool_rules),
        )
        return AgentOut.of_details(details)

    @mcp.tool(annotations=ToolAnnotations(title="List agents", readOnlyHint=True))
    @tool_errors
    async def list_agents(
        tags: Tags = None,
        match_all_tags: Annotated[bool, Field(description="Every tag (default: any of them).")] = False,
        name: Annotated[str | None, Field(max_length=200, description="Part of the name.")] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        offset: Annotated[int, Field(ge=0, le=MAX_POSITION, description="From next_offset.")] = 0,
    ) -> AgentList:
        """Find agents (newest first), by tags or name."""
        agents = await service.list_agents(
            tags=tags, match_all_tags=match_all_tags, name=name, limit=limit + 1, offset=offset
        )
        return AgentList(
            agents=[AgentSummary.model_validate(a) for a in agents[:limit]],
            next_offset=offset + limit if len(agents) > limit else None,
        )

    @mcp.tool(annotations=ToolAnnotations(title="Get agent", readOnlyHint=True))
    @tool_errors
    async def get_agent(agent_id: AgentId) -> AgentOut:
        """An agent's configuration, memory blocks and message counts."""
        return AgentOut.of_details(await service.get_agent(agent_id))

    @mcp.tool(annotations=ToolAnnotations(title="Update agent", idempotentHint=True))
    @tool_errors
    async def update_agent(
        agent_id: AgentId,
        name: Annotated[str | None, Field(max_length=200)] = None,
        system: Annotated[str | None, Field(description="New system prompt.", max_length=200_000)] = None,
        model: Annotated[str | None, Field(max_length=200, description="'provider/model' or 'client'.")] = None,
        tools: ToolNames = None,
        tags: Annotated[list[str] | None, Field(description="Replaces all tags.")] = None,
        description: Annotated[str | None, Field(max_length=2000)] = None,
        max_steps: Annotated[int | None, Field(ge=1, le=1000)] = None,
        context_window: ContextWindow = None,
        enable_sleeptime: EnableSleeptime = None,
        sleeptime_agent_frequency: SleeptimeFrequency = None,
        tool_rules: ToolRules = None,
    ) -> AgentSummary:
        """Change an agent's settings; only the arguments given change (memory: update_block)."""
        agent = await service.update_agent(
            agent_id,
            name=name,
            system=system,
            model=model,
            tools=tools,
            tags=tags,
            description=description,
            max_steps=max_steps,
            context_window=context_window,
            enable_sleeptime=enable_sleeptime,
            sleeptime_agent_frequency=sleeptime_agent_frequency,
            tool_rules=_rules(tool_rules),
        )
        return AgentSummary.model_validate(agent)

    @mcp.tool(annotations=ToolAnnotations(title="Delete agent", destructiveHint=True))
    @tool_errors
    async def delete_agent(agent_id: AgentId) -> Deleted:
        """Delete an agent with its history and runs, for good (blocks other agents share stay)."""
        await service.delete_agent(agent_id)
        return Deleted(id=agent_id)


def _rules(rules: list[ToolRuleIn] | None) -> list[ToolRule] | None:
    return None if rules is None else [ToolRule.model_validate(rule.model_dump()) for rule in rules]
