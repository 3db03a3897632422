"""Retrieval metrics exactly as ``shared/data/locomo-notes.md`` defines them.

For a question with evidence set E and ranking R (at most 100 turn ids, best first):
recall@k = |E ∩ R[:k]| / |E|; hit@10 = 1 if E ∩ R[:10] ≠ ∅; MRR = 1 / rank of the first evidence turn
in R[:100], 0 if none. Averaged over questions (macro over questions, not conversations), overall and
per category.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from recall_data import CATEGORIES

TOP_K = 100
METRICS = ("recall_at_5", "recall_at_10", "hit_at_10", "mrr")


@dataclass(frozen=True)
class Scored:
    category: int
    values: dict[str, float]


def score(ranking: Sequence[str], evidence: frozenset[str]) -> dict[str, float]:
    ranking = list(dict.fromkeys(ranking))[:TOP_K]  # a turn counts once, at its best rank
    first = next((rank for rank, turn in enumerate(ranking, start=1) if turn in evidence), None)
    return {
        "recall_at_5": len(evidence.intersection(ranking[:5])) / len(evidence),
        "recall_at_10": len(evidence.intersection(ranking[:10])) / len(evidence),
        "hit_at_10": 1.0 if evidence.intersection(ranking[:10]) else 0.0,
        "mrr": 1.0 / first if first else 0.0,
    }


def aggregate(results: Iterable[Scored]) -> dict[str, object]:
    """Means overall and per category name, with the number of questions behind each."""
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for result in results:
        groups["overall"].append(result.values)
        groups[CATEGORIES[result.category]].append(result.values)
    out: dict[str, object] = {}
    for name in ["overall", *CATEGORIES.values()]:
        rows = groups.get(name, [])
        summary: dict[str, float | int] = {"n": len(rows)}
        for metric in METRICS:
            summary[metric] = round(sum(r[metric] for r in rows) / len(rows), 4) if rows else 0.0
        out[name] = summary
    return out
