"""The store contract: what every query module may ask of a database connection.

Queries are written once, against this contract, and run on SQLite (`store/sqlite.py`) or
PostgreSQL (`store/postgres.py`). The SQL is the subset both engines share: ``:name``
parameters, application-generated ids, UTC timestamps as fixed-width ISO text (see `codec`),
JSON as text, ``ON CONFLICT … DO …`` and ``RETURNING``. The few statements that must differ
(full-text search, JSON edits) ask `Db.dialect` and keep both spellings side by side.

Each call is one round trip to the engine: one thread hand-off on SQLite, one network exchange on
PostgreSQL. A statement's rows are read whole; queries that could return unbounded rows take a
``LIMIT``. Writes whose outcome nobody reads can be *deferred* (`Db.defer`): inside a write
transaction SQLite sends them with the connection's next round trip (at the latest its COMMIT), so a
short transaction costs a hand-off or two instead of one per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Mapping[str, Any] | None


class Row(Protocol):
    """A result row: by position (``row[0]``) or by column name (``row["id"]``); ``keys()`` lists names."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Sequence[str]: ...


class Db(Protocol):
    """One connection of the store. Writes are valid only inside `Store.write()`."""

    dialect: Dialect

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        """Every row the statement returns."""
        ...

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        """The first row, or None; for statements that return at most a handful of rows."""
        ...

    async def execute(self, sql: str, params: Params = None) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        """Run one statement once per parameter set (in one round trip where the engine allows)."""
        ...

    async def defer(self, sql: str, params: Params = None) -> None:
        """Run a write whose result nobody reads, now or with this connection's next round trip.

        Inside `Store.write()` on SQLite it is sent with the next call (in order, before that call's
        own statement; at the latest with the COMMIT), so its errors surface there, still inside the
        transaction, which then rolls back. Elsewhere, and on PostgreSQL, it runs now.
        """
        ...

    async def defer_many(self, sql: str, params: Iterable[Mapping[str, Any]]) -> None:
        """`executemany`, deferred like `defer`."""
        ...
