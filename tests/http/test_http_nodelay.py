"""The HTTP listening socket hands out connections with Nagle's algorithm off.

A Streamable HTTP answer leaves in several writes (headers, the event, the end of the chunked
body). With Nagle on, each write after the first waits for the client's delayed ACK, about 40 ms
on Linux: every MCP call over HTTP took ~44 ms whatever the server did.
"""

from __future__ import annotations

import asyncio
import socket

import anyio
import pytest

from letta_mcp.config import load_settings
from letta_mcp.server.http import bind

pytestmark = pytest.mark.anyio


async def test_accepted_connections_have_tcp_nodelay() -> None:
    sock = bind(load_settings(overrides={"http": {"host": "127.0.0.1", "port": 0}}, environ={}).http)
    loop = asyncio.get_running_loop()
    nodelay: asyncio.Future[int] = loop.create_future()

    class Record(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            nodelay.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # The way uvicorn serves a socket it is given.
    server = await loop.create_server(Record, sock=sock)
    try:
        with anyio.fail_after(10):
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            assert await nodelay != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
