"""Conversation-search recall on LoCoMo: a conversation fed as messages, questions through ``search_messages``.

    python benchmarks/recall_messages.py --data ../shared/data/locomo-dev.json [--split report|tune|all]
    python benchmarks/recall_messages.py --quick      # a generated synthetic set, seconds (CI)

Each conversation becomes one agent whose history is the conversation itself, built the way a real
one is: turns are taken in pairs, the first sent with `AgentService.send_message` (a user message),
the second the scripted model's reply (an assistant message), so every turn is one message with text
``[<session date_time>] <Speaker>: <text> [shares <caption>]`` (the archival benchmark's passage
text). Every question of categories 1-4 is then one `AgentService.search_messages` call (limit 100),
scored with the archival benchmark's metrics (recall_metrics.py), so R@10 and hit@10 sit beside
archival's. Splits as in recall.py. Prints one JSON object.
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
from letta_mcp.service import AgentService


async def feed(service: AgentService, scripted: ScriptedProvider, conv: Conversation) -> tuple[str, dict[str, str]]:
    """One agent whose history is ``conv``; returns its id and each turn's dia_id by message text."""
    agent_id = (await service.create_agent(name=conv.sample_id)).agent.id
    texts = {turn.passage(): turn.dia_id for turn in conv.turns}
    turns = [turn.passage() for turn in conv.turns]
    for i in range(0, len(turns), 2):
        answer = turns[i + 1] if i + 1 < len(turns) else "(end of conversation)"
        scripted.add(reply(answer))
        await service.send_message(agent_id, turns[i])
    return agent_id, texts


async def evaluate(
    service: AgentService, agent_id: str, texts: dict[str, str], conv: Conversation
) -> tuple[list[Scored], list[float]]:
    scored, latencies = [], []
    for question in conv.questions:
        started = time.perf_counter()
        found = await service.search_messages(agent_id, query=question.text, limit=TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        ranking = [texts[m.content] for m in found if m.content in texts]
        scored.append(Scored(question.category, score(ranking, question.evidence)))
    return scored, latencies


async def run(conversations: list[Conversation], args: argparse.Namespace) -> dict[str, Any]:
    scripted = ScriptedProvider()
    with tempfile.TemporaryDirectory(prefix="letta-recall-messages-") as tmp:
        settings = load_settings(overrides={"data_dir": tmp}, environ={})
        service = await AgentService.open(settings, providers={"openai": scripted})
        try:
            started = time.perf_counter()
            agents = [await feed(service, scripted, conv) for conv in conversations]
            fed = time.perf_counter()
            scored: list[Scored] = []
            times: list[float] = []
            for (agent_id, texts), conv in zip(agents, conversations, strict=True):
                s, t = await evaluate(service, agent_id, texts, conv)
                scored += s
                times += t
        finally:
            await service.close()
    return {
        "benchmark": "recall_messages",
        "data": "synthetic (--quick)" if args.quick else str(args.data),
        "split": "synthetic" if args.quick else args.split,
        "conversation_ids": [c.sample_id for c in conversations],
        "messages": sum(len(c.turns) for c in conversations),
        "questions": sum(len(c.questions) for c in conversations),
        "search_messages": aggregate(scored),
        "timing": {
            "feed_s": round(fed - started, 2),
            "search_ms": {"p50": round(statistics.median(times), 2), "p95": round(p95(times), 2)},
        },
        "load_average": os.getloadavg(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a LoCoMo-format JSON file (e.g. ../shared/data/locomo-dev.json)")
    source.add_argument("--quick", action="store_true", help="a small generated synthetic set (seconds; for CI)")
    parser.add_argument("--split", choices=sorted(SPLITS), default="report", help="which conversations (recall.py)")
    args = parser.parse_args(argv)
    conversations = parse_conversations(generate()) if args.quick else SPLITS[args.split](load_locomo(args.data))
    print(json.dumps(asyncio.run(run(conversations, args)), indent=2))


if __name__ == "__main__":
    sys.exit(main())
