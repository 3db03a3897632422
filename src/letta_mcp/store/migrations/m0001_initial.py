"""Migration 1: agents, blocks, history, messages (+ full-text index), runs, steps, templates."""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE agents (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        system      TEXT NOT NULL,
        model       TEXT NOT NULL,
        tools       TEXT NOT NULL,          -- JSON list of tool names
        description TEXT,
        metadata    TEXT NOT NULL DEFAULT '{}',
        max_steps   INTEGER NOT NULL DEFAULT 50,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    )
    """,
    "CREATE INDEX agents_name ON agents(name)",
    """
    CREATE TABLE agent_tags (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        tag      TEXT NOT NULL,
        PRIMARY KEY (agent_id, tag)
    )
    """,
    "CREATE INDEX agent_tags_tag ON agent_tags(tag)",
    """
    CREATE TABLE blocks (
        id          TEXT PRIMARY KEY,
        label       TEXT NOT NULL,
        value       TEXT NOT NULL,
        "limit"     INTEGER NOT NULL,
        description TEXT,
        read_only   INTEGER NOT NULL DEFAULT 0,
        metadata    TEXT NOT NULL DEFAULT '{}',
        version     INTEGER NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    )
    """,
    # One label per agent; a block may be linked to several agents (shared memory).
    """
    CREATE TABLE agent_blocks (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        block_id TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
        label    TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (agent_id, label)
    )
    """,
    "CREATE INDEX agent_blocks_block ON agent_blocks(block_id)",
    """
    CREATE TABLE block_history (
        id          TEXT PRIMARY KEY,
        block_id    TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
        version     INTEGER NOT NULL,
        label       TEXT NOT NULL,
        value       TEXT NOT NULL,
        "limit"     INTEGER NOT NULL,
        description TEXT,
        actor       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        UNIQUE (block_id, version)
    )
    """,
    # Every message ever (recall memory). seq orders one agent's history; in_context marks the
    # current window, so loading a step reads only those rows through the partial index.
    """
    CREATE TABLE messages (
        id           TEXT PRIMARY KEY,
        agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        role         TEXT NOT NULL,
        content      TEXT,
        reasoning    TEXT,
        tool_calls   TEXT,                  -- JSON list, NULL when none
        tool_call_id TEXT,
        tool_name    TEXT,
        run_id       TEXT,
        step_id      TEXT,
        in_context   INTEGER NOT NULL DEFAULT 1,
        created_at   TEXT NOT NULL,
        UNIQUE (agent_id, seq)
    )
    """,
    "CREATE INDEX messages_in_context ON messages(agent_id, seq) WHERE in_context = 1",
    "CREATE INDEX messages_run ON messages(run_id)",
    # Full-text index over what people and the agent said (tool traffic is searchable by name
    # through content too). External-content table: the text lives once, in messages.
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, reasoning, content='messages', content_rowid='rowid', tokenize='porter unicode61'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content, reasoning) VALUES (new.rowid, new.content, new.reasoning);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.rowid, old.content, old.reasoning);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, reasoning ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.rowid, old.content, old.reasoning);
        INSERT INTO messages_fts(rowid, content, reasoning) VALUES (new.rowid, new.content, new.reasoning);
    END
    """,
    """
    CREATE TABLE runs (
        id                TEXT PRIMARY KEY,
        agent_id          TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        status            TEXT NOT NULL,
        stop_reason       TEXT,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens      INTEGER NOT NULL DEFAULT 0,
        step_count        INTEGER NOT NULL DEFAULT 0,
        error             TEXT,
        created_at        TEXT NOT NULL,
        completed_at      TEXT
    )
    """,
    "CREATE INDEX runs_agent ON runs(agent_id, created_at)",
    "CREATE INDEX runs_status ON runs(status)",
    """
    CREATE TABLE steps (
        id                TEXT PRIMARY KEY,
        run_id            TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        agent_id          TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        step_index        INTEGER NOT NULL,
        model             TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens      INTEGER NOT NULL DEFAULT 0,
        finish_reason     TEXT,
        error             TEXT,
        created_at        TEXT NOT NULL,
        UNIQUE (run_id, step_index)
    )
    """,
    """
    CREATE TABLE templates (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        description TEXT,
        system      TEXT NOT NULL,
        model       TEXT NOT NULL,
        tools       TEXT NOT NULL,
        tags        TEXT NOT NULL,
        blocks      TEXT NOT NULL,          -- JSON list of block specs (copied into each new agent)
        max_steps   INTEGER NOT NULL DEFAULT 50,
        created_at  TEXT NOT NULL
    )
    """,
)
