"""Persistence: SQLite (the default, in the data directory) or PostgreSQL, behind one contract.

The store knows rows and transactions, never agent logic. `Store.write()` is the one write path;
query modules are written once against `store.db.Db` (see its docstring for the shared SQL).
"""

from letta_mcp.store.errors import ConflictError, SchemaTooNewError, StoreError
from letta_mcp.store.store import Queries, Store

__all__ = ["ConflictError", "Queries", "SchemaTooNewError", "Store", "StoreError"]
