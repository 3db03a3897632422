"""Migration 4: ownership.

- ``agents.owner``: the principal that owns the agent (its blocks, messages and runs follow it);
  rows written before ownership existed belong to the local user, ``local``;
- ``templates.owner``: likewise, and template names become unique per owner instead of globally
  (another principal's template name must neither clash with nor reveal yours). SQLite cannot
  drop a UNIQUE constraint, so the table is rebuilt with its rows copied over.
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE agents ADD COLUMN owner TEXT NOT NULL DEFAULT 'local'",
    "CREATE INDEX agents_owner ON agents(owner, created_at)",
    """
    CREATE TABLE templates_owned (
        id          TEXT PRIMARY KEY,
        owner       TEXT NOT NULL DEFAULT 'local',
        name        TEXT NOT NULL,
        description TEXT,
        system      TEXT NOT NULL,
        model       TEXT NOT NULL,
        tools       TEXT NOT NULL,
        tags        TEXT NOT NULL,
        blocks      TEXT NOT NULL,
        max_steps   INTEGER NOT NULL DEFAULT 50,
        created_at  TEXT NOT NULL,
        UNIQUE (owner, name)
    )
    """,
    """
    INSERT INTO templates_owned (id, owner, name, description, system, model, tools, tags, blocks, max_steps,
                                 created_at)
    SELECT id, 'local', name, description, system, model, tools, tags, blocks, max_steps, created_at FROM templates
    """,
    "DROP TABLE templates",
    "ALTER TABLE templates_owned RENAME TO templates",
)
