"""One thread that runs functions for the event loop, in order, one hand-off each.

A lighter hand-off than ``loop.run_in_executor``: one queue put on the way there and one
``call_soon_threadsafe`` back, without a `concurrent.futures.Future` (a lock and a condition each)
chained to an asyncio one. A message takes about a dozen hand-offs to the SQLite connection's
thread, and under concurrent agents the executor's machinery was a fifth of the event loop's time.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


_running: set[queue.SimpleQueue[_Job | None]] = set()


def _stop_all() -> None:
    for jobs in list(_running):
        jobs.put(None)


# Like concurrent.futures' executors: at interpreter exit, before non-daemon threads are joined,
# every worker is told to stop after its queued jobs, so a connection nobody closed cannot keep the
# process alive, and no thread is left inside SQLite while the interpreter tears down (which a
# daemon thread would be: Ctrl-C then ended the server with SIGABRT now and then).
threading._register_atexit(_stop_all)  # type: ignore[attr-defined]


class Worker:
    """Runs each function on its own thread, in submission order; see the module docstring."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        _running.add(self._jobs)
        threading.Thread(target=_serve, args=(self._jobs,), name=name).start()

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the thread. Cancelling the caller before the job starts skips it (as an
        executor does); once started it runs to the end, its result dropped."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn))
        return await future

    def stop(self) -> None:
        """End the thread after the jobs already queued (not waited for)."""
        _running.discard(self._jobs)
        self._jobs.put(None)


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        loop, future, fn = job
        if future.cancelled():  # read across threads: at worst a job cancelled just now still runs
            continue
        try:
            result = fn()
        except BaseException as e:  # handed to the caller, whatever it is
            _deliver(loop, _fail, future, e)
        else:
            _deliver(loop, _succeed, future, result)


_Settle = Callable[["asyncio.Future[Any]", Any], None]


def _deliver(loop: asyncio.AbstractEventLoop, how: _Settle, future: asyncio.Future[Any], value: Any) -> None:
    with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(how, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(error)
