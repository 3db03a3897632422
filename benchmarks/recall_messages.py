"""Conversation-search recall on LoCoMo: a conversation fed as messages, questions through ``search_messages``.

    python benchmarks/recall_messages.py --data ../shared/data/locomo-dev.json [--split report|tune|all]
    python benchmarks/recall_messages.py --data ... --embedder local [--split tune --sweep]
    python benchmarks/recall_messages.py --quick      # a generated synthetic set, seconds (CI)

Each conversation becomes one agent whose history is the conversation itself, built the way a real
one is: turns are taken in pairs, the first sent with `AgentService.send_message` (a user message),
the second the scripted model's reply (an assistant message), so every turn is one message with text
``[<session date_time>] <Speaker>: <text> [shares <caption>]`` (the archival benchmark's passage
text). Every question of categories 1-4 is then one `AgentService.search_messages` call (limit 100),
scored with the archival benchmark's metrics (recall_metrics.py), so R@10 and hit@10 sit beside
archival's. Splits as in recall.py. Prints one JSON object.

With ``--embedder`` (``local``, or ``provider/model``), messages are embedded in the background as a
server does; once all are, the questions are asked, and besides ``search_messages`` (hybrid) its two
lists are scored alone (``fts``, ``vector``). ``--sweep`` adds R@10 of their fusion for each k and
vector weight: run it on ``--split tune`` only, to choose `letta_mcp.runtime.message_index`'s values.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_common import machine, p95
from recall import SPLITS
from recall_data import Conversation, load_locomo, parse_conversations
from recall_metrics import TOP_K, Scored, aggregate, score
from recall_synthetic import generate

from letta_mcp.config import load_settings
from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import Role
from letta_mcp.runtime.fusion import fuse
from letta_mcp.service import AgentService

SWEEP_K = (10, 20, 40, 60)
SWEEP_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


async def feed(service: AgentService, scripted: ScriptedProvider, conv: Conversation) -> tuple[str, dict[str, str]]:
    """One agent whose history is ``conv``; returns its id and each turn's dia_id by message id."""
    agent_id = (await service.create_agent(name=conv.sample_id)).agent.id
    texts = {turn.passage(): turn.dia_id for turn in conv.turns}
    turns = [turn.passage() for turn in conv.turns]
    for i in range(0, len(turns), 2):
        answer = turns[i + 1] if i + 1 < len(turns) else "(end of conversation)"
        scripted.add(reply(answer))
        await service.send_message(agent_id, turns[i])
    history = await service.list_messages(agent_id, newest_first=False, limit=len(turns) * 2 + 10)
    return agent_id, {m.id: texts[m.content] for m in history if m.content in texts}


async def parts(service: AgentService, agent_id: str, question: str) -> dict[str, list[str]]:
    """With an embedder, the two lists hybrid search fuses, alone (message ids best first)."""
    index = service.message_index
    if index is None:
        return {}
    roles = [Role.user, Role.assistant]
    async with service.store.read() as q:
        fts = await q.messages.search(agent_id, query=question, roles=roles, limit=TOP_K)
    vector = await index.prepare(question)
    assert vector is not None
    near = await (await index.open()).search(agent_id, vector, roles=roles, start=None, end=None, limit=TOP_K)
    return {"fts": [m.id for m in fts], "vector": [mid for mid, _, _ in near]}


async def evaluate(
    service: AgentService, agent_id: str, dia_ids: dict[str, str], conv: Conversation
) -> tuple[list[tuple[int, frozenset[str], dict[str, list[str]]]], list[float]]:
    """Per question (category, evidence, turn ids best first per mode: ``search_messages``, what clients
    and the agent get, hybrid with an embedder), and search_messages' latencies."""
    ranked, latencies = [], []
    for question in conv.questions:
        started = time.perf_counter()
        found = await service.search_messages(agent_id, query=question.text, limit=TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        lists = {"search_messages": [m.id for m in found]} | await parts(service, agent_id, question.text)
        turns = {mode: [dia_ids[mid] for mid in ids if mid in dia_ids] for mode, ids in lists.items()}
        ranked.append((question.category, question.evidence, turns))
    return ranked, latencies


def sweep(ranked: list[tuple[int, frozenset[str], dict[str, list[str]]]]) -> dict[str, float]:
    """Recall@10 of the fusion of the fts and vector lists for each k and vector weight (tune only)."""
    out: dict[str, float] = {}
    for k in SWEEP_K:
        for weight in SWEEP_WEIGHTS:
            values = []
            for _, evidence, turns in ranked:
                fused = [tid for tid, _, _ in fuse([turns["fts"], turns["vector"]], (1.0, weight), k)]
                values.append(score(fused, evidence)["recall_at_10"])
            out[f"k={k} w={weight}"] = round(sum(values) / len(values), 4)
    return out


async def run(conversations: list[Conversation], args: argparse.Namespace) -> dict[str, Any]:
    scripted = ScriptedProvider()
    with tempfile.TemporaryDirectory(prefix="letta-recall-messages-") as tmp:
        settings = load_settings(overrides={"data_dir": tmp, "embedder": args.embedder}, environ={})
        service = await AgentService.open(settings, providers={"openai": scripted})
        try:
            started = time.perf_counter()
            agents = [await feed(service, scripted, conv) for conv in conversations]
            fed = time.perf_counter()
            if service.message_index is not None:  # every message embedded, then compacted
                await service.message_index.wait_indexed()
                await service.message_index.optimize()
            indexed = time.perf_counter()
            ranked: list[tuple[int, frozenset[str], dict[str, list[str]]]] = []
            times: list[float] = []
            for (agent_id, dia_ids), conv in zip(agents, conversations, strict=True):
                r, t = await evaluate(service, agent_id, dia_ids, conv)
                ranked += r
                times += t
        finally:
            await service.close()
    modes = list(ranked[0][2]) if ranked else ["search_messages"]
    report: dict[str, Any] = {
        "benchmark": "recall_messages",
        "data": "synthetic (--quick)" if args.quick else str(args.data),
        "split": "synthetic" if args.quick else args.split,
        "embedder": args.embedder,
        "conversation_ids": [c.sample_id for c in conversations],
        "messages": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
    }
    for mode in modes:
        report[mode] = aggregate(Scored(cat, score(turns[mode], evidence)) for cat, evidence, turns in ranked)
    if args.sweep:
        report["fusion_sweep_recall_at_10"] = sweep(ranked)
    report["timing"] = {
        "feed_s": round(fed - started, 2),
        "embed_s": round(indexed - fed, 2),
        "search_messages_ms": {"p50": round(statistics.median(times), 2), "p95": round(p95(times), 2)},
    }
    report |= {
        "load_average": os.getloadavg(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a LoCoMo-format JSON file (e.g. ../shared/data/locomo-dev.json)")
    source.add_argument("--quick", action="store_true", help="a small generated synthetic set (seconds; for CI)")
    parser.add_argument("--split", choices=sorted(SPLITS), default="report", help="which conversations (recall.py)")
    parser.add_argument("--embedder", default="none", help="none (default: full text only), local, or provider/model")
    parser.add_argument("--sweep", action="store_true", help="with an embedder: R@10 per fusion k and weight")
    args = parser.parse_args(argv)
    conversations = parse_conversations(generate()) if args.quick else SPLITS[args.split](load_locomo(args.data))
    print(json.dumps(asyncio.run(run(conversations, args)), indent=2))


if __name__ == "__main__":
    sys.exit(main())
