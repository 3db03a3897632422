"""Numbered PostgreSQL schema migrations, one module each: ``mNNNN_<name>.py`` defining ``STATEMENTS``.

PostgreSQL's own numbering: its first migration is the SQLite schema as of SQLite migration 12,
spelled for PostgreSQL. A change to the schema adds a module here *and* one in
`store.migrations`; `tests/store/test_schema_parity.py` checks both engines end with the same
tables and columns. Replicas starting together migrate one at a time (`pg_advisory_lock`).
"""

from __future__ import annotations

from letta_mcp.store.migrations import Migration, discover

MIGRATIONS: tuple[Migration, ...] = discover(__name__, __path__)
LATEST_VERSION = MIGRATIONS[-1].number
