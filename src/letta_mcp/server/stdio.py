"""The stdio transport, stoppable with Ctrl-C.

The SDK's `stdio_server` reads stdin in an anyio worker thread that cannot be abandoned: on Ctrl-C
the cancellation waits for that read to return, i.e. for the next line typed, so a server started
in a terminal ignored Ctrl-C. Here a daemon thread reads stdin and hands lines to the event loop:
cancelling abandons the read, and a daemon thread blocked on it does not hold up the exit. It reads
the descriptor with `os.read`, never through a buffered file object, whose lock a daemon thread
would still hold when the interpreter shuts down (a fatal error). stdout stays the SDK's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, cast

from mcp.server import MCPServer
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.stdio import stdio_server

_CHUNK = 1 << 16
_BACKLOG = 64  # lines read ahead of the server; the reader thread waits beyond that


class StdinLines:
    """Lines of a file descriptor as an async iterator (what `stdio_server` reads), read by a
    daemon thread. Iterate it from one event loop only."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lines: asyncio.Queue[str | None] | None = None

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        if self._lines is None:
            self._lines = asyncio.Queue(_BACKLOG)
            loop = asyncio.get_running_loop()
            threading.Thread(target=self._read, args=(loop, self._lines), name="letta-mcp-stdin", daemon=True).start()
        line = await self._lines.get()
        if line is None:
            raise StopAsyncIteration
        return line

    def _read(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
        def deliver(line: str | None) -> bool:
            try:
                asyncio.run_coroutine_threadsafe(lines.put(line), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):  # the loop closed or stopped listening
                return False
            return True

        pending = bytearray()
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                chunk = b""
            if not chunk:
                if pending:
                    deliver(pending.decode("utf-8", errors="replace"))
                deliver(None)
                return
            pending += chunk
            if b"\n" not in chunk:  # a long line arriving in pieces is split once, when it ends
                continue
            *complete, rest = pending.split(b"\n")
            pending = bytearray(rest)
            for raw in complete:
                if not deliver(raw.decode("utf-8", errors="replace") + "\n"):
                    return


# Messages of the start-up exchange, answered before a client shows its user anything.
_HANDSHAKE = ("initialize", "server/discover", "ping")


def after_handshake(callback: Callable[[], object]) -> Callable[..., Any]:
    """Middleware calling ``callback`` once, when the first request past the handshake (normally the
    client's tools/list) has been answered: work started then cannot slow the client's start-up."""
    called = False

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        nonlocal called
        result = await call_next(ctx)
        if not called and ctx.request_id is not None and ctx.method not in _HANDSHAKE:
            called = True
            callback()
        return result

    return middleware


async def serve_stdio(mcp: MCPServer, *, after_start: Callable[[], object] | None = None) -> None:
    """Serve ``mcp`` on this process's stdin and stdout until stdin ends or the task is cancelled;
    ``after_start`` runs once the client is past its start-up exchange (see `after_handshake`)."""
    if after_start is not None:
        mcp.middleware.append(after_handshake(after_start))
    stdin = cast(Any, StdinLines(sys.stdin.fileno()))
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        lowlevel = mcp._lowlevel_server  # private: the public run_stdio_async reads stdin the SDK's way
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
