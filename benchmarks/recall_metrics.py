"""Retrieval metrics exactly as ``shared/data/locomo-notes.md`` defines them.

For a question with evidence set E and ranking R (at most 100 turn ids, best first):
recall@k = |E ∩ R[:k]| / |E|; hit@10 = 1 if E ∩ R[:10] ≠ ∅; MRR = 1 / rank of the first evidence turn
in R[:100], 0 if none. Averaged over questions (macro over questions, not conversations), overall and
per category.

Two diagnostics beside them, to tell why a split scores what it does: where each evidence turn
ranks (a miss ranked 11-20 is a ranking problem; one beyond 50 or not returned shares too few words
with the question for full-text search to find), and a bootstrap interval of recall@10 (how far two
question sets of this size drawn from the same distribution would differ by chance).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from recall_data import CATEGORIES

TOP_K = 100
METRICS = ("recall_at_5", "recall_at_10", "hit_at_10", "mrr")
RANK_BUCKETS = ((1, 10), (11, 20), (21, 50), (51, TOP_K))
BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class Scored:
    category: int
    values: dict[str, float]
    ranks: dict[str, int] = field(default_factory=dict)  # `evidence_ranks` of the question


def score(ranking: Sequence[str], evidence: frozenset[str]) -> dict[str, float]:
    ranking = list(dict.fromkeys(ranking))[:TOP_K]  # a turn counts once, at its best rank
    first = next((rank for rank, turn in enumerate(ranking, start=1) if turn in evidence), None)
    return {
        "recall_at_5": len(evidence.intersection(ranking[:5])) / len(evidence),
        "recall_at_10": len(evidence.intersection(ranking[:10])) / len(evidence),
        "hit_at_10": 1.0 if evidence.intersection(ranking[:10]) else 0.0,
        "mrr": 1.0 / first if first else 0.0,
    }


def evidence_ranks(ranking: Sequence[str], evidence: frozenset[str]) -> dict[str, int]:
    """How many of the evidence turns rank in each of `RANK_BUCKETS` (``"1-10"`` …), and how many are
    not in the top 100 at all (``"missing"``)."""
    ranking = list(dict.fromkeys(ranking))[:TOP_K]
    position = {turn: rank for rank, turn in enumerate(ranking, start=1)}
    counts = {f"{lo}-{hi}": 0 for lo, hi in RANK_BUCKETS} | {"missing": 0}
    for turn in evidence:
        rank = position.get(turn)
        bucket = next((f"{lo}-{hi}" for lo, hi in RANK_BUCKETS if rank is not None and lo <= rank <= hi), "missing")
        counts[bucket] += 1
    return counts


def rank_histogram(results: Iterable[Scored]) -> dict[str, dict[str, int]]:
    """`evidence_ranks` summed overall and per category name."""
    out: dict[str, dict[str, int]] = {}
    for result in results:
        for name in ("overall", CATEGORIES[result.category]):
            totals = out.setdefault(name, {})
            for bucket, count in result.ranks.items():
                totals[bucket] = totals.get(bucket, 0) + count
    return {name: out[name] for name in ["overall", *CATEGORIES.values()] if name in out}


def bootstrap_interval(results: Sequence[Scored], metric: str = "recall_at_10", seed: int = 0) -> list[float]:
    """A 95% percentile-bootstrap interval of the mean of ``metric`` over questions (seeded, so a
    report is reproducible): the spread to expect between question sets of this size by chance."""
    values = [r.values[metric] for r in results]
    if not values:
        return [0.0, 0.0]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(BOOTSTRAP_SAMPLES))
    return [round(means[int(0.025 * BOOTSTRAP_SAMPLES)], 4), round(means[int(0.975 * BOOTSTRAP_SAMPLES) - 1], 4)]


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
