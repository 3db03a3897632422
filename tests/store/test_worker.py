"""The SQLite connections' thread (`store.worker`): in order, off the event loop, errors handed back,
a job whose caller gave up before it started skipped."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest

from letta_mcp.store.worker import Worker

pytestmark = pytest.mark.anyio


async def test_jobs_run_in_order_on_one_thread_that_is_not_the_loops() -> None:
    worker = Worker("test-worker")
    try:
        with anyio.fail_after(10):
            threads = await asyncio.gather(*(worker.run(threading.get_ident) for _ in range(20)))
            order: list[int] = []
            await asyncio.gather(*(worker.run(lambda i=i: order.append(i)) for i in range(20)))
        assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
        assert order == list(range(20))
    finally:
        worker.stop()


async def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    worker = Worker("test-worker")

    def fail() -> None:
        raise ValueError("boom")

    try:
        with anyio.fail_after(10):
            with pytest.raises(ValueError, match="boom"):
                await worker.run(fail)
            assert await worker.run(lambda: 42) == 42
    finally:
        worker.stop()


async def test_a_job_cancelled_before_it_starts_is_skipped() -> None:
    worker = Worker("test-worker")
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    try:
        with anyio.fail_after(10):
            busy = asyncio.ensure_future(worker.run(lambda: (started.set(), release.wait(10))))
            await asyncio.to_thread(started.wait, 10)  # the thread is busy: the next job waits in the queue
            queued = asyncio.ensure_future(worker.run(lambda: ran.append("queued")))
            await asyncio.sleep(0)  # let it reach the queue
            queued.cancel()
            release.set()
            await busy
            await worker.run(lambda: ran.append("after"))  # in order: "queued" would have run by now
        assert ran == ["after"]
        assert queued.cancelled()
    finally:
        worker.stop()
