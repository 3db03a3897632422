"""Archival memory at scale: insert throughput and search latency at 10k, 100k and 1M passages.

    python benchmarks/archival.py [--sizes 10000 100000 1000000] [--embedder hash|none] [--queries 100]
    python benchmarks/archival.py --quick          # 2,000 passages, seconds (CI)

One agent's archive grows through the real service (`ArchivalService.insert_many` in batches, then
`wait_indexed`) to each size in turn; at each size the same kind of queries are timed in every
mode (``fts``; with an embedder also ``vector`` and ``hybrid``), top_k=10, after a warm-up. The
store itself decides when to build the ANN index (``archival_ann_threshold``) and when to fold new
rows into its indexes; a final ``maintain`` (as the background indexer runs every few thousand
rows) is timed separately. Passages are synthetic (archival_corpus.py); the default embedder is a
bag-of-words hash, so the numbers are the index's, not a model's.

Prints ONE JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archival_corpus import Corpus, HashEmbedder
from bench_common import machine, p95, settle

from letta_mcp.config import load_settings
from letta_mcp.embed.base import Embedder
from letta_mcp.models import NewPassage
from letta_mcp.service import AgentService

BATCH = 5_000


async def grow(service: AgentService, agent_id: str, corpus: Corpus, have: int, want: int) -> dict[str, float]:
    """Insert passages ``have..want`` and index them; returns the throughputs."""
    started = time.perf_counter()
    for start in range(have, want, BATCH):
        texts = corpus.passages(start, min(BATCH, want - start))
        await service.archival.insert_many(agent_id, [NewPassage(text=t) for t in texts])
    inserted = time.perf_counter()
    await service.archival.wait_indexed()
    indexed = time.perf_counter()
    await settle(service)  # the periodic optimize / ANN build, timed on its own
    maintained = time.perf_counter()
    added = want - have
    return {
        "passages_added": added,
        "insert_per_s": round(added / (inserted - started), 1),
        "index_per_s": round(added / (indexed - inserted), 1),
        "insert_and_index_per_s": round(added / (indexed - started), 1),
        "maintain_s": round(maintained - indexed, 2),
    }


async def time_searches(service: AgentService, agent_id: str, queries: list[str], mode: str) -> dict[str, float]:
    for query in queries[:5]:  # warm-up: open tables, load index pages
        await service.archival.search(agent_id, query, top_k=10, mode=mode)
    times, found = [], 0
    for query in queries:
        started = time.perf_counter()
        hits = await service.archival.search(agent_id, query, top_k=10, mode=mode)
        times.append((time.perf_counter() - started) * 1000)
        found += bool(hits)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(p95(times), 2),
        "queries_with_hits": found / len(queries),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = Corpus()
    embedder: Embedder | None = HashEmbedder(corpus.words) if args.embedder == "hash" else None
    modes = ["fts", "vector", "hybrid"] if args.embedder != "none" else ["fts"]
    results = []
    with tempfile.TemporaryDirectory(prefix="letta-archival-") as tmp:
        overrides: dict[str, object] = {
            "data_dir": tmp,
            "embedder": "none" if args.embedder == "hash" else args.embedder,
            # Vectors are written to LanceDB in batches of this size: one commit per 64 rows (the
            # default) makes indexing a million rows take hours; the hash embedder takes any batch.
            "embedding_batch_size": args.batch,
        }
        settings = load_settings(overrides=overrides, environ={})
        service = await AgentService.open(settings, embedder=embedder)
        try:
            agent_id = (await service.create_agent(name="scale")).agent.id
            have = 0
            for size in sorted(args.sizes):
                growth = await grow(service, agent_id, corpus, have, size)
                have = size
                queries = corpus.queries(have, args.queries)
                search = {mode: await time_searches(service, agent_id, queries, mode) for mode in modes}
                results.append({"passages": size, **growth, "search": search})
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # progress for long runs
        finally:
            await service.close()
    return {
        "benchmark": "archival",
        "embedder": "bench/hash-bow (384-d)" if args.embedder == "hash" else args.embedder,
        "ann_threshold": settings.archival_ann_threshold,
        "embedding_batch_size": settings.embedding_batch_size,
        "top_k": 10,
        "queries_per_size": args.queries,
        "results": results,
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--embedder", default="hash", help="hash (default: cheap bag-of-words), none, local, p/m")
    parser.add_argument("--queries", type=int, default=100, help="timed queries per size and mode")
    parser.add_argument("--batch", type=int, default=2048, help="embedding_batch_size setting (texts per write)")
    parser.add_argument("--quick", action="store_true", help="2,000 passages and 20 queries (seconds; for CI)")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries = [2_000], 20
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
