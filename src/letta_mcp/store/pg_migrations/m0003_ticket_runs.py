"""Migration 3 (SQLite's 14): the run a turn ticket belongs to (see that migration)."""

STATEMENTS: tuple[str, ...] = ("ALTER TABLE lease_tickets ADD COLUMN run_id TEXT",)
