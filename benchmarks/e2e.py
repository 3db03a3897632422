"""End to end per-message latency: MCP client → ``letta-mcp serve`` → real ``openai`` client → instant model.

Everything on the real path runs as it does in production: the server is a ``python -m letta_mcp
serve`` subprocess (stdio, then Streamable HTTP), its model is the real ``openai`` client talking
over HTTP to `instant_openai.py` (another subprocess that answers at once), and the agent has the
default model and so the default 128k context window, which nothing is compacted out of during
the run: each message goes out with all earlier ones. What is timed is one ``send_message`` tool
call as the client sees it.

    python benchmarks/e2e.py            # 1,000 messages per transport, then 10 agents over HTTP
    python benchmarks/e2e.py --quick    # seconds; CI runs this so it cannot rot

Reports p50/p95 for messages 1–50, 251–300 and all of them (and the last 50), the p50 ratios of
the later windows to the first, for the HTTP server also its CPU time per message over the same
windows (from /proc: what other load on the machine barely changes), and messages/s with 10
agents sent to in parallel over HTTP (one MCP connection per agent). One untimed message to
another agent first pays the process's one-time ``import openai``. Every message must be answered
with the model's reply; the exit status is 1 otherwise. Prints one JSON object.

The server runs from whatever ``letta_mcp`` the environment imports, so ``PYTHONPATH=OTHER/src``
times another checkout under the same conditions (for before/after comparisons).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from bench_common import machine, p95
from instant_openai import REPLY
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
LISTENING = re.compile(r"serving .* on (http://\S+) \(")
START_TIMEOUT_S = 60.0
WINDOW = 50


@contextmanager
def instant_model() -> Iterator[str]:
    """Start `instant_openai.py`; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "instant_openai.py")], stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"instant_openai.py did not start (printed {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def server_env(model_url: str, log_level: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "OPENAI_"))}
    env.update({"OPENAI_BASE_URL": model_url, "OPENAI_API_KEY": "bench", "LETTA_MCP_LOG_LEVEL": log_level})
    return env


def serve_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "letta_mcp", "serve", "--data-dir", str(data_dir), *args]


@asynccontextmanager
async def stdio_client(data_dir: Path, model_url: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=serve_command(data_dir)[1:], env=server_env(model_url, "WARNING")
    )
    async with Client(params) as client:
        yield client


