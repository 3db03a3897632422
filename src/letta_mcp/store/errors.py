"""Errors raised by the store.

StoreError                  base: the data directory could not be used as asked
├── SchemaTooNewError       the database was written by a newer letta-mcp; refused, untouched
├── ConflictError           a uniqueness rule was broken (e.g. a template name already taken)
├── IntegrityError          the engine refused a statement for a constraint (either engine's error,
│                           translated, so queries catch one type)
├── BusyError               the database stayed locked past the connection's timeout
└── LeaseLostError          this process was taken for dead and its turn's ticket swept: the turn
                            may write nothing more (another process owns the agent's turns now)
"""

from __future__ import annotations


class StoreError(Exception):
    pass


class SchemaTooNewError(StoreError):
    pass


class ConflictError(StoreError):
    pass


class IntegrityError(StoreError):
    pass


class BusyError(StoreError):
    pass


class LeaseLostError(StoreError):
    pass
