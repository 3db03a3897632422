"""Tiny MCP servers whose tools agents call in the remote-tool tests (run as real subprocesses).

    python tool_servers.py stdio         serve over stdin/stdout
    python tool_servers.py http          serve Streamable HTTP (at /mcp) on a free loopback port,
                                         printed as ``listening on <port>`` once the socket is bound
    python tool_servers.py sse           the same with the legacy SSE transport (at /sse)

Tools: ``echo(text)``, ``add(a, b)``, ``show_env(name)`` (an environment variable, to prove a
configured secret is masked), ``show_header(name)`` (an HTTP request header), ``crash()`` (the
process exits at once, mid-call), ``hang()`` (never answers) and ``started()`` (this process's
start count, kept in the file named by ``START_LOG``, so a test can see a restart).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

mcp = MCPServer("test-tools")


@mcp.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return f"echo: {text}"


@mcp.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@mcp.tool()
def show_env(name: str) -> str:
    """The value of an environment variable of this server."""
    return os.environ.get(name, "<unset>")


@mcp.tool()
def show_header(name: str, ctx: Context) -> str:
    """The value of a header of this HTTP request."""
    headers = ctx.headers or {}
    return headers.get(name.lower(), "<unset>")


@mcp.tool()
def crash() -> str:
    """Exit the process without answering."""
    os._exit(3)


@mcp.tool()
async def hang() -> str:
    """Never answer."""
    await anyio.sleep_forever()
    return "unreachable"


@mcp.tool()
def started() -> str:
    """How many times a server with this START_LOG was started."""
    return str(len(Path(os.environ["START_LOG"]).read_text().splitlines()))


def main() -> None:
    if log := os.environ.get("START_LOG"):
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
    if sys.argv[1] == "stdio":
        mcp.run()
        return
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(f"listening on {sock.getsockname()[1]}", flush=True)
    app = mcp.sse_app() if sys.argv[1] == "sse" else mcp.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
