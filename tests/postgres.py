"""PostgreSQL for the tests (a pytest plugin, see conftest).

``LETTA_TEST_DATABASE_URL`` set (`.ci/run`'s second pass): every test's `settings` get a
schema of their own in that database, created empty and dropped after the test, so the suite runs
on PostgreSQL as it runs on SQLite. Tests that are about PostgreSQL itself ask for `postgres_url`,
which is that database, or a throwaway cluster this session starts (`tests/postgres_cluster.py`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from postgres_cluster import start, stop

ENV = "LETTA_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in."""
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    # Not under pytest's temp root: that is private to root, and the cluster runs as `postgres` then.
    base = Path(tempfile.mkdtemp(prefix="letta-mcp-postgres-"))
    url = start(base)
    try:
        yield url
    finally:
        stop(base)
        shutil.rmtree(base, ignore_errors=True)


def _run(sql: str, url: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    # On a thread of its own: a fixture may be set up while the test's event loop runs.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()


def fresh_schema(url: str) -> tuple[str, str]:
    """A new empty schema: (its name, the URL that uses it)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _run(f"CREATE SCHEMA {name}", url)
    return name, f"{url}{'&' if '?' in url else '?'}search_path={name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A test's database on each engine in turn: a SQLite file, then an empty PostgreSQL schema."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "letta.db"


def dump_schema(url: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every row of every table of the URL's schema as ``table: row`` lines, sorted (tables in
    ``skip`` left out): equal dumps mean nothing was written."""
    import asyncpg

    lines: list[str] = []

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
            for (table,) in tables:
                if table not in skip:
                    lines.extend(f"{table}: {tuple(row)!r}" for row in await conn.fetch(f'SELECT * FROM "{table}"'))
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, run()).result()
    return sorted(lines)


def drop_schema(url: str, name: str) -> None:
    _run(f"DROP SCHEMA {name} CASCADE", url)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A ``database_url`` of an empty schema, dropped after the test."""
    name, url = fresh_schema(postgres_server)
    try:
        yield url
    finally:
        drop_schema(postgres_server, name)
