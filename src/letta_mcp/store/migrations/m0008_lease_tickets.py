"""Migration 8: turn tickets are never reused.

A ticket's number is its identity: the turn that holds it checks, inside each of its write
transactions, that the ticket still exists (a process that was swept as dead loses its tickets,
so its turn in flight can never commit), and releases it by that number. A plain ``INTEGER
PRIMARY KEY`` hands a deleted number out again (``MAX(rowid) + 1``), so a stalled turn could
find a newer turn's ticket under its own number; ``AUTOINCREMENT`` never reuses one.
"""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE lease_tickets_new (
        ticket       INTEGER PRIMARY KEY AUTOINCREMENT,
        agent_id     TEXT NOT NULL,
        holder       TEXT NOT NULL,
        created_at   REAL NOT NULL
    )
    """,
    "INSERT INTO lease_tickets_new (ticket, agent_id, holder, created_at)"
    " SELECT ticket, agent_id, holder, created_at FROM lease_tickets",
    "DROP TABLE lease_tickets",
    "ALTER TABLE lease_tickets_new RENAME TO lease_tickets",
    "CREATE INDEX lease_tickets_agent ON lease_tickets(agent_id, ticket)",
)
