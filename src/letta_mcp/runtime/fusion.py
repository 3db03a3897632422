"""Weighted reciprocal-rank fusion: one ranking from several best-first id lists.

Shared by archival search and conversation search, which fuse a full-text list with a vector list;
each chooses its own ``k`` and weights (on its benchmark's tune split).
"""

from __future__ import annotations

from collections.abc import Sequence


def fuse(
    ranked: Sequence[Sequence[str]], weights: Sequence[float], k: int
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse best-first id lists: score = Σ weight / (k + rank); returns (id, score, 1-based rank in
    each list, None where absent), best first."""
    scores: dict[str, float] = {}
    ranks: dict[str, list[int | None]] = {}
    for n, ids in enumerate(ranked):
        for rank, pid in enumerate(dict.fromkeys(ids), start=1):
            scores[pid] = scores.get(pid, 0.0) + weights[n] / (k + rank)
            ranks.setdefault(pid, [None] * len(ranked))[n] = rank
    order = sorted(scores, key=lambda pid: -scores[pid])
    return [(pid, scores[pid], ranks[pid]) for pid in order]
