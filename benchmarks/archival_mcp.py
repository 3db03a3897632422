"""Archival memory through MCP: ``archival_insert`` and ``archival_search`` over a real stdio session.

    python benchmarks/archival_mcp.py --data ../shared/data/locomo-dev.json   # one LoCoMo conversation
    python benchmarks/archival_mcp.py --quick                                  # generated passages, seconds

The server is a ``python -m letta_mcp serve`` subprocess (stdio) on a fresh data dir, default settings
(``embedder = none`` unless ``--embedder``). One agent gets every turn of the first conversation
(~700 with LoCoMo) as one ``archival_insert`` call each, then every question is one
``archival_search`` (top_k=10, full-text); what is timed is each tool call as the client sees it.
With ``--embedder``, the passages are then embedded and the index optimized (in-process, between
two server sessions) and every question is searched again in ``hybrid`` mode (query embedding
included) through a new server process. Then a second agent gets ``--bulk`` passages in calls of
text lists (bulk ingestion, passages/s). Prints one
JSON object with p50/p95 per call and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from bench_common import machine, p95, settle
from e2e import serve_command, server_env
from mcp import Client, StdioServerParameters
from recall_data import load_locomo, parse_conversations
from recall_synthetic import generate

from letta_mcp.config import load_settings
from letta_mcp.service import AgentService

BULK_CALL = 1_000


def timed(times: list[float], started: float) -> None:
    times.append((time.perf_counter() - started) * 1000)


def stats(times: list[float]) -> dict[str, float]:
    return {"n": len(times), "p50": round(statistics.median(times), 2), "p95": round(p95(times), 2)}


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content}")
    assert result.structured_content is not None
    return result.structured_content


async def search_all(client: Client, agent: str, questions: list[str], mode: str) -> list[float]:
    """One timed ``archival_search`` (top_k=10) per question."""
    times: list[float] = []
    for question in questions:
        started = time.perf_counter()
        await call(client, "archival_search", {"agent_id": agent, "query": question, "mode": mode})
        timed(times, started)
    return times


async def settle_dir(data_dir: Path, embedder: str) -> None:
    """Embed and index everything pending in ``data_dir`` in-process (no server running), then optimize."""
    settings = load_settings(overrides={"data_dir": str(data_dir), "embedder": embedder}, environ={})
    service = await AgentService.open(settings)
    try:
        await settle(service)
    finally:
        await service.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    conversations = parse_conversations(generate()) if args.quick else load_locomo(args.data)
    conv = conversations[0]
    texts = [turn.passage() for turn in conv.turns]
    questions = [q.text for q in conv.questions]
    hybrid: list[float] = []
    with tempfile.TemporaryDirectory(prefix="letta-archival-mcp-") as tmp:
        env = server_env("http://127.0.0.1:9/v1", "WARNING")  # no model call is made
        env["LETTA_MCP_EMBEDDER"] = args.embedder
        params = StdioServerParameters(command=sys.executable, args=serve_command(Path(tmp))[1:], env=env)
        async with Client(params) as client:
            agent = (await call(client, "create_agent", {"name": "archival-bench"}))["id"]
            # Untimed warm-up: the first archival call imports lancedb (seconds).
            await call(client, "archival_insert", {"agent_id": agent, "text": "warm-up passage"})
            await call(client, "archival_search", {"agent_id": agent, "query": "warm-up"})
            inserts: list[float] = []
            for text in texts:
                started = time.perf_counter()
                await call(client, "archival_insert", {"agent_id": agent, "text": text})
                timed(inserts, started)
            searches = await search_all(client, agent, questions, "fts")
        if args.embedder != "none":
            # Hybrid is timed on the steady state a long-running server reaches (every passage
            # embedded, index optimized), not while the background embedder competes for the CPU.
            await settle_dir(Path(tmp), args.embedder)
        async with Client(params) as client:
            if args.embedder != "none":
                await call(client, "archival_search", {"agent_id": agent, "query": "warm-up", "mode": "hybrid"})
                hybrid = await search_all(client, agent, questions, "hybrid")
            bulk_agent = (await call(client, "create_agent", {"name": "archival-bulk"}))["id"]
            bulk = [texts[i % len(texts)] for i in range(args.bulk)]
            started = time.perf_counter()
            for i in range(0, len(bulk), BULK_CALL):
                await call(client, "archival_insert", {"agent_id": bulk_agent, "text": bulk[i : i + BULK_CALL]})
            bulk_s = time.perf_counter() - started
    return {
        "benchmark": "archival_mcp",
        "transport": "stdio",
        "embedder": args.embedder,
        "data": "synthetic (--quick)" if args.quick else f"{args.data} ({conv.sample_id})",
        "archival_insert_ms": stats(inserts),
        "archival_search_fts_ms": stats(searches),
        "archival_search_hybrid_ms": stats(hybrid) if hybrid else None,
        "bulk": {
            "passages": len(bulk),
            "per_call": BULK_CALL,
            "passages_per_s": round(len(bulk) / bulk_s) if bulk else None,
        },
        "load_average": os.getloadavg(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a LoCoMo-format JSON file (e.g. ../shared/data/locomo-dev.json)")
    source.add_argument("--quick", action="store_true", help="generated passages (seconds; for CI)")
    parser.add_argument("--embedder", default="none", help="none (default), local, or provider/model")
    parser.add_argument("--bulk", type=int, default=10_000, help="passages for the bulk-ingestion part")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    report = anyio.run(run, args)
    report["load_average_before"] = load_before
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
