"""Replicas behind a load balancer, for real: N ``letta-mcp serve --transport streamable-http``
subprocesses sharing one data directory, and a tiny round-robin reverse proxy in front of them.

`replicas(...)` starts them (stateless HTTP, a shared request-state key, a short lease TTL) and
stops them; `RoundRobinProxy` sends each HTTP request to the next replica in turn, as a plain load
balancer does: no stickiness, so two requests of one MCP client usually reach two replicas.
Responses are streamed through as they come (SSE included). Like common balancers (nginx's
``proxy_next_upstream error``), a replica that refuses the connection is skipped and the request
goes to the next one; nothing is retried once a replica accepted the connection.

The replicas' model is a `FakeOpenAI` (real HTTP) the caller scripts.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import uvicorn
from starlette.types import Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).parent / "http"))  # the shared server harness

from http_harness import ServerProcess, connect, error_text, ok, start_server

__all__ = ["Cluster", "RoundRobinProxy", "ServerProcess", "connect", "error_text", "ok", "replicas"]

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


@dataclass
class Cluster:
    replicas: list[ServerProcess]
    proxy: RoundRobinProxy
    data_dir: Path

    @property
    def mcp_url(self) -> str:
        """The load-balanced MCP endpoint."""
        return f"{self.proxy.url}/mcp"


@contextmanager
def replicas(root: Path, model_url: str, *, count: int = 3, lease_ttl_s: float = 3.0) -> Iterator[Cluster]:
    """``count`` stateless replicas on ``root``/data behind a `RoundRobinProxy`; all stopped on exit."""
    data_dir = root / "data"
    env = {
        "LETTA_MCP_LEASE_TTL_S": str(lease_ttl_s),
        "LETTA_MCP_HTTP__STATELESS": "true",
        "LETTA_MCP_HTTP__REQUEST_STATE_KEY": secrets.token_hex(32),
    }
    with ExitStack() as stack, ThreadPoolExecutor(count) as pool:
        # Started together, as an orchestrator does (they share the data directory's empty config file).
        starting = [pool.submit(start_server, data_dir, model_url, env=env) for _ in range(count)]
        started: list[ServerProcess] = []
        for future in starting:
            if future.exception() is None:
                stack.callback(future.result().stop)
                started.append(future.result())
        for future in starting:
            future.result()  # raises the first failure, once the others are in line to be stopped
        proxy = stack.enter_context(RoundRobinProxy([s.url for s in started]))
        yield Cluster(started, proxy, data_dir)
