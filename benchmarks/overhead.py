"""Server overhead per message, and how it scales (issue: flat cost as history grows).

The service runs in-process with an *instant* model (answers immediately, computes nothing), so
what is timed is letta-mcp's own work per message: storing the input, loading the context window,
measuring and (when due) compacting it, storing the reply. Histories are seeded through the store.

    python benchmarks/overhead.py            # full run (a few minutes)
    python benchmarks/overhead.py --quick    # seconds; CI runs this so it cannot rot

Prints one JSON object. Timings are for the machine it runs on (reported in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from letta_mcp.config import load_settings
from letta_mcp.models import Message, ModelRequest, ModelResponse, Role, Usage, new_id, utcnow
from letta_mcp.service import AgentService

HERE = Path(__file__).resolve().parent


class InstantModel:
    """Answers every request at once with a short reply (and a tool call every 5th turn)."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        usage = Usage(prompt_tokens=1000, completion_tokens=10, total_tokens=1010)
        if request.messages[0].content and request.messages[0].content.startswith("You maintain the long-term"):
            return ModelResponse(content="Summary: the user shared many facts.", usage=usage)
        return ModelResponse(content="Noted.", usage=usage)

    async def aclose(self) -> None:
        return None


async def open_service(data_dir: Path) -> AgentService:
    settings = load_settings(overrides={"data_dir": str(data_dir), "log_level": "WARNING"}, environ={})
    return await AgentService.open(settings, providers={"openai": InstantModel()})


async def seed_history(service: AgentService, agent_id: str, n: int, in_context: int = 40) -> None:
    """``n`` messages of history, the newest ``in_context`` of them in the window (as after compaction)."""
    now = utcnow()
    async with service.store.write() as q:
        start = await q.messages.next_seq(agent_id)
        batch: list[Message] = []
        for i in range(n):
            role = Role.user if i % 2 == 0 else Role.assistant
            text = f"message {i}: the user talked about topic {i % 97} and item {i} in some detail."
            batch.append(
                Message(
                    id=new_id("message"),
                    agent_id=agent_id,
                    seq=start + i,
                    role=role,
                    content=text,
                    in_context=i >= n - in_context,
                    tokens=20,
                    created_at=now,
                )
            )
            if len(batch) == 5000:
                await q.messages.insert(batch)
                batch = []
        if batch:
            await q.messages.insert(batch)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def per_message_overhead(root: Path, history: int, messages: int) -> dict[str, float]:
    service = await open_service(root / f"hist-{history}")
    try:
        # A window small enough that compaction runs regularly during the measurement.
        agent = (await service.create_agent(name="bench", context_window=4_000)).agent
        await seed_history(service, agent.id, history)
        for _ in range(5):  # warm-up
            await service.send_message(agent.id, "warm-up")
        times = []
        for i in range(messages):
            t = time.perf_counter()
            await service.send_message(agent.id, f"Message {i}: here is another detail about my week.")
            times.append((time.perf_counter() - t) * 1000)
        return {"p50": statistics.median(times), "p95": percentile(times, 95)}
    finally:
        await service.close()


async def throughput(root: Path, agents: int, per_agent: int) -> float:
    service = await open_service(root / f"tput-{agents}")
    try:
        ids = [(await service.create_agent(name=f"a{i}")).agent.id for i in range(agents)]

        async def chat(agent_id: str) -> None:
            for i in range(per_agent):
                await service.send_message(agent_id, f"hello {i}")

        t = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for agent_id in ids:
                tg.create_task(chat(agent_id))
        return agents * per_agent / (time.perf_counter() - t)
    finally:
        await service.close()


async def rss_with_agents(root: Path, count: int) -> float:
    service = await open_service(root / "rss")
    try:
        ids = [(await service.create_agent(name=f"a{i}")).agent.id for i in range(count)]
        for agent_id in ids[:100]:
            await service.send_message(agent_id, "hi")
        await service.list_agents(limit=200)
        return _rss_mb(os.getpid())
    finally:
        await service.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def import_time(statement: str, tries: int = 3) -> float:
    """Best wall time of a fresh interpreter running ``statement``."""
    best = float("inf")
    for _ in range(tries):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        best = min(best, time.perf_counter() - t)
    return best


async def cold_start(root: Path, tries: int = 3) -> float:
    """Seconds from spawning ``letta-mcp serve`` (stdio) to its first ``tools/list`` answer (best of N)."""
    from mcp import Client, StdioServerParameters

    best = float("inf")
    for i in range(tries):
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "letta_mcp", "serve", "--data-dir", str(root / f"cold-{i}"), "--log-level", "WARNING"],
        )
        t = time.perf_counter()
        async with Client(params) as client:
            await client.list_tools()
            best = min(best, time.perf_counter() - t)
    return best


async def stdio_round_trip(root: Path, messages: int) -> dict[str, float]:
    """send_message latency through a real stdio MCP server with the instant model."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(HERE / "instant_server.py"), str(root / "stdio")])
    async with Client(params) as client:
        created = await client.call_tool("create_agent", {"name": "stdio"})
        agent_id = created.structured_content["id"]
        times = []
        for i in range(messages + 5):
            t = time.perf_counter()
            result = await client.call_tool("send_message", {"agent_id": agent_id, "message": f"hi {i}"})
            assert not result.is_error, result.content
            if i >= 5:
                times.append((time.perf_counter() - t) * 1000)
    return {"p50": statistics.median(times), "p95": percentile(times, 95)}


async def main(quick: bool) -> dict[str, object]:
    histories = [100, 1_000] if quick else [100, 10_000, 100_000]
    messages = 20 if quick else 300
    tries = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overhead = {h: await per_message_overhead(root, h, messages) for h in histories}
        agents = [1, 10] if quick else [1, 10, 100]
        rates = {n: await throughput(root, n, 10 if quick else 30) for n in agents}
        rss_agents = 200 if quick else 10_000
        rss = await rss_with_agents(root, rss_agents)
        cold = await cold_start(root, tries)
        stdio = await stdio_round_trip(root, 20 if quick else 200)
    floor = import_time("import mcp.server", tries)
    first, last = histories[0], histories[-1]
    return {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "quick": quick,
        "p50_ms_by_history": {h: round(v["p50"], 3) for h, v in overhead.items()},
        "p95_ms_by_history": {h: round(v["p95"], 3) for h, v in overhead.items()},
        # largest history over smallest (100k/100 in a full run)
        "ratio_100k_100": round(overhead[last]["p50"] / overhead[first]["p50"], 3),
        "msgs_per_s_by_agents": {n: round(r, 1) for n, r in rates.items()},
        "agents_for_rss": rss_agents,
        "rss_mb_10k_agents": round(rss, 1),
        "cold_start_s": round(cold, 3),
        "import_mcp_server_s": round(floor, 3),
        "cold_start_vs_import": round(cold / floor, 3),
        "stdio_send_message_ms": {k: round(v, 3) for k, v in stdio.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds (CI)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick)), indent=2))
