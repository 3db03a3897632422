"""Migration 2: context-window management.

- ``messages.tokens``: the message's token count as sent to the model, computed once when the
  message is written, so no step ever re-tokenizes the history;
- ``messages.kind``: marks synthetic messages (``summary``, ``memory_warning``) among the rows;
- ``agents.context_window``: per-agent window size in tokens (NULL: the model's known size);
- ``token_calibration``: per model, the ratio of provider-reported prompt tokens to our estimate.
"""

STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE messages ADD COLUMN tokens INTEGER",
    "ALTER TABLE messages ADD COLUMN kind TEXT",
    "ALTER TABLE agents ADD COLUMN context_window INTEGER",
    """
    CREATE TABLE token_calibration (
        model      TEXT PRIMARY KEY,
        ratio      REAL NOT NULL,
        samples    INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
)
