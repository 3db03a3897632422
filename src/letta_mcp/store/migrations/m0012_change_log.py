"""Migration 12: committed changes, for live views in other processes sharing the database.

Each process appends a row per change it announces (`letta_mcp.service.changes`); processes with
subscribers read the rows after the last one they saw. ``seq`` is the reading order: SQLite
commits one writer at a time, so a higher ``seq`` is always a later commit, and ``AUTOINCREMENT``
never hands out a trimmed number again (a reader holding that number would skip the new row).
Rows are cues kept for about a minute, then trimmed by the writers.
"""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE change_log (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        origin  TEXT NOT NULL,
        change  TEXT NOT NULL,
        at      TEXT NOT NULL
    )
    """,
)
