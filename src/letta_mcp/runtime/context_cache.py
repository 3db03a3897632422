"""An in-process cache of agents' context windows, checked against the database on every use.

Loading a window row by row is most of a step's own cost. Messages other than the system message
are immutable once written, and the window only ever changes by appending messages or by evicting
some (a compaction also appends its summary), so a cached window is current exactly when the
highest in-context seq and the in-context count still match. Each load therefore reads the system
message, that stamp from the partial index, and only the rows appended since — also when another
process sharing the data directory wrote them.

Each cached message also keeps the `ChatMessage` it is sent as (`chat_messages`), built once, so
that a step's request reuses the same objects however long the window is and providers can
memoize their wire encoding of each (`llm.openai` does).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from dataclasses import dataclass

from letta_mcp.models import ChatMessage, Message, Role
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

    @classmethod
    def of(cls, rest: tuple[Message, ...]) -> _Entry:
        return cls(rest, tuple(to_chat(m) for m in rest), (max((m.seq for m in rest), default=0), len(rest)))

    def extended(self, new: list[Message]) -> _Entry:
        top = max((m.seq for m in new), default=self.stamp[0])
        stamp = (max(top, self.stamp[0]), self.stamp[1] + len(new))
        return _Entry(self.rest + tuple(new), self.chats + tuple(to_chat(m) for m in new), stamp)


class ContextCache:
    """Per-agent windows, least recently used evicted beyond ``max_agents``."""

    def __init__(self, max_agents: int = 256) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_agents = max_agents

    async def load(self, q: Queries, agent_id: str) -> list[Message]:
        """The agent's current window (system message first); a new list the caller may extend."""
        system = await q.messages.system_message(agent_id)
        stamp = await q.messages.context_stamp(agent_id)
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

    def chat_messages(self, agent_id: str, context: list[Message]) -> list[ChatMessage]:
        """``context`` (from `load`, possibly extended) as chat messages, in order.

        When ``context`` holds the agent's cached window (the same objects, as `load` returns
        them), that part reuses the forms built when it was loaded: only the system message
        (rewritten in place when memory changes, so never cached) and messages added after the
        load are converted here. Anything else is converted in full.
        """
        entry = self._entries.get(agent_id)
        start = 1 if context and context[0].seq == 0 else 0
        end = start + len(entry.rest) if entry is not None else start
        if entry is None or len(context) < end or not all(map(operator.is_, context[start:end], entry.rest)):
            return [to_chat(m) for m in context]
        return [to_chat(m) for m in context[:start]] + list(entry.chats) + [to_chat(m) for m in context[end:]]

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
