"""Handing one principal's agents to another (`letta-mcp reassign-owner`), an operator's tool.

Principals are namespaced by source (README "Principals"): agents made over stdio belong to
``local``, which no credential can become, and JWT subjects act as ``jwt:<iss>:<sub>``. When an
operator moves people onto other credentials, this moves what they own, in place: agent ids stay,
so clients that remember them keep working. All rows move in one transaction, or none do.
"""

from __future__ import annotations

from letta_mcp.service.errors import ConflictError, InvalidRequestError, NotFoundError
from letta_mcp.store import Store


async def reassign_owner(store: Store, old: str, new: str) -> dict[str, int]:
    """Give every agent, template, block and archive ``old`` owns to ``new``; rows moved by table."""
    if not new.strip() or new != new.strip():
        raise InvalidRequestError(f"The new owner {new!r} must be a principal name without surrounding spaces.")
    if old == new:
        raise InvalidRequestError(f"{old!r} already owns what it owns; name a different new owner.")
    async with store.write() as q:
        clashes = await q.owners.template_clashes(old, new)
        if clashes:
            raise ConflictError(
                f"{new!r} already has templates named {', '.join(map(repr, clashes))}, as {old!r} does; template "
                f"names are unique per owner. Rename or delete one of each pair, then retry. Nothing was moved."
            )
        moved = await q.owners.reassign(old, new)
    if not any(moved.values()):
        raise NotFoundError(f"{old!r} owns nothing here (owner names are exact, e.g. 'local' or 'jwt:<iss>:<sub>').")
    return moved
