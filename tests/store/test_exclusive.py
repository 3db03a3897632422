"""`Store.exclusive`: one process at a time (of all sharing the database) runs a background job."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from letta_mcp.store import Store

pytestmark = pytest.mark.anyio


async def test_a_second_process_is_not_elected_while_the_first_holds_the_job(store_target: Path | str) -> None:
    a, b = await Store.open(store_target), await Store.open(store_target)
    try:
        with anyio.fail_after(30):
            async with a.exclusive("job") as first:
                assert first
                async with b.exclusive("job") as second:
                    assert not second
                async with b.exclusive("another job") as other:
                    assert other  # elections are per job
            async with b.exclusive("job") as after:
                assert after
    finally:
        await a.close()
        await b.close()


HOLDER = """
import asyncio, os, sys
from letta_mcp.store import Store

async def main():
    store = await Store.open(sys.argv[1])
    async with store.exclusive("job") as elected:
        print("elected" if elected else "not elected", flush=True)
        await asyncio.sleep(3600)  # until killed

asyncio.run(main())
"""


async def test_the_job_is_free_again_when_its_process_dies(store_target: Path | str) -> None:
    store = await Store.open(store_target)
    holder = await anyio.open_process(
        [sys.executable, "-c", HOLDER, str(store_target)], stderr=None, env=dict(os.environ)
    )
    try:
        assert holder.stdout is not None
        with anyio.fail_after(60):
            assert (await holder.stdout.receive()).strip() == b"elected"
            async with store.exclusive("job") as elected:
                assert not elected
            holder.kill()  # SIGKILL: no clean-up runs in the holder
            await holder.wait()
            while True:  # PostgreSQL ends the dead session a moment after its socket closes
                async with store.exclusive("job") as elected:
                    if elected:
                        break
                await anyio.sleep(0.05)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await holder.aclose()
        await store.close()
