"""Persistence: SQLite (through aiosqlite) for all state, with numbered migrations.

The store knows rows and transactions, never agent logic. `Store.write()` is the one write path;
`Store.agent_lock()` is the per-agent serialization seam.
"""

from letta_mcp.store.errors import ConflictError, SchemaTooNewError, StoreError
from letta_mcp.store.sqlite import Queries, Store

__all__ = ["ConflictError", "Queries", "SchemaTooNewError", "Store", "StoreError"]
