"""Archival recall on LoCoMo, through the real service: how often search finds the evidence turns.

    python benchmarks/recall.py --data ../shared/data/locomo-dev.json [--embedder none|local|provider/model]
    python benchmarks/recall.py --data ../shared/data/locomo-dev.json --split tune   # for tuning only
    python benchmarks/recall.py --quick            # a generated synthetic set, seconds (CI)

Splits: ``tune`` = conversations 0-1 of the file, ``report`` (the default) = the others (2-4 of the
dev file), ``all`` = every one. Every search parameter is chosen on ``tune`` alone, so the
``report`` figures predict what users get on conversations the parameters never saw.

Each conversation becomes one agent (`AgentService` on a fresh tmp data dir, no LLM); every turn is
stored with `ArchivalService.insert_many` as one passage, text ``[<session date_time>] <Speaker>:
<text> [shares <blip_caption>]``, backdated to its session's date (turn order kept) the way an
import of old history would be; every question of categories 1-4 is searched with top_k=100 in each
mode (``fts`` always; ``vector`` and ``hybrid`` when an embedder is configured). Metrics and evidence
normalisation: ``shared/data/locomo-notes.md`` (see recall_data.py, recall_metrics.py).

Prints ONE JSON object: metrics overall and per category for each mode, overall per conversation,
diagnostics per mode (a bootstrap 95% interval of recall@10; where the evidence turns rank, per
category), timings and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_common import machine, p95, settle
from recall_data import Conversation, load_locomo, parse_conversations
from recall_metrics import TOP_K, Scored, aggregate, bootstrap_interval, evidence_ranks, rank_histogram, score
from recall_synthetic import generate

from letta_mcp.config import load_settings
from letta_mcp.models import NewPassage
from letta_mcp.service import AgentService

TUNE_CONVERSATIONS = 2
SPLITS: dict[str, Callable[[list[Conversation]], list[Conversation]]] = {
    "tune": lambda convs: convs[:TUNE_CONVERSATIONS],
    "report": lambda convs: convs[TUNE_CONVERSATIONS:],
    "all": lambda convs: convs,
}
_DATE = re.compile(r"(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+(\w+),?\s+(\d{4})", re.IGNORECASE)


def session_start(date_time: str) -> datetime:
    """``1:56 pm on 8 May, 2023`` → 2023-05-08 13:56 UTC (LoCoMo's session stamps carry no zone)."""
    m = _DATE.search(date_time)
    if not m:
        raise ValueError(f"Unrecognised LoCoMo session date {date_time!r}")
    hour, minute, half, day, month, year = m.groups()
    hour_24 = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
    moment = datetime.strptime(f"{day} {month} {year}", "%d %B %Y")
    return moment.replace(hour=hour_24, minute=int(minute), tzinfo=UTC)


async def store_conversation(service: AgentService, conv: Conversation, *, date: bool, caption: bool) -> str:
    """One agent per conversation, every turn one passage; returns the agent id."""
    details = await service.create_agent(name=conv.sample_id)
    items = []
    for index, turn in enumerate(conv.turns):
        # Backdated to the session, one second per turn, so created_at keeps the conversation's order.
        created = session_start(turn.date_time) + timedelta(seconds=index)
        text = turn.passage(date=date, caption=caption)
        items.append(NewPassage(text=text, metadata={"dia_id": turn.dia_id}, created_at=created))
    await service.archival.insert_many(details.agent.id, items)
    return details.agent.id


async def evaluate(
    service: AgentService, agent_id: str, conv: Conversation, mode: str
) -> tuple[list[Scored], list[float]]:
    scored, latencies = [], []
    for question in conv.questions:
        started = time.perf_counter()
        hits = await service.archival.search(agent_id, question.text, top_k=TOP_K, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        ranking = [str(hit.passage.metadata["dia_id"]) for hit in hits]
        ranks = evidence_ranks(ranking, question.evidence)
        scored.append(Scored(question.category, score(ranking, question.evidence), ranks))
    return scored, latencies


async def run(conversations: list[Conversation], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="letta-recall-") as tmp:
        overrides = {"data_dir": tmp, "embedder": args.embedder}
        settings = load_settings(overrides=overrides, environ={})
        service = await AgentService.open(settings)
        try:
            return await _run(service, conversations, args)
        finally:
            await service.close()


async def _run(service: AgentService, conversations: list[Conversation], args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    agents = [
        await store_conversation(service, c, date=not args.no_date, caption=not args.no_caption) for c in conversations
    ]
    inserted = time.perf_counter()
    await settle(service)  # full-text index, every vector with an embedder, then optimize
    indexed = time.perf_counter()
    modes = ["fts"] if args.embedder == "none" else ["fts", "vector", "hybrid"]
    results: dict[str, Any] = {}
    diagnostics: dict[str, Any] = {}
    by_conversation: dict[str, dict[str, Any]] = {c.sample_id: {} for c in conversations}
    latency: dict[str, dict[str, float]] = {}
    for mode in modes:
        scored: list[Scored] = []
        times: list[float] = []
        for agent_id, conv in zip(agents, conversations, strict=True):
            s, t = await evaluate(service, agent_id, conv, mode)
            by_conversation[conv.sample_id][mode] = aggregate(s)["overall"]
            scored += s
            times += t
        results[mode] = aggregate(scored)
        diagnostics[mode] = {
            "recall_at_10_ci95": bootstrap_interval(scored),
            "evidence_ranks": rank_histogram(scored),
        }
        latency[mode] = {"p50": round(statistics.median(times), 2), "p95": round(p95(times), 2)}
    return {
        "benchmark": "recall",
        "data": "synthetic (--quick)" if args.quick else str(args.data),
        "embedder": args.embedder,
        "options": {"date": not args.no_date, "caption": not args.no_caption, "top_k": TOP_K},
        "split": "synthetic" if args.quick else args.split,
        "conversations": len(conversations),
        "conversation_ids": [c.sample_id for c in conversations],
        "turns": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
        "modes": results,
        "by_conversation": by_conversation,
        "diagnostics": diagnostics,
        "timing": {
            "insert_s": round(inserted - started, 2),
            "index_s": round(indexed - inserted, 2),
            "search_ms": latency,
            "total_s": round(time.perf_counter() - started, 2),
        },
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a LoCoMo-format JSON file (e.g. ../shared/data/locomo-dev.json)")
    source.add_argument("--quick", action="store_true", help="a small generated synthetic set (seconds; for CI)")
    parser.add_argument("--embedder", default="none", help="none (default: full-text only), local, or provider/model")
    parser.add_argument("--split", choices=sorted(SPLITS), default="report", help="which conversations (see above)")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N of the split")
    parser.add_argument("--no-date", action="store_true", help="leave the session date out of the stored text")
    parser.add_argument("--no-caption", action="store_true", help="leave shared-image captions out of the text")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    conversations = parse_conversations(generate()) if args.quick else SPLITS[args.split](load_locomo(args.data))
    conversations = conversations[: args.conversations] if args.conversations else conversations
    report = asyncio.run(run(conversations, args))
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
