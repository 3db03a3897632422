"""How slow is a person's first call? Fresh ``letta-mcp serve`` processes over stdio, timed per call.

    python benchmarks/first_call.py [--runs 5] [--pause 2.0] [--source SRC] [--baseline OTHER_SRC]

Each run starts a new server process on the same data directory (as a client does at every start),
times the start-up to the first ``tools/list``, waits ``--pause`` seconds (a person reading the
tool list and typing), then times two ``send_message`` and two ``archival_search`` calls. The
model is benchmarks/instant_openai.py (answers at once, through the real ``openai`` client), so
the times are letta-mcp's own, and the gap between a first and a second call is what a process
pays once: lazy imports and first-use set-up. Prints JSON: the median of each over the runs.
``--source`` times the code in another source directory instead of the installed one; with
``--baseline``, runs alternate between the two (e.g. a `git worktree` of an older commit), so both
see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import machine

HERE = Path(__file__).resolve().parent


def server(data_dir: Path, base_url: str, src: Path | None = None) -> StdioServerParameters:
    env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": base_url, "LETTA_MCP_LOG_LEVEL": "WARNING"}
    if src is not None:
        env["PYTHONPATH"] = str(src)  # ahead of the editable install's path
    return StdioServerParameters(
        command=sys.executable, args=["-m", "letta_mcp", "serve", "--data-dir", str(data_dir)], env=env
    )


async def timed(client: Client, tool: str, arguments: dict[str, Any]) -> float:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = time.perf_counter() - started
    # A turn that failed fast would pass for a fast one: only the model's answer counts.
    if result.is_error or (tool == "send_message" and result.structured_content.get("reply") != "ok"):
        raise RuntimeError(f"{tool} failed: {result.content[0].text[:500]}")
    return elapsed * 1000


async def prepare(data_dir: Path, base_url: str) -> str:
    """An agent with some archival passages, made by a process of its own."""
    async with Client(server(data_dir, base_url)) as client:
        created = await client.call_tool("create_agent", {"name": "bench"})
        agent_id = created.structured_content["id"]
        for i in range(20):
            await client.call_tool("archival_insert", {"agent_id": agent_id, "text": f"Fact {i}: the user likes tea."})
    return agent_id


async def one_run(data_dir: Path, base_url: str, agent_id: str, pause: float, src: Path | None) -> dict[str, float]:
    started = time.perf_counter()
    async with Client(server(data_dir, base_url, src)) as client:
        await client.list_tools()
        out = {"start_to_tools_list_ms": (time.perf_counter() - started) * 1000}
        await anyio.sleep(pause)
        message = {"agent_id": agent_id, "message": "hello"}
        out["send_message_first_ms"] = await timed(client, "send_message", message)
        out["send_message_second_ms"] = await timed(client, "send_message", message)
        search = {"agent_id": agent_id, "query": "tea"}
        out["archival_search_first_ms"] = await timed(client, "archival_search", search)
        out["archival_search_second_ms"] = await timed(client, "archival_search", search)
    return out


async def measure(
    base_url: str, runs: int, pause: float, source: Path | None, baseline: Path | None
) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {"current": [], "baseline": []} if baseline else {"current": []}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        agent_id = await prepare(data_dir, base_url)
        for _ in range(runs):
            out["current"].append(await one_run(data_dir, base_url, agent_id, pause, source))
            if baseline:
                out["baseline"].append(await one_run(data_dir, base_url, agent_id, pause, baseline))
    return out


def median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in results), 1) for key in results[0]}


def main(runs: int, pause: float, source: Path | None, baseline: Path | None) -> dict[str, Any]:
    model = subprocess.Popen(
        [sys.executable, str(HERE / "instant_openai.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert model.stdout is not None
        results = anyio.run(measure, model.stdout.readline().strip(), runs, pause, source, baseline)
    finally:
        model.terminate()
        model.wait(timeout=10)
        if model.stdout is not None:
            model.stdout.close()
    medians = {name: median(runs_of) for name, runs_of in results.items()}
    return {"benchmark": "first_call", "runs": runs, "pause_s": pause, "median": medians, "machine": machine()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="server processes to start (default 5)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between tools/list and the first call")
    parser.add_argument("--source", type=Path, help="time this src directory instead of the installed code")
    parser.add_argument("--baseline", type=Path, help="another src directory to alternate with")
    args = parser.parse_args()
    print(json.dumps(main(args.runs, args.pause, args.source, args.baseline), indent=2))
