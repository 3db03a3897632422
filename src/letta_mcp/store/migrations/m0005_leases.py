"""Migration 5: cross-process coordination through the database.

- ``processes``: every server process sharing the data directory, with a heartbeat; a process
  whose heartbeat is older than the lease TTL is dead (crashed or killed);
- ``lease_tickets``: one ticket per waiting or running turn; per agent, the live ticket with the
  lowest rowid runs — so turns run one at a time in arrival order across all processes, and a
  dead process's tickets stop counting once its heartbeat expires;
- ``runs.holder`` / ``runs.input`` / ``runs.cancel_requested`` / ``runs.background``: which
  process runs a run, the accepted input (kept even if the run never starts), cancellation
  requests (seen by whichever process runs it), and whether the caller waited for it.
"""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE processes (
        holder       TEXT PRIMARY KEY,
        pid          INTEGER NOT NULL,
        host         TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        heartbeat_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE lease_tickets (
        ticket       INTEGER PRIMARY KEY,
        agent_id     TEXT NOT NULL,
        holder       TEXT NOT NULL,
        created_at   REAL NOT NULL
    )
    """,
    "CREATE INDEX lease_tickets_agent ON lease_tickets(agent_id, ticket)",
    "ALTER TABLE runs ADD COLUMN holder TEXT",
    "ALTER TABLE runs ADD COLUMN input TEXT",
    "ALTER TABLE runs ADD COLUMN input_role TEXT",
    "ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN background INTEGER NOT NULL DEFAULT 0",
)
