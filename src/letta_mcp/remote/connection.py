"""One live MCP client session with one configured server, started lazily and restarted after a crash.

An ``mcp.Client`` must be entered and exited in one task (its transport holds cancel scopes), while
the agents calling the server's tools run in many tasks. So each session is held open by a task of
its own, which the requests only borrow: they send on the session, and when one of them sees the
session die (the stdio server exited, the HTTP server went away) it drops that session, and the
next request starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from letta_mcp.config import McpServerSettings

log = logging.getLogger(__name__)

# After a failed start, calls within this many seconds fail at once with the same reason instead of
# each waiting for another start (every step of an agent lists the server's tools).
RETRY_START_AFTER_S = 10.0
# An HTTP server may hold a response stream open while a tool runs; our own deadline (timeout_s,
# applied around each call) is what bounds a call, so the transport's read timeout only needs to be long.
_STREAM_READ_S = 3600.0


class StartError(Exception):
    """The server could not be started or connected to; the message is safe to show."""


@dataclass
class Live:
    """A running session and what stops it."""

    client: Client
    stop: anyio.Event
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Connection:
    def __init__(self, name: str, settings: McpServerSettings) -> None:
        self.name = name
        self.settings = settings
        self._live: Live | None = None
        self._lock = anyio.Lock()  # one start at a time: concurrent first calls share one process
        self._failed: tuple[float, str] | None = None  # when and why the last start failed

    async def session(self) -> Live:
        """The running session, started if there is none (callers bound the wait with their deadline)."""
        async with self._lock:
            if self._live is None:
                if self._failed is not None and time.monotonic() - self._failed[0] < RETRY_START_AFTER_S:
                    raise StartError(self._failed[1])
                try:
                    self._live = await self._start()
                except StartError as e:
                    self._failed = (time.monotonic(), str(e))
                    raise
                self._failed = None
            return self._live

    async def drop(self, live: Live) -> None:
        """Forget ``live`` (it failed) and stop it; the next `session` starts another."""
        if self._live is live:
            self._live = None
        await _stop(live)

    async def aclose(self) -> None:
        async with self._lock:
            live, self._live = self._live, None
        if live is not None:
            await _stop(live)

    async def _start(self) -> Live:
        started: asyncio.Future[Live] = asyncio.get_running_loop().create_future()
        stop = anyio.Event()

        async def hold() -> None:
            try:
                async with self._client() as client:
                    started.set_result(Live(client, stop))
                    await stop.wait()
            except Exception as e:  # a start that failed; a session that died is seen by its callers
                if not started.done():
                    started.set_exception(StartError(_describe(e)))
                else:
                    log.debug("MCP server %r: session ended: %s", self.name, type(e).__name__)

        task = asyncio.get_running_loop().create_task(hold(), name=f"mcp-server-{self.name}")
        try:
            live = await asyncio.shield(started)
        except BaseException:  # the caller's deadline or cancellation: leave no process behind
            stop.set()
            task.cancel()
            raise
        live.task = task
        log.info("MCP server %r: connected", self.name)
        return live

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        cfg = self.settings
        if cfg.command is not None:
            params = StdioServerParameters(
                command=cfg.command,
                args=cfg.args,
                # The SDK passes the child only an allow-list of our environment, plus this.
                env={k: v.get_secret_value() for k, v in cfg.env.items()},
            )
            async with Client(params) as client:
                yield client
            return
        assert cfg.url is not None
        headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
        if cfg.transport == "sse":
            async with Client(
                sse_client(cfg.url, headers=headers, timeout=cfg.timeout_s, sse_read_timeout=_STREAM_READ_S),
                mode="legacy",  # SSE servers predate the 2026 protocol
            ) as client:
                yield client
            return
        timeout = httpx2.Timeout(cfg.timeout_s, read=_STREAM_READ_S)
        async with (
            httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
            Client(streamable_http_client(cfg.url, http_client=http)) as client,
        ):
            yield client


async def _stop(live: Live) -> None:
    live.stop.set()
    if live.task is not None:
        with anyio.move_on_after(10):  # the SDK gives a stdio server a few seconds to exit, then kills it
            await asyncio.shield(live.task)
        live.task.cancel()


def _describe(error: BaseException) -> str:
    """A short account of why a start failed, from the innermost useful exception."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]
