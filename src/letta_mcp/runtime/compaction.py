"""Compaction: keeping the context window under its limit without forgetting.

Before every model call the loop measures the prompt (stored per-message token counts, so
nothing is re-tokenized). Over the trigger (90% of the window by default) the oldest in-context
messages are evicted until the prompt fits the target (70%): cuts land only where a turn or an
assistant step begins, so a tool call is never separated from its result, and the newest user
message always stays. A separate model call summarizes what was evicted *together with the
previous summary*, and the summary becomes the message right after the system message.

Evicted messages only leave the window: they stay in history and in `conversation_search`. If
the summarizer fails, the messages are evicted anyway and a notice carrying the previous summary
takes its place — compaction never wipes the window and never loops.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from letta_mcp.llm.errors import LLMError
from letta_mcp.llm.registry import ProviderRegistry
from letta_mcp.llm.tokens import estimate_message, stored_tokens
from letta_mcp.models import Agent, ChatMessage, Message, ModelRequest, Role, Usage, new_id
from letta_mcp.runtime.memory import format_time
from letta_mcp.runtime.system_message import refresh_system_message
from letta_mcp.store import Store

log = logging.getLogger(__name__)

SUMMARY_KIND = "summary"
WARNING_KIND = "memory_warning"
_SUMMARY_HEADER = (
    "Note: {n} messages from the beginning of the conversation have been hidden from view due to memory "
    "constraints.\nThe following is a summary of the previous messages:\n"
)
_MESSAGE_CLIP = 2_000
_TRANSCRIPT_CLIP = 40_000

SUMMARIZER_PROMPT = """\
You maintain the long-term summary of a conversation between an AI agent and its user. Older \
messages are leaving the agent's context window; your summary is all the agent will keep of them \
in view (the originals stay searchable with conversation_search).

