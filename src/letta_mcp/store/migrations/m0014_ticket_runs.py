"""Migration 14: which run a turn ticket belongs to, so a live process can adopt the queued
background runs of a dead one with their tickets, keeping their place in the agent's turn order."""

STATEMENTS: tuple[str, ...] = ("ALTER TABLE lease_tickets ADD COLUMN run_id TEXT",)
