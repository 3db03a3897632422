"""An in-process cache of agents' context windows, checked against the database on every use.

Loading a window row by row is most of a step's own cost. Messages other than the system message
are immutable once written, and the window only ever changes by appending messages or by evicting
some (a compaction also appends its summary), so a cached window is current exactly when the
highest in-context seq and the in-context count still match. Each load therefore reads the system
message, that stamp from the partial index, and only the rows appended since — also when another
process sharing the data directory wrote them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from letta_mcp.models import Message
from letta_mcp.store import Queries

_SUMMARY = "summary"


@dataclass(frozen=True)
class _Entry:
    rest: tuple[Message, ...]  # the window after the system message, in the order the model reads it

    @property
    def stamp(self) -> tuple[int, int]:
        # Derived from the rows themselves, so a write racing the load can only cause a reload.
        return (max((m.seq for m in self.rest), default=0), len(self.rest))


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
                return _Entry(entry.rest + tuple(new))
        window = await q.messages.in_context(agent_id)
        return _Entry(tuple(m for m in window if m.seq != 0))

    def forget(self, agent_id: str) -> None:
        self._entries.pop(agent_id, None)
