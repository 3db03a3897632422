"""Numbered SQLite schema migrations, one module each: ``mNNNN_<name>.py`` defining ``STATEMENTS``
(PostgreSQL's are in `store.pg_migrations`).

Each migration's statements run in one transaction together with its row in
``schema_migrations``. The highest applied number is the schema version; a database whose
version is newer than the newest module here was written by a newer letta-mcp and is refused
rather than touched. Never edit a migration that has shipped: add a module with the next number.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

_NAME = re.compile(r"^m(\d{4})_(\w+)$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]


def discover(package: str, paths: list[str]) -> tuple[Migration, ...]:
    """The migrations of one engine's package, in order; numbered 1..N without gaps."""
    found = []
    for info in pkgutil.iter_modules(paths):
        match = _NAME.match(info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        found.append(Migration(int(match[1]), match[2], tuple(module.STATEMENTS)))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"schema migrations must be numbered 1..N without gaps, found {numbers}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = discover(__name__, __path__)
LATEST_VERSION = MIGRATIONS[-1].number
