"""Load over Streamable HTTP: N concurrent clients × M messages over K agents, nothing lost.

A real letta-mcp HTTP server (uvicorn, the app `letta-mcp serve --transport streamable-http`
runs) is started in-process on 127.0.0.1 with an *instant* scripted model, so what is measured is
letta-mcp's own work per message plus the MCP/HTTP round trip. Each client opens its own MCP
connection and sends its messages one after another, spread over the agents; messages to one
agent queue behind each other (one turn at a time per agent). At the end the database must hold
exactly the user messages that were sent, each answered once, and the error count must be 0.

    python benchmarks/load.py                          # 16 clients × 25 messages over 4 agents
    python benchmarks/load.py --quick                  # seconds; CI runs this so it cannot rot
    python benchmarks/load.py --clients 32 --messages 50 --agents 8 --mode legacy

Clients and server share one process and one event loop, so the numbers are a lower bound of what
a server on its own cores does. Prints one JSON object; exits 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Role
from letta_mcp.server.http import bind, serve_http
from letta_mcp.service import AgentService

MAX_CLIENTS = 64
MAX_MESSAGES = 1000
MAX_AGENTS = 64
REPLY = "ok"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_client(
    url: str, index: int, agents: list[str], messages: int, mode: str, latencies: list[float], errors: list[str]
) -> Counter[str]:
    """Send ``messages`` messages round-robin over ``agents``; returns how many went to each agent."""
    sent: Counter[str] = Counter()
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,  # type: ignore[arg-type]
    ):
        for j in range(messages):
            agent_id = agents[(index + j) % len(agents)]
            started = time.perf_counter()
            try:
                result = await client.call_tool(
                    "send_message", {"agent_id": agent_id, "message": f"client {index} message {j}"}
                )
            except Exception as e:  # counted, not raised: the run reports every failure
                errors.append(f"client {index} message {j}: {e!r}")
                continue
            latencies.append(time.perf_counter() - started)
            sent[agent_id] += 1
            if result.is_error or (result.structured_content or {}).get("reply") != REPLY:
                errors.append(f"client {index} message {j}: {result.content[0].text if result.content else result}")
    return sent


async def verify(service: AgentService, sent: Counter[str], clients: int, messages: int) -> list[str]:
    """The database holds exactly the user messages sent (each text once) and one reply to each."""
    problems: list[str] = []
    expected = {f"client {i} message {j}" for i in range(clients) for j in range(messages)}
    seen: list[str] = []
    for agent_id, count in sent.items():
        history = await service.list_messages(agent_id, roles=[Role.user, Role.assistant], limit=10 * count + 10)
        users = [m.content or "" for m in history if m.role is Role.user]
        replies = [m for m in history if m.role is Role.assistant]
        seen += users
        if len(users) != count or len(replies) != count:
            problems.append(f"{agent_id}: {count} sent, {len(users)} user messages and {len(replies)} replies stored")
    if sorted(seen) != sorted(expected):
        problems.append(f"stored user messages differ from those sent ({len(seen)} stored, {len(expected)} sent)")
    return problems


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="letta-load-") as data_dir:
        settings: Settings = load_settings(
            overrides={"data_dir": data_dir, "log_level": "WARNING", "http": {"host": "127.0.0.1", "port": 0}},
            environ={},
        )
        service = await AgentService.open(settings, providers={"openai": ScriptedProvider(default=reply(REPLY))})
        sock = bind(settings.http)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        latencies: list[float] = []
        errors: list[str] = []
        totals: Counter[str] = Counter()
        try:
            async with anyio.create_task_group() as server:
                stop = anyio.Event()
                server.start_soon(lambda: serve_http(service, settings, sock=sock, stop=stop))
                agents = [(await service.create_agent(name=f"load-{k}")).agent.id for k in range(args.agents)]

                async def one(i: int) -> None:
                    totals.update(await run_client(url, i, agents, args.messages, args.mode, latencies, errors))

                started = time.perf_counter()
                with anyio.fail_after(args.time_limit):
                    async with anyio.create_task_group() as clients:
                        for i in range(args.clients):
                            clients.start_soon(one, i)
                elapsed = time.perf_counter() - started
                stop.set()
            problems = await verify(service, totals, args.clients, args.messages)
        finally:
            await service.close()
    sent = sum(totals.values())
    return {
        "benchmark": "load",
        "transport": "streamable-http",
        "mode": args.mode,
        "clients": args.clients,
        "messages_per_client": args.messages,
        "agents": args.agents,
        "messages_sent": sent,
        "seconds": round(elapsed, 3),
        "messages_per_second": round(sent / elapsed, 1) if elapsed else None,
        "latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
            "p99": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        },
        "errors": len(errors),
        "error_samples": errors[:5],
        "db_check": problems or "ok",
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent MCP clients (1..{MAX_CLIENTS})")
    parser.add_argument("--messages", type=int, default=25, help=f"messages per client (1..{MAX_MESSAGES})")
    parser.add_argument("--agents", type=int, default=4, help=f"agents the messages spread over (1..{MAX_AGENTS})")
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto", help="MCP protocol era of the clients")
    parser.add_argument("--time-limit", type=float, default=300, help="give up (and fail) after this many seconds")
    parser.add_argument("--quick", action="store_true", help="4 clients × 5 messages over 2 agents")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.messages, args.agents = 4, 5, 2
    for name, top in (("clients", MAX_CLIENTS), ("messages", MAX_MESSAGES), ("agents", MAX_AGENTS)):
        if not 1 <= getattr(args, name) <= top:
            parser.error(f"--{name} must be between 1 and {top}")
    if not 0 < args.time_limit <= 3600:
        parser.error("--time-limit must be between 0 and 3600 seconds")
    return args


if __name__ == "__main__":
    arguments = parse()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = anyio.run(main, arguments)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["errors"] == 0 and result["db_check"] == "ok" else 1)