@contextmanager
def http_server(data_dir: Path, model_url: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """A ``serve --transport streamable-http --port 0`` subprocess; yields its MCP URL (once healthy) and pid.
    ``env``: settings for it (``LETTA_MCP_*`` variables)."""
    process = subprocess.Popen(
        serve_command(data_dir, "--transport", "streamable-http", "--port", "0"),
        env=server_env(model_url, "INFO") | (env or {}),  # INFO: the start-up line names the port
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:  # keep reading, so the server never blocks on a full stderr pipe
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if not url and (match := LISTENING.search(line)):
                url.append(match.group(1))
                found.set()
        found.set()

    reader = threading.Thread(target=drain, name="server-stderr", daemon=True)
    reader.start()
    try:
        if not found.wait(START_TIMEOUT_S) or not url:
            raise RuntimeError("letta-mcp serve did not start:\n" + "".join(lines))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # the socket listens before uvicorn has finished starting
            try:
                if httpx2.get(f"{url[0]}/healthz", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("letta-mcp serve never became healthy:\n" + "".join(lines))
            time.sleep(0.05)
        yield f"{url[0]}/mcp", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=15)


@asynccontextmanager
async def http_client(url: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(60)) as http,
        Client(streamable_http_client(url, http_client=http)) as client,  # type: ignore[arg-type]
    ):
        yield client


async def create_agent(client: Client, name: str) -> str:
    result = await client.call_tool("create_agent", {"name": name})
    if result.is_error or not result.structured_content:
        raise RuntimeError(f"create_agent failed: {result.content}")
    return str(result.structured_content["id"])


async def send(client: Client, agent_id: str, i: int, errors: list[str]) -> float:
    """One timed ``send_message``; a wrong or missing answer is recorded in ``errors``."""
    started = time.perf_counter()
    result = await client.call_tool(
        "send_message", {"agent_id": agent_id, "message": f"Message {i}: here is another detail about my week."}
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    if result.is_error or (result.structured_content or {}).get("reply") != REPLY:
        errors.append(f"{agent_id} message {i}: {result.content[0].text if result.content else result}")
    return elapsed_ms


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a process has used; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sequential(client: Client, messages: int, server_pid: int | None = None) -> dict[str, Any]:
    """``messages`` messages one after another to one new agent, each timed; with ``server_pid``,
    also the server's CPU time per message (which other load on the machine barely changes)."""
    errors: list[str] = []
    # Not timed: a process's first model call imports openai and builds its client (~1 s, once).
    await send(client, await create_agent(client, "warm-up"), 0, errors)
    agent_id = await create_agent(client, "e2e")
    times: list[float] = []
    cpu = [cpu_s(server_pid) if server_pid else None]
    for i in range(messages):
        times.append(await send(client, agent_id, i, errors))
        cpu.append(cpu_s(server_pid) if server_pid else None)
    return summarize(times, errors, cpu)


def summarize(times: list[float], errors: list[str], cpu: list[float | None]) -> dict[str, Any]:
    n = len(times)
    windows = {"1-50": (0, WINDOW), "251-300": (250, 300), f"{n - WINDOW + 1}-{n}": (n - WINDOW, n), f"1-{n}": (0, n)}
    stats = {
        label: {"p50": round(statistics.median(times[a:b]), 2), "p95": round(p95(times[a:b]), 2)}
        for label, (a, b) in windows.items()
        if 0 <= a < b <= n
    }
    first = stats["1-50"]["p50"]
    return {
        "messages": n,
        "answered": n - len(errors),
        "error_samples": errors[:3],
        "ms": stats,
        "ratio_251_300": round(stats["251-300"]["p50"] / first, 3) if "251-300" in stats else None,
        "ratio_last_50": round(stats[f"{n - WINDOW + 1}-{n}"]["p50"] / first, 3),
        # cpu[i] is read after message i: the server's CPU ms per message over each window
        "server_cpu_ms_per_message": {
            label: round((end - start) * 1000 / (b - a), 2)
            for label, (a, b) in windows.items()
            if 0 <= a < b <= n and (start := cpu[a]) is not None and (end := cpu[b]) is not None
        },
    }


async def parallel_agents(url: str, agents: int, per_agent: int, server_pid: int | None = None) -> dict[str, Any]:
    """``agents`` clients, each on its own connection, each sending ``per_agent`` messages to its own agent.

    Also the CPU each message cost the server (with ``server_pid``) and the clients (this process),
    which other load on the machine barely changes: on a machine of its own the run could go no
    faster than its cores allow for their sum plus the model's, nor than one core for the server's
    event loop."""
    async with http_client(url) as client:
        ids = [await create_agent(client, f"e2e-{k}") for k in range(agents)]
    errors: list[str] = []
    times: list[float] = []

    async def chat(agent_id: str) -> None:
        async with http_client(url) as client:
            for i in range(per_agent):
                times.append(await send(client, agent_id, i, errors))

    server_before, clients_before = cpu_s(server_pid) if server_pid else None, time.process_time()
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for agent_id in ids:
            tg.start_soon(chat, agent_id)
    elapsed = time.perf_counter() - started
    clients_cpu, server_after = time.process_time() - clients_before, cpu_s(server_pid) if server_pid else None
    total = agents * per_agent
    server_cpu = None if server_before is None or server_after is None else server_after - server_before
    return {
        "agents": agents,
        "messages": total,
        "answered": len(times) - len(errors),
        "error_samples": errors[:3],
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(p95(times), 2),
        "server_cpu_ms_per_message": None if server_cpu is None else round(server_cpu * 1000 / total, 2),
        "clients_cpu_ms_per_message": round(clients_cpu * 1000 / total, 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    report: dict[str, Any] = {"benchmark": "e2e", "quick": args.quick, "transports": {}}
    with instant_model() as model_url, tempfile.TemporaryDirectory(prefix="letta-e2e-") as tmp:
        root = Path(tmp)
        if "stdio" in args.transports:
            async with stdio_client(root / "stdio", model_url) as client:
                report["transports"]["stdio"] = await sequential(client, args.messages)
        if "http" in args.transports:
            with http_server(root / "http", model_url) as (url, pid):
                async with http_client(url) as client:
                    report["transports"]["http"] = await sequential(client, args.messages, pid)
                report["http_parallel"] = await parallel_agents(url, args.agents, args.per_agent, pid)
    report["machine"] = machine()
    report["load_avg_1m"] = {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)}
    return report


def all_answered(report: dict[str, Any]) -> bool:
    runs = [*report["transports"].values(), *([report["http_parallel"]] if "http_parallel" in report else [])]
    return all(run["answered"] == run["messages"] for run in runs)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per transport to one agent (≥ 50)")
    parser.add_argument("--agents", type=int, default=10, help="agents sent to in parallel over HTTP")
    parser.add_argument("--per-agent", type=int, default=50, help="messages per agent in the parallel run")
    parser.add_argument("--transports", default="stdio,http", help="comma-separated: stdio, http")
    parser.add_argument("--quick", action="store_true", help="60 messages per transport, 10 agents × 5 (CI)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.per_agent = 60, 5
    args.transports = set(args.transports.split(","))
    if args.messages < WINDOW or not args.transports <= {"stdio", "http"}:
        parser.error(f"--messages must be at least {WINDOW}; --transports is a subset of stdio,http")
    return args


if __name__ == "__main__":
    arguments = parse()
    result = anyio.run(main, arguments)
    print(json.dumps(result, indent=2))
    sys.exit(0 if all_answered(result) else 1)
