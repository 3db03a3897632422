"""Migration 3: archival memory.

SQLite is the source of truth for passages; LanceDB (``<data_dir>/lance``) is only their search
index, rebuilt from these rows whenever it drifts. So the index bookkeeping lives here too:

- ``archives``: a named collection of passages. Each agent gets its own archive the first time it
  uses archival memory (``owner_agent_id``); an archive can be attached to several agents
  (``agent_archives``), which is how agents share knowledge. ``passage_count`` is kept by
  triggers, so ``<memory_metadata>`` never counts rows.
- ``passages``: the text, tags (JSON) and metadata (JSON) of every passage, plus two flags:
  ``fts_indexed`` (the row is in the full-text table) and ``vec_indexed`` (it has a vector in the
  table of the current embedder). Partial indexes make "what is still to index" an index lookup.
- ``passage_tags`` (for tag filters in listings) and ``archive_tags`` (tag → number of passages,
  kept by triggers) for the tag list the agent sees.
- ``archival_index_state``: which embedder (name and dimension) the vectors were made with; when
  the configured embedder changes, every passage is re-embedded and vectors are never mixed.
"""

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE archives (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        description    TEXT,
        owner          TEXT NOT NULL DEFAULT 'local',   -- the principal that owns it (letta_mcp.service.access)
        owner_agent_id TEXT,                            -- the agent whose own archive it is; NULL once deleted
        passage_count  INTEGER NOT NULL DEFAULT 0,      -- kept by triggers
        created_at     TEXT NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX archives_owner_agent ON archives(owner_agent_id) WHERE owner_agent_id IS NOT NULL",
    """
    CREATE TABLE agent_archives (
        agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        archive_id  TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        attached_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, archive_id)
    )
    """,
    "CREATE INDEX agent_archives_archive ON agent_archives(archive_id)",
    """
    CREATE TABLE passages (
        id          TEXT PRIMARY KEY,
        archive_id  TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        text        TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '[]',         -- JSON list, sorted
        metadata    TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        fts_indexed INTEGER NOT NULL DEFAULT 0,
        vec_indexed INTEGER NOT NULL DEFAULT 0
    )
    """,
    # (archive_id, created_at) + the implicit rowid: listing order, with chunks in insertion order
    "CREATE INDEX passages_archive ON passages(archive_id, created_at)",
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
        passages   INTEGER NOT NULL,
        PRIMARY KEY (archive_id, tag)
    )
    """,
    """
    CREATE TRIGGER passages_count_insert AFTER INSERT ON passages BEGIN
        UPDATE archives SET passage_count = passage_count + 1 WHERE id = new.archive_id;
    END
    """,
    """
    CREATE TRIGGER passages_count_delete AFTER DELETE ON passages BEGIN
        UPDATE archives SET passage_count = passage_count - 1 WHERE id = old.archive_id;
    END
    """,
    """
    CREATE TRIGGER passage_tags_count_insert AFTER INSERT ON passage_tags BEGIN
        INSERT INTO archive_tags (archive_id, tag, passages) VALUES (new.archive_id, new.tag, 1)
        ON CONFLICT (archive_id, tag) DO UPDATE SET passages = passages + 1;
    END
    """,
    """
    CREATE TRIGGER passage_tags_count_delete AFTER DELETE ON passage_tags BEGIN
        UPDATE archive_tags SET passages = passages - 1 WHERE archive_id = old.archive_id AND tag = old.tag;
        DELETE FROM archive_tags WHERE archive_id = old.archive_id AND tag = old.tag AND passages <= 0;
    END
    """,
    """
    CREATE TABLE archival_index_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)
