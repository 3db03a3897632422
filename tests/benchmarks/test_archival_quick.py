"""`benchmarks/archival.py --quick` end to end: a real subprocess, the real service, synthetic passages."""

from __future__ import annotations

import pytest
from archival_corpus import Corpus, HashEmbedder
from quick import run_quick


def test_quick_scale_benchmark() -> None:
    report = run_quick("archival.py")
    assert report["benchmark"] == "archival"
    (row,) = report["results"]
    assert row["passages"] == row["passages_added"] == 2000
    assert row["insert_per_s"] > 0 and row["index_per_s"] > 0
    assert set(row["search"]) == {"fts", "vector", "hybrid"}
    for mode, timing in row["search"].items():
        assert 0 < timing["p50_ms"] <= timing["p95_ms"], mode
        assert timing["queries_with_hits"] == 1.0, mode  # every query is made of stored words


def test_corpus_is_deterministic() -> None:
    corpus = Corpus(vocab_size=500)
    assert corpus.passages(100, 5) == Corpus(vocab_size=500).passages(100, 5)
    assert corpus.passages(100, 5) != corpus.passages(105, 5)
    assert all(15 <= len(p.split()) < 60 for p in corpus.passages(0, 50))


@pytest.mark.anyio
async def test_hash_embedder_is_a_unit_bag_of_words() -> None:
    embedder = HashEmbedder(["alpha", "beta", "gamma"], dim=16)
    same, reordered, other = await embedder.embed(["alpha beta", "beta alpha", "gamma"])
    assert same == pytest.approx(reordered)
    assert sum(x * x for x in same) == pytest.approx(1.0, abs=1e-5)
    assert sum(a * b for a, b in zip(same, other, strict=True)) < 0.9
