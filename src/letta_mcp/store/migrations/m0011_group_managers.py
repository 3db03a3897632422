"""Migration 11: find an agent's sleep-time group by its main agent (checked after every turn)."""

STATEMENTS: tuple[str, ...] = (
    "CREATE INDEX agent_groups_manager ON agent_groups(manager_agent_id, manager_type)",
)
