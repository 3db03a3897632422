"""MCP tools and resource for the context window: inspect it, compact it."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from letta_mcp.server.errors import resource_errors, tool_errors
from letta_mcp.server.schemas import AgentId
from letta_mcp.service import AgentService, ContextOverview


class ContextSection(BaseModel):
    name: str = Field(
        description="system_prompt, memory_block:<label>, memory_metadata, summary, messages, "
        "tool_schemas or request_overhead."
    )
    tokens: int = Field(description="Raw estimate (before calibration).")


class ContextOut(BaseModel):
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
    compaction_trigger_tokens: int = Field(description="Compaction runs when estimated_prompt_tokens exceeds this.")
    compaction_target_tokens: int = Field(description="Compaction evicts until estimated_prompt_tokens is below this.")

    @classmethod
    def of(cls, o: ContextOverview) -> ContextOut:
        return cls(
            agent_id=o.agent_id,
            model=o.model,
            context_window=o.context_window,
            sections=[ContextSection(name=s.name, tokens=s.tokens) for s in o.sections],
            total_tokens=o.total_tokens,
            estimated_prompt_tokens=o.estimated_prompt_tokens,
            calibration_ratio=o.calibration_ratio,
            percent_used=o.percent_used,
            messages_in_context=o.messages_in_context,
            messages_in_history=o.messages_in_history,
            summary=o.summary,
            compaction_trigger_tokens=o.trigger_tokens,
            compaction_target_tokens=o.target_tokens,
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
        """Show what the agent's model would receive now: each section (system prompt, every memory
        block, metadata, summary, messages, tool schemas) with its token count, the window size and
        how full it is, and how many messages are in context versus in the whole history."""
        return ContextOut.of(await service.get_context(agent_id))

    @mcp.tool(annotations=ToolAnnotations(title="Compact context window", destructiveHint=False))
    @tool_errors
    async def compact_context(agent_id: AgentId) -> CompactOut:
        """Compact the agent's context window now: the oldest messages are summarized and leave the
        window (they stay in history and searchable). Agents compact automatically before they run
        out of room; use this to free space early."""
        result = await service.compact_context(agent_id)
        after = ContextOut.of(await service.get_context(agent_id))
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
        return ContextOut.of(await service.get_context(agent_id)).model_dump_json()