Write a summary of at most {max_words} words, in the third person, covering:
- the user's goals and requests, and what the agent did about them;
- important details: names, dates, numbers, preferences, decisions, commitments;
- errors, open questions and unfinished tasks;
- hints for what to look up with conversation_search when details are needed.
Carry forward every fact from the previous summary that is still true. Output only the summary."""


@dataclass(frozen=True)
class ContextPolicy:
    """Thresholds as fractions of the context window."""

    window: int
    trigger: float = 0.9
    target: float = 0.7
    warning: float = 0.75
    summary_max_words: int = 300

    @property
    def summary_allowance(self) -> int:
        """Room kept for the summary that replaces evicted messages (~1.5 tokens a word)."""
        return self.summary_max_words * 3 // 2 + 40


@dataclass(frozen=True)
class CompactionResult:
    evicted: int
    summary: Message
    summarized: bool  # False when the summarizer failed and a notice was written instead
    usage: Usage


def choose_cut(context: list[Message], fixed_tokens: int, budget: int) -> int | None:
    """Where the kept part starts: ``context[1:cut]`` is evicted, ``context[0]`` (system) kept.

    The smallest valid cut that brings ``fixed_tokens`` plus the kept messages under ``budget``;
    if none does, the largest valid one. None when nothing can be evicted.
    """
    users = [i for i, m in enumerate(context) if m.role is Role.user and m.kind is None]
    last = users[-1] if users else len(context)
    candidates = [k for k in range(2, min(last, len(context) - 1) + 1) if context[k].role is not Role.tool]
    if not candidates:
        return None
    tokens = [stored_tokens(m) for m in context]
    kept = fixed_tokens + tokens[0] + sum(tokens[candidates[0] :])
    for i, k in enumerate(candidates):
        if i:
            kept -= sum(tokens[candidates[i - 1] : k])
        if kept <= budget:
            return k
    return candidates[-1]


def summary_text(message: Message) -> str:
    """The summary inside a stored summary message (without Letta's header)."""
    try:
        body = json.loads(message.content or "")["message"]
    except (ValueError, KeyError, TypeError):
        body = message.content or ""
    marker = "summary of the previous messages:\n"
    return body.split(marker, 1)[1] if marker in body else body


def system_alert(text: str, now: datetime) -> str:
    """Letta's packaging of a runtime notice shown to the model as a user-role message."""
    return json.dumps({"type": "system_alert", "message": text, "time": format_time(now)}, ensure_ascii=False)


def warning_message(agent_id: str, seq: int, now: datetime) -> Message:
    text = (
        "[This is an automated system message hidden from the user] The conversation history will soon reach "
        "its maximum length, and older messages will leave your context window. Do NOT tell the user about "
        "this. Before you reply, save anything important from the conversation that is not yet in memory to "
        "your memory blocks (memory_insert, memory_replace, core_memory_append). Messages that leave the "
        "window stay searchable with conversation_search."
    )
    message = Message(
        id=new_id("message"),
        agent_id=agent_id,
        seq=seq,
        role=Role.user,
        content=system_alert(text, now),
        kind=WARNING_KIND,
        created_at=now,
    )
    return message.model_copy(update={"tokens": estimate_message(message)})


class Compactor:
    def __init__(self, providers: ProviderRegistry, *, summarizer_model: str | None = None) -> None:
        self._providers = providers
        self._summarizer_model = summarizer_model

    async def summarize(
        self, model: str, evicted: list[Message], previous: str | None, max_words: int
    ) -> tuple[str, Usage]:
        provider, name = self._providers.resolve(self._summarizer_model or model)
        parts = []
        if previous:
            parts.append(f"Previous summary:\n{previous}\n")
        parts.append("Messages leaving the context window:\n" + _transcript(evicted))
        response = await provider.complete(
            ModelRequest(
                model=name,
                messages=[
                    ChatMessage(role=Role.system, content=SUMMARIZER_PROMPT.format(max_words=max_words)),
                    ChatMessage(role=Role.user, content="\n".join(parts)),
                ],
            )
        )
        text = (response.content or "").strip()
        if not text:
            raise LLMError("the summarizer returned an empty summary")
        words = text.split()
        if len(words) > max_words * 2:  # a runaway summary would defeat its purpose
            text = " ".join(words[: max_words * 2]) + " …"
        return text, response.usage

    async def compact(
        self, store: Store, agent: Agent, context: list[Message], cut: int, policy: ContextPolicy, now: datetime
    ) -> CompactionResult:
        """Summarize ``context[1:cut]`` (and any previous summary), then evict it in one transaction.

        The summarizer call happens first, outside any transaction. The system message is
        recompiled in the same transaction (its recall-memory count changed).
        """
        agent_id = agent.id
        evicted = context[1:cut]
        previous = next((summary_text(m) for m in evicted if m.kind == SUMMARY_KIND), None)
        conversation = [m for m in evicted if m.kind is None]
        usage = Usage()
        try:
            summary, usage = await self.summarize(agent.model, conversation, previous, policy.summary_max_words)
            summarized = True
        except LLMError as e:
            log.warning("Summarizer failed for %s, evicting without a new summary: %s", agent_id, e)
            summary = (
                f"(A new summary could not be written: {e}. Use conversation_search to recall the hidden "
                "messages.)" + (f"\nEarlier summary:\n{previous}" if previous else "")
            )
            summarized = False
        async with store.write() as q:
            await q.messages.set_in_context([m.id for m in evicted], False)
            total, in_context = await q.messages.counts(agent_id)
            hidden = total - in_context
            message = Message(
                id=new_id("message"),
                agent_id=agent_id,
                seq=await q.messages.next_seq(agent_id),
                role=Role.user,
                content=system_alert(_SUMMARY_HEADER.format(n=hidden) + summary, now),
                kind=SUMMARY_KIND,
                created_at=now,
            )
            message = message.model_copy(update={"tokens": estimate_message(message)})
            await q.messages.insert([message])
            await refresh_system_message(q, agent, now)
        return CompactionResult(evicted=len(evicted), summary=message, summarized=summarized, usage=usage)


def _transcript(messages: list[Message]) -> str:
    lines = []
    for m in messages:
        if m.role is Role.tool:
            lines.append(f"[tool result {m.tool_name}]: {_clip(m.content)}")
            continue
        if m.content:
            lines.append(f"{m.role.value}: {_clip(m.content)}")
        for call in m.tool_calls:
            lines.append(f"[{m.role.value} called {call.name}({_clip(call.arguments)})]")
    text = "\n".join(lines)
    if len(text) > _TRANSCRIPT_CLIP:  # keep the most recent part; the previous summary covers the rest
        text = "…" + text[-_TRANSCRIPT_CLIP:]
    return text


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= _MESSAGE_CLIP else text[:_MESSAGE_CLIP] + "…"
