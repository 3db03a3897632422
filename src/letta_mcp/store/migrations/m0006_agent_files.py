"""Migration 6: what an imported Letta Agent File carries beyond our own agents.

- ``agents.tool_rules``: the agent's tool rules (JSON list, Letta's shapes), kept as given;
  the runtime enforces them once tool rules land there;
- ``inactive_tools``: tools an agent was given that letta-mcp will not run (custom Python, other
  MCP servers' tools, Letta built-ins without an equivalent), recorded with the reason, so they
  can be listed, exported again and enabled later; their code is never executed;
- ``agent_groups`` / ``agent_group_members``: groups of agents (Letta's sleep-time pairs: a main
  agent and the memory agent that shares its blocks), stored disabled until group execution exists.
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE agents ADD COLUMN tool_rules TEXT NOT NULL DEFAULT '[]'",
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
        config           TEXT NOT NULL DEFAULT '{}',    -- the manager's settings (e.g. sleeptime_agent_frequency)
        description      TEXT,
        enabled          INTEGER NOT NULL DEFAULT 0,    -- 0: stored only, nothing runs the group yet
        created_at       TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE agent_group_members (
        group_id TEXT NOT NULL REFERENCES agent_groups(id) ON DELETE CASCADE,
        agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        PRIMARY KEY (group_id, agent_id)
    )
    """,
    "CREATE INDEX agent_group_members_agent ON agent_group_members(agent_id)",
)
