"""Migration 9: an archive shared with an agent is read-only to it unless shared writable.

``agent_archives.writable``: whether the attached agent may add passages to the archive and delete
them. The archive's own agent (``archives.owner_agent_id``) may always write. Attachments made
before this migration between agents of the archive's own principal keep the write access they
had; those to another principal's agents become read-only.
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE agent_archives ADD COLUMN writable INTEGER NOT NULL DEFAULT 0",
    """
    UPDATE agent_archives SET writable = 1
    WHERE EXISTS (
        SELECT 1 FROM archives a JOIN agents g ON g.id = agent_archives.agent_id
        WHERE a.id = agent_archives.archive_id AND a.owner = g.owner
    )
    """,
)
