"""Replicas behind a load balancer, for real: N ``letta-mcp serve --transport streamable-http``
subprocesses sharing one data directory, and a tiny round-robin reverse proxy in front of them.

`replicas(...)` starts them (stateless HTTP, a shared request-state key, a short lease TTL) and
stops them; `RoundRobinProxy` (`benchmarks/rr_proxy.py`, which `benchmarks/scale.py` runs too) sends
each HTTP request to the next replica in turn, as a plain load balancer does: no stickiness, so two
requests of one MCP client usually reach two replicas. Responses are streamed through as they come
(SSE included). Like common balancers (nginx's ``proxy_next_upstream error``), a replica that
refuses the connection is skipped and the request goes to the next one; nothing is retried once a
replica accepted the connection.

The replicas' model is a `FakeOpenAI` (real HTTP) the caller scripts.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "http"))  # the shared server harness
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # the proxy, shared with benchmarks/scale.py

from http_harness import ServerProcess, connect, error_text, ok, start_server
from rr_proxy import RoundRobinProxy

__all__ = ["Cluster", "RoundRobinProxy", "ServerProcess", "connect", "error_text", "ok", "replicas"]


@dataclass
class Cluster:
    replicas: list[ServerProcess]
    proxy: RoundRobinProxy
    data_dir: Path
    database_url: str | None = None

    @property
    def store_target(self) -> Path | str:
        """What `Store.open` opens to look at the replicas' shared state."""
        return self.database_url or self.data_dir / "letta.db"

    @property
    def mcp_url(self) -> str:
        """The load-balanced MCP endpoint."""
        return f"{self.proxy.url}/mcp"


@contextmanager
def replicas(
    root: Path, model_url: str, *, count: int = 3, lease_ttl_s: float = 3.0, database_url: str | None = None
) -> Iterator[Cluster]:
    """``count`` stateless replicas on ``root``/data (or on ``database_url``: PostgreSQL) behind a
    `RoundRobinProxy`; all stopped on exit."""
    data_dir = root / "data"
    env = {
        "LETTA_MCP_LEASE_TTL_S": str(lease_ttl_s),
        "LETTA_MCP_HTTP__STATELESS": "true",
        "LETTA_MCP_HTTP__REQUEST_STATE_KEY": secrets.token_hex(32),
    }
    if database_url is not None:
        env["LETTA_MCP_DATABASE_URL"] = database_url
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
        yield Cluster(started, proxy, data_dir, database_url)
