"""An in-process cache of agents' context windows, checked against the database on every use.

Loading a window row by row is most of a step's own cost. Messages other than the system message
are immutable once written, and the window only ever changes by appending messages or by evicting
some (a compaction also appends its summary), so a cached window is current exactly when the
highest in-context seq and the in-context count still match. Each load therefore reads the system
message with that stamp from the partial index (one statement), and only the rows appended since —
also when another process sharing the data directory wrote them.

Each cached message also keeps the `ChatMessage` it is sent as (`chat_messages`), built once, so
that a step's request reuses the same objects however long the window is and providers can
memoize their wire encoding of each (`llm.openai` does); each window keeps its token sums
(`token_sums`) for the same reason. Messages this process appends itself are added to the cached
window as they are committed (`appended`), so the next load reads nothing back.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from dataclasses import dataclass

from letta_mcp.models import ChatMessage, Message, Role
from letta_mcp.runtime.context import window_tokens
from letta_mcp.store import Queries

_SUMMARY = "summary"


@dataclass(frozen=True)
class _Entry:
    rest: tuple[Message, ...]  # the window after the system message, in the order the model reads it
    chats: tuple[ChatMessage, ...]  # ``rest`` as sent to a model, built once per message
    # (max seq, count) of ``rest``: derived from the rows themselves, so a write racing the load can
    # only cause a reload. Kept, not recomputed per load: scanning the window would make every
    # step cost more as the window grows.
    stamp: tuple[int, int]
    tokens: tuple[int, int]  # `window_tokens` of ``rest``, for the same reason

    @classmethod
    def of(cls, rest: tuple[Message, ...]) -> _Entry:
        stamp = (max((m.seq for m in rest), default=0), len(rest))
        return cls(rest, tuple(to_chat(m) for m in rest), stamp, window_tokens(rest))

    def extended(self, new: list[Message]) -> _Entry:
        top = max((m.seq for m in new), default=self.stamp[0])
        stamp = (max(top, self.stamp[0]), self.stamp[1] + len(new))
        added = window_tokens(new)
        tokens = (self.tokens[0] + added[0], self.tokens[1] + added[1])
        return _Entry(self.rest + tuple(new), self.chats + tuple(to_chat(m) for m in new), stamp, tokens)


class ContextCache:
    """Per-agent windows, least recently used evicted beyond ``max_agents``."""

    def __init__(self, max_agents: int = 256) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_agents = max_agents

    async def load(self, q: Queries, agent_id: str) -> list[Message]:
        """The agent's current window (system message first); a new list the caller may extend."""
        system, stamp = await q.messages.system_and_stamp(agent_id)
        entry = self._entries.get(agent_id)
        if entry is None or entry.stamp != stamp:
            entry = await self._refresh(q, agent_id, entry, stamp)
        self._entries[agent_id] = entry
        self._entries.move_to_end(agent_id)
        while len(self._entries) > self._max_agents:
            self._entries.popitem(last=False)
        return ([system] if system else []) + list(entry.rest)

    async def _refresh(self, q: Queries, agent_id: str, entry: _Entry | None, stamp: tuple[int, int]) -> _Entry:
        if entry is not None and stamp[0] > entry.stamp[0]:
            new = await q.messages.in_context_after(agent_id, entry.stamp[0])
            # Appends only: nothing evicted and no new summary (which goes first, not last).
            if entry.stamp[1] + len(new) == stamp[1] and all(m.kind != _SUMMARY for m in new):
                return entry.extended(new)
        return _Entry.of(tuple(m for m in await q.messages.in_context(agent_id) if m.seq != 0))

    def appended(self, agent_id: str, messages: list[Message]) -> None:
        """``messages`` were just committed to the end of the agent's window by this process: the
        cached window takes them (copies) instead of reading them back at the next `load`, which
        still checks the stamp, so a write by anyone else in between still causes a reload."""
        entry = self._entries.get(agent_id)
        if entry is None or not messages:
            return
        if all(m.in_context and m.kind != _SUMMARY and m.seq > entry.stamp[0] for m in messages):
            self._entries[agent_id] = entry.extended([m.model_copy() for m in messages])

    def chat_messages(self, agent_id: str, context: list[Message]) -> list[ChatMessage]:
        """``context`` (from `load`, possibly extended) as chat messages, in order.

        When ``context`` holds the agent's cached window (the same objects, as `load` returns
        them), that part reuses the forms built when it was loaded: only the system message
        (rewritten in place when memory changes, so never cached) and messages added after the
        load are converted here. Anything else is converted in full.
        """
        span = self._cached_span(agent_id, context)
        if span is None:
            return [to_chat(m) for m in context]
        entry, start, end = span
        return [to_chat(m) for m in context[:start]] + list(entry.chats) + [to_chat(m) for m in context[end:]]

    def token_sums(self, agent_id: str, context: list[Message]) -> tuple[int, int]:
        """`window_tokens` of ``context[1:]`` (``context`` from `load` , possibly extended), adding up
        only what is not the cached window."""
        span = self._cached_span(agent_id, context)
        if span is None or span[1] != 1:
            return window_tokens(context[1:])
        entry, _, end = span
        extra = window_tokens(context[end:])
        return entry.tokens[0] + extra[0], entry.tokens[1] + extra[1]

    def _cached_span(self, agent_id: str, context: list[Message]) -> tuple[_Entry, int, int] | None:
        """The agent's cached window and where it lies in ``context`` (start, end), if it holds it
        (the same objects: a C-level identity check, cheap at any length)."""
        entry = self._entries.get(agent_id)
        if entry is None:
            return None
        start = 1 if context and context[0].seq == 0 else 0
        end = start + len(entry.rest)
        if len(context) < end or not all(map(operator.is_, context[start:end], entry.rest)):
            return None
        return entry, start, end

    def forget(self, agent_id: str) -> None:
        self._entries.pop(agent_id, None)


def to_chat(message: Message) -> ChatMessage:
    """A stored message as the provider-neutral chat message a model is sent."""
    return ChatMessage(
        role=message.role,
        content=message.content,
        tool_calls=message.tool_calls,
        tool_call_id=message.tool_call_id,
        name=message.tool_name if message.role is Role.tool else None,
    )
