"""Migration 1: the whole schema of SQLite migrations 1–12, in PostgreSQL's spelling.

Column types mirror SQLite's so rows read back alike: TEXT (timestamps are fixed-width ISO text,
JSON is text), BIGINT for SQLite's INTEGER (flags are 0/1), DOUBLE PRECISION for REAL. ``rowid``
is an identity column where the queries order by insertion (SQLite's implicit rowid). What SQLite
does with FTS5 and triggers is done here with an expression GIN index and plpgsql triggers.
"""

# The text `MessageQueries` searches; the same expression in the index and the query.
MESSAGE_SEARCH_TEXT = "to_tsvector('english', coalesce(content, '') || ' ' || coalesce(reasoning, ''))"

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE agents (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        system         TEXT NOT NULL,
        model          TEXT NOT NULL,
        tools          TEXT NOT NULL,
        description    TEXT,
        metadata       TEXT NOT NULL DEFAULT '{}',
        max_steps      BIGINT NOT NULL DEFAULT 50,
        created_at     TEXT NOT NULL,
        updated_at     TEXT NOT NULL,
        context_window BIGINT,
        owner          TEXT NOT NULL DEFAULT 'local',
        tool_rules     TEXT NOT NULL DEFAULT '[]'
    )
    """,
    "CREATE INDEX agents_name ON agents(name)",
    "CREATE INDEX agents_owner ON agents(owner, created_at)",
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
        "limit"     BIGINT NOT NULL,
        description TEXT,
        read_only   BIGINT NOT NULL DEFAULT 0,
        metadata    TEXT NOT NULL DEFAULT '{}',
        version     BIGINT NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        owner       TEXT,
        standalone  BIGINT NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX blocks_owner ON blocks(owner, label)",
    """
    CREATE TABLE agent_blocks (
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        block_id TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
        label    TEXT NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (agent_id, label)
    )
    """,
    "CREATE INDEX agent_blocks_block ON agent_blocks(block_id)",
    """
    CREATE TABLE block_history (
        id          TEXT PRIMARY KEY,
        block_id    TEXT NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
        version     BIGINT NOT NULL,
        label       TEXT NOT NULL,
        value       TEXT NOT NULL,
        "limit"     BIGINT NOT NULL,
        description TEXT,
        actor       TEXT NOT NULL,
        reason      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        run_id      TEXT,
        UNIQUE (block_id, version)
    )
    """,
    """
    CREATE TABLE messages (
        rowid        BIGINT GENERATED ALWAYS AS IDENTITY,
        id           TEXT PRIMARY KEY,
        agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        seq          BIGINT NOT NULL,
        role         TEXT NOT NULL,
        content      TEXT,
        reasoning    TEXT,
        tool_calls   TEXT,
        tool_call_id TEXT,
        tool_name    TEXT,
        run_id       TEXT,
        step_id      TEXT,
        in_context   BIGINT NOT NULL DEFAULT 1,
        created_at   TEXT NOT NULL,
        tokens       BIGINT,
        kind         TEXT,
        UNIQUE (agent_id, seq)
    )
    """,
    "CREATE INDEX messages_in_context ON messages(agent_id, seq) WHERE in_context = 1",
    "CREATE INDEX messages_run ON messages(run_id)",
    f"CREATE INDEX messages_search ON messages USING gin ({MESSAGE_SEARCH_TEXT})",
    """
    CREATE TABLE runs (
        id                TEXT PRIMARY KEY,
        agent_id          TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        status            TEXT NOT NULL,
        stop_reason       TEXT,
        prompt_tokens     BIGINT NOT NULL DEFAULT 0,
        completion_tokens BIGINT NOT NULL DEFAULT 0,
        total_tokens      BIGINT NOT NULL DEFAULT 0,
        step_count        BIGINT NOT NULL DEFAULT 0,
        error             TEXT,
        created_at        TEXT NOT NULL,
        completed_at      TEXT,
        holder            TEXT,
        input             TEXT,
        input_role        TEXT,
        cancel_requested  BIGINT NOT NULL DEFAULT 0,
        background        BIGINT NOT NULL DEFAULT 0,
        parent_run_id     TEXT
    )
    """,
    "CREATE INDEX runs_agent ON runs(agent_id, created_at)",
    "CREATE INDEX runs_status ON runs(status)",
    "CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL",
    """
    CREATE TABLE steps (
        id                TEXT PRIMARY KEY,
        run_id            TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        agent_id          TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        step_index        BIGINT NOT NULL,
        model             TEXT NOT NULL,
        prompt_tokens     BIGINT NOT NULL DEFAULT 0,
        completion_tokens BIGINT NOT NULL DEFAULT 0,
        total_tokens      BIGINT NOT NULL DEFAULT 0,
        finish_reason     TEXT,
        error             TEXT,
        created_at        TEXT NOT NULL,
        UNIQUE (run_id, step_index)
    )
    """,
    """
    CREATE TABLE token_calibration (
        model      TEXT PRIMARY KEY,
        ratio      DOUBLE PRECISION NOT NULL,
        samples    BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE archives (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        description    TEXT,
        owner          TEXT NOT NULL DEFAULT 'local',
        owner_agent_id TEXT,
        passage_count  BIGINT NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX archives_owner_agent ON archives(owner_agent_id) WHERE owner_agent_id IS NOT NULL",
    """
    CREATE TABLE agent_archives (
        agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        archive_id  TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        attached_at TEXT NOT NULL,
        writable    BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (agent_id, archive_id)
    )
    """,
    "CREATE INDEX agent_archives_archive ON agent_archives(archive_id)",
    """
    CREATE TABLE passages (
        rowid       BIGINT GENERATED ALWAYS AS IDENTITY,
        id          TEXT PRIMARY KEY,
        archive_id  TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        text        TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '[]',
        metadata    TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        fts_indexed BIGINT NOT NULL DEFAULT 0,
        vec_indexed BIGINT NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX passages_archive ON passages(archive_id, created_at, rowid)",
    "CREATE INDEX passages_fts_pending ON passages(archive_id) WHERE fts_indexed = 0",
    "CREATE INDEX passages_vec_pending ON passages(archive_id) WHERE vec_indexed = 0",
    """
    CREATE TABLE passage_tags (
        passage_id TEXT NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        archive_id TEXT NOT NULL,
        tag        TEXT NOT NULL,
        PRIMARY KEY (passage_id, tag)
    )
    """,
    "CREATE INDEX passage_tags_archive ON passage_tags(archive_id, tag)",
    """
    CREATE TABLE archive_tags (
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        tag        TEXT NOT NULL,
        passages   BIGINT NOT NULL,
        PRIMARY KEY (archive_id, tag)
    )
    """,
    # The archive and tag counters SQLite keeps with triggers.
    """
    CREATE FUNCTION passages_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE archives SET passage_count = passage_count + 1 WHERE id = NEW.archive_id;
        ELSE
            UPDATE archives SET passage_count = passage_count - 1 WHERE id = OLD.archive_id;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER passages_count AFTER INSERT OR DELETE ON passages FOR EACH ROW EXECUTE FUNCTION passages_count()",
    """
    CREATE FUNCTION passage_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO archive_tags (archive_id, tag, passages) VALUES (NEW.archive_id, NEW.tag, 1)
            ON CONFLICT (archive_id, tag) DO UPDATE SET passages = archive_tags.passages + 1;
        ELSE
            UPDATE archive_tags SET passages = passages - 1 WHERE archive_id = OLD.archive_id AND tag = OLD.tag;
            DELETE FROM archive_tags WHERE archive_id = OLD.archive_id AND tag = OLD.tag AND passages <= 0;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER passage_tags_count AFTER INSERT OR DELETE ON passage_tags"
    " FOR EACH ROW EXECUTE FUNCTION passage_tags_count()",
    """
    CREATE TABLE archival_index_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE templates (
        id          TEXT PRIMARY KEY,
        owner       TEXT NOT NULL DEFAULT 'local',
        name        TEXT NOT NULL,
        description TEXT,
        system      TEXT NOT NULL,
        model       TEXT NOT NULL,
        tools       TEXT NOT NULL,
        tags        TEXT NOT NULL,
        blocks      TEXT NOT NULL,
        max_steps   BIGINT NOT NULL DEFAULT 50,
        created_at  TEXT NOT NULL,
        UNIQUE (owner, name)
    )
    """,
    """
    CREATE TABLE processes (
        holder       TEXT PRIMARY KEY,
        pid          BIGINT NOT NULL,
        host         TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE TABLE inactive_tools (
        agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        tool_type   TEXT,
        description TEXT,
        json_schema TEXT NOT NULL DEFAULT '{}',
        source_type TEXT,
        source_code TEXT,
        tags        TEXT NOT NULL DEFAULT '[]',
        metadata    TEXT NOT NULL DEFAULT '{}',
        reason      TEXT NOT NULL,
        PRIMARY KEY (agent_id, name)
    )
    """,
    """
    CREATE TABLE agent_groups (
        id               TEXT PRIMARY KEY,
        manager_type     TEXT NOT NULL,
        manager_agent_id TEXT REFERENCES agents(id) ON DELETE SET NULL,
        config           TEXT NOT NULL DEFAULT '{}',
        description      TEXT,
        enabled          BIGINT NOT NULL DEFAULT 0,
        created_at       TEXT NOT NULL
    )
    """,
    "CREATE INDEX agent_groups_manager ON agent_groups(manager_agent_id, manager_type)",
    """
    CREATE TABLE agent_group_members (
        group_id TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        position BIGINT NOT NULL,
        PRIMARY KEY (group_id, agent_id)
    )
    """,
    "CREATE INDEX agent_group_members_agent ON agent_group_members(agent_id)",
    """
    CREATE TABLE lease_tickets (
        ticket     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        agent_id   TEXT NOT NULL,
        holder     TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )
    """,
    "CREATE INDEX lease_tickets_agent ON lease_tickets(agent_id, ticket)",
    """
    CREATE TABLE change_log (
        seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        origin TEXT NOT NULL,
        change TEXT NOT NULL,
        at     TEXT NOT NULL
    )
    """,
)
