"""The web inspector's API on a large data directory: 10,000 agents, one with a 100,000-message history.

    python benchmarks/inspector.py [--agents 10000] [--history 100000] [--repeat 20] [--quick]

Every request goes over real HTTP (uvicorn on a loopback socket, the `httpx2` client), through the
same app `letta-mcp serve` runs. Prints JSON: p50/p95 milliseconds per page the inspector loads.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from bench_common import machine, p95
from overhead import seed_history

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.server.http import serve_http
from letta_mcp.service import AgentService


async def measure(root: Path, agents: int, history: int, repeat: int) -> dict[str, Any]:
    settings = load_settings(overrides={"data_dir": str(root / "data"), "http": {"port": 0}}, environ={})
    service = await AgentService.open(settings, providers={"openai": ScriptedProvider()})
    started = time.perf_counter()
    for i in range(agents - 1):
        await service.create_agent(name=f"agent-{i:05d}", tags=[f"team-{i % 20}"])
    big = (await service.create_agent(name="long-history")).agent.id
    await seed_history(service, big, history)
    seeded_s = time.perf_counter() - started
    sock = socket.create_server(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/ui/api"
    pages = {
        "agents newest first": "/agents",
        "agents by messages": "/agents?sort=messages",
        "agents by name, last page": f"/agents?sort=name&order=asc&offset={agents - 50}",
        "agents search": "/agents?q=team-7",
        "agent": f"/agents/{big}",
        "messages newest page": f"/agents/{big}/messages?limit=30",
        "messages older page": f"/agents/{big}/messages?before={history // 2}&limit=30",
        "context": f"/agents/{big}/context",
        "runs": f"/agents/{big}/runs",
        "block history": f"/agents/{big}/blocks/human/history",
    }
    results: dict[str, Any] = {}
    stop = anyio.Event()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: serve_http(service, settings, sock=sock, stop=stop))
        # A fresh connection per request: on a reused one this client adds a constant ~40 ms
        # (delayed ACK) that curl and browsers do not see.
        limits = httpx2.Limits(max_keepalive_connections=0)
        async with httpx2.AsyncClient(timeout=60, limits=limits) as http:
            while True:  # the socket listens already; wait for the app to answer
                try:
                    if (await http.get(f"{base}/session")).status_code == 200:
                        break
                except httpx2.TransportError:
                    await anyio.sleep(0.05)
            for name, path in pages.items():
                times = []
                for _ in range(repeat + 2):
                    t = time.perf_counter()
                    response = await http.get(base + path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, (path, response.text)
                times = times[2:]  # warm-up
                results[name] = {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(p95(times), 2)}
        stop.set()
    await service.close()
    return {"agents": agents, "history": history, "seed_s": round(seeded_s, 1), "pages": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="500 agents, 5,000 messages, 5 repeats (CI)")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.history, args.repeat = 500, 5_000, 5
    with tempfile.TemporaryDirectory() as tmp:
        result = anyio.run(measure, Path(tmp), args.agents, args.history, args.repeat)
    print(json.dumps({"benchmark": "inspector", "machine": machine(), **result}, indent=2))


if __name__ == "__main__":
    main()
