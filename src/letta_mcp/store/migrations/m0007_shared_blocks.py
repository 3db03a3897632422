"""Migration 7: blocks as objects of their own (shared memory), and who changed them.

- ``blocks.owner``: the principal a block belongs to. Blocks made with an agent take the agent's
  owner (back-filled here from the first agent each is attached to); ``create_block`` makes
  standalone blocks owned by the caller, to attach to any of the caller's agents.
- ``blocks.standalone``: made by ``create_block``. Deleting an agent deletes the blocks made with
  it that no other agent shares; a standalone block outlives every agent it is attached to.
- ``block_history.run_id``: the run whose agent made the change (NULL for a client's change).
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE blocks ADD COLUMN owner TEXT",
    "ALTER TABLE blocks ADD COLUMN standalone INTEGER NOT NULL DEFAULT 0",
    """
    UPDATE blocks SET owner = (
        SELECT a.owner FROM agent_blocks ab JOIN agents a ON a.id = ab.agent_id
        WHERE ab.block_id = blocks.id ORDER BY ab.agent_id LIMIT 1
    )
    """,
    "CREATE INDEX blocks_owner ON blocks(owner, label)",
    "ALTER TABLE block_history ADD COLUMN run_id TEXT",
)
