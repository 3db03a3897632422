"""Measuring the context window: what the model would be sent, section by section, in tokens.

The same measurement drives compaction (before each model call) and `get_context`, so what an
operator inspects is exactly what the loop acts on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from letta_mcp.llm.context_windows import context_window_for
from letta_mcp.llm.tokens import REQUEST_OVERHEAD, Calibration, estimate_text, estimate_tools, stored_tokens
from letta_mcp.models import Agent, Block, Message, ToolSchema
from letta_mcp.runtime.compaction import SUMMARY_KIND, ContextPolicy, summary_text
from letta_mcp.runtime.memory import render_blocks


@dataclass(frozen=True)
class ContextConfig:
    """Compaction settings shared by all agents (the window itself is per model / per agent)."""

    trigger: float = 0.9
    target: float = 0.7
    warning: float = 0.75
    summary_max_words: int = 300
    summarizer_model: str | None = None
    windows: Mapping[str, int] = field(default_factory=dict)

    def policy(self, agent: Agent) -> ContextPolicy:
        window = agent.context_window or context_window_for(agent.model, self.windows)
        return ContextPolicy(
            window=window,
            trigger=self.trigger,
            target=self.target,
            warning=self.warning,
            summary_max_words=self.summary_max_words,
        )


@dataclass(frozen=True)
class Measure:
    """Raw (uncalibrated) token estimates of one request."""

    system: int
    summary: int
    messages: int
    tools: int
    overhead: int = REQUEST_OVERHEAD

    @property
    def fixed(self) -> int:
        """What compaction cannot evict: tool schemas and request framing."""
        return self.tools + self.overhead

    @property
    def total(self) -> int:
        return self.system + self.summary + self.messages + self.tools + self.overhead


def measure(context: list[Message], tools: list[ToolSchema], sums: tuple[int, int] | None = None) -> Measure:
    """``sums``: `window_tokens` of ``context[1:]`` when the caller has them (`ContextCache.token_sums`
    keeps them with each window, so a step need not add up thousands of counts)."""
    system = stored_tokens(context[0]) if context else 0
    summary, messages = window_tokens(context[1:]) if sums is None else sums
    return Measure(system=system, summary=summary, messages=messages, tools=estimate_tools(tools))


def window_tokens(messages: Iterable[Message]) -> tuple[int, int]:
    """Raw token counts of window messages after the system message: (summary, conversation)."""
    summary = conversation = 0
    for m in messages:
        if m.kind == SUMMARY_KIND:
            summary += stored_tokens(m)
        else:
            conversation += stored_tokens(m)
    return summary, conversation


@dataclass(frozen=True)
class Section:
    name: str
    tokens: int


@dataclass(frozen=True)
class ContextOverview:
    agent_id: str
    model: str
    context_window: int
    calibration_ratio: float
    sections: list[Section]
    total_tokens: int  # raw estimate; the sections add up to it
    estimated_prompt_tokens: int  # calibrated to what the provider reports
    percent_used: float
    messages_in_context: int
    messages_in_history: int
    summary: str | None
    trigger_tokens: int
    target_tokens: int


def overview(
    agent: Agent,
    blocks: list[Block],
    context: list[Message],
    tools: list[ToolSchema],
    messages_in_history: int,
    config: ContextConfig,
    calibration: Calibration,
) -> ContextOverview:
    """Every section of the next request with its token count.

    The system message is split into prompt, each block and metadata; metadata takes whatever
    remains, so the parts always sum to the system message's stored count.
    """
    m = measure(context, tools)
    policy = config.policy(agent)
    prompt = min(estimate_text(agent.system), m.system)
    block_sections = [Section(f"memory_block:{b.label}", estimate_text(render_blocks([b]))) for b in blocks]
    used = prompt + sum(s.tokens for s in block_sections)
    if used > m.system:  # estimates of parts can exceed the whole by rounding; scale them down
        block_sections = [
            Section(s.name, s.tokens * max(m.system - prompt, 0) // max(used - prompt, 1)) for s in block_sections
        ]
        used = prompt + sum(s.tokens for s in block_sections)
    sections = [
        Section("system_prompt", prompt),
        *block_sections,
        Section("memory_metadata", m.system - used),
        Section("summary", m.summary),
        Section("messages", m.messages),
        Section("tool_schemas", m.tools),
        Section("request_overhead", m.overhead),
    ]
    ratio = calibration.ratio(agent.model)
    estimated = round(m.total * ratio)
    summary = next((summary_text(msg) for msg in context if msg.kind == SUMMARY_KIND), None)
    return ContextOverview(
        agent_id=agent.id,
        model=agent.model,
        context_window=policy.window,
        calibration_ratio=round(ratio, 4),
        sections=sections,
        total_tokens=m.total,
        estimated_prompt_tokens=estimated,
        percent_used=round(100 * estimated / policy.window, 2),
        messages_in_context=len(context),
        messages_in_history=messages_in_history,
        summary=summary,
        trigger_tokens=int(policy.trigger * policy.window),
        target_tokens=int(policy.target * policy.window),
    )
