"""MCP tools and resource for the context window: inspect it, compact it."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import AliasChoices, BaseModel, Field

from letta_mcp.server.client_model import client_model
from letta_mcp.server.errors import resource_errors, tool_errors
from letta_mcp.server.schemas import AgentId, FromDomain
from letta_mcp.service import AgentService, lending


class ContextSection(FromDomain):
    name: str = Field(
        description="system_prompt, memory_block:<label>, memory_metadata, summary, messages, "
        "tool_schemas or request_overhead."
    )
    tokens: int = Field(description="Raw estimate (before calibration).")


class ContextOut(FromDomain):
    agent_id: str
    model: str
    context_window: int = Field(description="The agent's window in tokens.")
    sections: list[ContextSection] = Field(description="Every part of the next request; they add up to total_tokens.")
    total_tokens: int = Field(description="Raw estimate of the next request (sum of sections), before calibration.")
    estimated_prompt_tokens: int = Field(
        description="total_tokens x calibration_ratio: the prompt tokens the provider will count. percent_used and "
        "compaction use this number."
    )
    calibration_ratio: float = Field(
        description="Provider-reported / raw-estimated prompt tokens, learned from this model's calls (1.0 before any)."
    )
    percent_used: float = Field(description="estimated_prompt_tokens / context_window, in percent.")
    messages_in_context: int = Field(description="Messages the model sees now, the system message included.")
    messages_in_history: int = Field(description="Every message stored, also those compacted out of the window.")
    summary: str | None = Field(description="The current compaction summary, if older messages were evicted.")
    # The runtime's names, prefixed here for a reader who sees no other context. Schemas show the first
    # of the AliasChoices, so clients see the field's own name.
    compaction_trigger_tokens: int = Field(
        validation_alias=AliasChoices("compaction_trigger_tokens", "trigger_tokens"),
        description="Compaction runs when estimated_prompt_tokens exceeds this.",
    )
    compaction_target_tokens: int = Field(
        validation_alias=AliasChoices("compaction_target_tokens", "target_tokens"),
        description="Compaction evicts until estimated_prompt_tokens is below this.",
    )


class CompactOut(BaseModel):
    agent_id: str
    compacted: bool = Field(description="False when there was nothing that could be evicted.")
    messages_evicted: int
    summarized: bool = Field(description="False if the summarizer failed and a notice was kept instead.")
    summary: str | None
    context: ContextOut = Field(description="The context window after compaction.")


def register(mcp: MCPServer, service: AgentService) -> None:
    @mcp.tool(annotations=ToolAnnotations(title="Get context window", readOnlyHint=True))
    @tool_errors
    async def get_context(agent_id: AgentId) -> ContextOut:
        """What the agent's model would receive now: tokens per section and how full the window is."""
        return ContextOut.model_validate(await service.get_context(agent_id))

    @mcp.tool(annotations=ToolAnnotations(title="Compact context window", destructiveHint=False))
    @tool_errors
    async def compact_context(agent_id: AgentId, ctx: Context | None = None) -> CompactOut:
        """Summarize the oldest messages out of the context window now (they stay searchable)."""
        with lending(client_model(ctx)):  # a 'client'-model agent's summary is written by our model
            result = await service.compact_context(agent_id)
        after = ContextOut.model_validate(await service.get_context(agent_id))
        if result is None:
            return CompactOut(
                agent_id=agent_id,
                compacted=False,
                messages_evicted=0,
                summarized=False,
                summary=after.summary,
                context=after,
            )
        return CompactOut(
            agent_id=agent_id,
            compacted=True,
            messages_evicted=result.evicted,
            summarized=result.summarized,
            summary=after.summary,
            context=after,
        )

    @mcp.resource(
        "letta://agents/{agent_id}/context",
        name="agent_context",
        mime_type="application/json",
        description="The agent's context window: sections with token counts, window size, % used.",
    )
    @resource_errors
    async def context(agent_id: str) -> str:
        return ContextOut.model_validate(await service.get_context(agent_id)).model_dump_json()
