"""The ``[mcp_servers]`` of the remote-tool tests: the servers of `tool_servers.py` and their secrets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SERVERS = Path(__file__).with_name("tool_servers.py")
ENV_SECRET = "env-secret-4f1c9a"  # the stdio server's configured env value
HEADER_SECRET = "header-secret-77be02"  # the HTTP server's configured header value


def server_settings(tmp_path: Path, http_url: str | None = None, **stdio: Any) -> dict[str, Any]:
    """``[mcp_servers]``: ``local`` (stdio, with a secret env value and a start log) and, given its
    URL, ``web`` (Streamable HTTP, with a secret header)."""
    local: dict[str, Any] = {
        "command": sys.executable,
        "args": [str(SERVERS), "stdio"],
        "env": {"START_LOG": str(tmp_path / "starts.log"), "API_TOKEN": ENV_SECRET},
        "timeout_s": 20.0,
    }
    local.update(stdio)
    servers = {"local": local}
    if http_url is not None:
        servers["web"] = {"url": http_url, "headers": {"X-Api-Key": HEADER_SECRET}, "timeout_s": 20.0}
    return servers
