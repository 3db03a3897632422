"""Migration 2: tool calls run as MCP tasks; SQLite migration 13 (see there)."""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE tool_tasks (
        id          TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        tool        TEXT NOT NULL,
        status      TEXT NOT NULL,
        result      TEXT,
        error       TEXT,
        holder      TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    )
    """,
)
