"""The reader connection refuses writes: every write goes through `Store.write()`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


async def test_reader_connection_is_query_only(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "letta.db")
    try:
        with anyio.fail_after(10):
            async with store.read() as q:
                with pytest.raises(sqlite3.OperationalError, match="readonly"):
                    await q.db.execute(
                        "INSERT INTO archival_index_state (key, value) VALUES (:key, :value)",
                        {"key": "k", "value": "v"},
                    )
            async with store.write() as q:  # the writer still writes
                await q.archival.set_state("k", "v")
            async with store.read() as q:
                assert await q.archival.get_state("k") == "v"
    finally:
        await store.close()
