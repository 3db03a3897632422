"""A tiny round-robin reverse proxy, the plain load balancer in front of replicas (tests and benchmarks).

    python benchmarks/rr_proxy.py http://127.0.0.1:A http://127.0.0.1:B ...

prints its own URL as the first stdout line and serves until SIGTERM/SIGINT (a process of its own,
so a benchmark can read its CPU time from /proc). In a test, ``with RoundRobinProxy([...]) as proxy``
runs it in a thread of the test process instead.

Request *i* goes to upstream *i mod n*: no stickiness, so two requests of one MCP client usually
reach two replicas. Responses are streamed through as they come (SSE included). Like common
balancers (nginx's ``proxy_next_upstream error``), a replica that refuses the connection is skipped
and the request goes to the next one; nothing is retried once a replica accepted the connection.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import uvicorn
from starlette.types import Message, Receive, Scope, Send

# Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus those the proxy recomputes.
HOP_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host"}
)
START_TIMEOUT_S = 10.0


class RoundRobinProxy:
    """A reverse proxy on 127.0.0.1 sending request *i* to upstream *i mod n*; runs in a thread.

    ``served`` counts the requests each upstream answered (by its URL)."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.served: Counter[str] = Counter()
        self._turn = itertools.count()
        self._client: httpx2.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> RoundRobinProxy:
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app, interface="asgi3", log_level="warning", access_log=False, lifespan="off")
        self._server = server = uvicorn.Server(config)

        def serve() -> None:
            with sock:
                asyncio.run(self._serve(server, sock))

        self._thread = threading.Thread(target=serve, name="round-robin-proxy", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the round-robin proxy did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        # No read timeout: a subscriptions/listen stream stays open as long as its client wants. A
        # connection per request (as nginx does by default): a replica that died since the last
        # request refuses the connection, rather than a kept-alive one failing mid-request.
        async with httpx2.AsyncClient(
            timeout=httpx2.Timeout(10, read=None), limits=httpx2.Limits(max_keepalive_connections=0)
        ) as client:
            self._client = client
            await server.serve(sockets=[sock])

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http" and self._client is not None
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_HEADERS | {b"content-length"}]
        target = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        for _ in self.upstreams:
            upstream = self.upstreams[next(self._turn) % len(self.upstreams)]
            request = self._client.build_request(scope["method"], upstream + target, headers=headers, content=body)
            try:
                response = await self._client.send(request, stream=True)
            except httpx2.ConnectError:  # a dead replica: the next one gets the request
                continue
            except httpx2.TransportError:  # it may have acted on the request: never sent twice
                await _answer(send, 502, b"the replica failed before answering")
                return
            self.served[upstream] += 1
            try:
                await self._relay(response, receive, send)
            finally:
                await response.aclose()
            return
        await _answer(send, 502, b"no replica answered")

    @staticmethod
    async def _relay(response: httpx2.Response, receive: Receive, send: Send) -> None:
        """Stream the upstream response to the client until it ends or the client goes away."""
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_HEADERS]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        async with anyio.create_task_group() as tg:

            async def hang_up_with_client() -> None:
                message: Message = {}
                while message.get("type") != "http.disconnect":
                    message = await receive()
                tg.cancel_scope.cancel()

            tg.start_soon(hang_up_with_client)
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            tg.cancel_scope.cancel()


async def _answer(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text})


@contextmanager
def proxy_process(upstreams: list[str]) -> Iterator[tuple[str, int]]:
    """This module as a subprocess in front of ``upstreams``; yields its URL and pid."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *upstreams], stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"rr_proxy.py did not start (printed {url!r})")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


def main(upstreams: list[str]) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with RoundRobinProxy(upstreams) as proxy:
        print(proxy.url, flush=True)
        stop.wait()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: rr_proxy.py UPSTREAM_URL [UPSTREAM_URL ...]")
    main(sys.argv[1:])
