"""Who is acting, and what they may see.

Every agent and template is owned by a *principal*, a name such as ``alice``. Blocks, messages
and runs belong to their agent's owner. One request runs as one principal:

- `LOCAL` is the person at this machine: the stdio transport, library use, and HTTP without auth.
  It owns what it creates under the name ``local`` and sees everything.
- A principal authenticated over HTTP (a bearer token or a JWT) sees only what it owns, unless the
  operator made it an admin (``auth.admins``), which sees everything like `LOCAL`.

The acting principal travels in a context variable that server/ sets around each MCP request
(`acting_as`). It is ambient rather than a parameter of every service method on purpose: the
service checks it where every use-case passes (loading an agent, a template or a run), so a tool
added later cannot forget to pass it along and leak another principal's agents. An id the acting
principal may not see is reported exactly like an id that does not exist, so existence never leaks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from letta_mcp.config import LOCAL_PRINCIPAL as LOCAL_NAME


@dataclass(frozen=True)
class Principal:
    """An identity objects are owned by; ``full_access`` sees (and may change) every principal's."""

    name: str
    full_access: bool = False

    def may_see(self, owner: str) -> bool:
        return self.full_access or owner == self.name

    @property
    def owner_filter(self) -> str | None:
        """The owner to filter listings by; ``None`` lists everyone's."""
        return None if self.full_access else self.name


LOCAL = Principal(LOCAL_NAME, full_access=True)

_acting: ContextVar[Principal] = ContextVar("letta_mcp_principal", default=LOCAL)


def current_principal() -> Principal:
    """The principal the current request runs as (`LOCAL` outside any `acting_as`)."""
    return _acting.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Run the enclosed code (and the tasks it starts) as ``principal``."""
    token = _acting.set(principal)
    try:
        yield principal
    finally:
        _acting.reset(token)
