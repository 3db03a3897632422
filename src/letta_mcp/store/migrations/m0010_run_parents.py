"""Migration 10: runs started by other runs (agent-to-agent messages, sleep-time work).

``runs.parent_run_id`` links a run to the run of the agent that started it, so a chain of agents
waiting on each other can be walked (and a waiting cycle refused before it deadlocks).
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE runs ADD COLUMN parent_run_id TEXT",
    "CREATE INDEX runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL",
)
