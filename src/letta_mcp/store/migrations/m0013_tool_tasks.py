"""Migration 13: tool calls run as MCP tasks (``import_agent``, ``compact_context``).

A ``send_message`` task is its run; these tools have no run, so ``tool_tasks`` keeps what a
``tasks/get`` needs after the call's request is gone: who may see it, its status and the tool's
answer (the ``CallToolResult`` as JSON). ``holder`` is the process running it: a ``working`` row
whose process is gone (no row in ``processes``) reads as interrupted.
"""

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
