"""The recall benchmark's data rules and metrics, exactly as shared/data/locomo-notes.md defines them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from recall import session_start
from recall_data import normalise_evidence, parse_conversations
from recall_metrics import Scored, aggregate, bootstrap_interval, evidence_ranks, rank_histogram, score
from recall_synthetic import generate


def test_evidence_normalisation() -> None:
    existing = {"D8:6", "D9:17", "D11:26", "D1:3"}
    assert normalise_evidence(["D8:6; D9:17"], existing) == {"D8:6", "D9:17"}
    assert normalise_evidence(["D:11:26"], existing) == {"D11:26"}
    assert normalise_evidence(["D", "D99:1"], existing) == frozenset()  # malformed, and a turn that doesn't exist
    assert normalise_evidence(["D1:3", "D1:3"], existing) == {"D1:3"}


def test_metrics() -> None:
    evidence = frozenset({"a", "b"})
    ranking = ["x", "a", *[f"n{i}" for i in range(10)], "b"]
    assert score(ranking, evidence) == {"recall_at_5": 0.5, "recall_at_10": 0.5, "hit_at_10": 1.0, "mrr": 0.5}
    assert score(["x"] * 3, evidence) == {"recall_at_5": 0.0, "recall_at_10": 0.0, "hit_at_10": 0.0, "mrr": 0.0}
    late = [f"n{i}" for i in range(100)] + ["a"]  # rank 101 is outside the top 100
    assert score(late, evidence)["mrr"] == 0.0


def test_aggregate_is_macro_over_questions() -> None:
    results = [
        Scored(4, {"recall_at_5": 1.0, "recall_at_10": 1.0, "hit_at_10": 1.0, "mrr": 1.0}),
        Scored(4, {"recall_at_5": 0.0, "recall_at_10": 0.0, "hit_at_10": 0.0, "mrr": 0.0}),
        Scored(1, {"recall_at_5": 0.5, "recall_at_10": 1.0, "hit_at_10": 1.0, "mrr": 0.5}),
    ]
    summary = aggregate(results)
    assert summary["overall"] == {"n": 3, "recall_at_5": 0.5, "recall_at_10": 0.6667, "hit_at_10": 0.6667, "mrr": 0.5}
    assert summary["single_hop"]["n"] == 2 and summary["multi_hop"]["recall_at_10"] == 1.0
    assert summary["temporal"] == {"n": 0, "recall_at_5": 0.0, "recall_at_10": 0.0, "hit_at_10": 0.0, "mrr": 0.0}


def test_evidence_ranks_bucket_each_evidence_turn() -> None:
    ranking = [f"n{i}" for i in range(1, 101)]
    ranking[0], ranking[14], ranking[59] = "a", "b", "c"  # ranks 1, 15, 60; "d" is not returned
    ranks = evidence_ranks(ranking, frozenset({"a", "b", "c", "d"}))
    assert ranks == {"1-10": 1, "11-20": 1, "21-50": 0, "51-100": 1, "missing": 1}
    assert evidence_ranks(["x"] * 120 + ["a"], frozenset({"a"}))["1-10"] == 1  # a repeated id counts once: "a" is 2nd
    assert evidence_ranks([f"n{i}" for i in range(100)] + ["a"], frozenset({"a"}))["missing"] == 1


def test_rank_histogram_sums_overall_and_per_category() -> None:
    zero = {"recall_at_5": 0.0, "recall_at_10": 0.0, "hit_at_10": 0.0, "mrr": 0.0}
    results = [
        Scored(1, zero, {"1-10": 2, "missing": 1}),
        Scored(1, zero, {"1-10": 1, "missing": 0}),
        Scored(4, zero, {"1-10": 0, "missing": 1}),
    ]
    histogram = rank_histogram(results)
    assert histogram["overall"] == {"1-10": 3, "missing": 2}
    assert histogram["multi_hop"] == {"1-10": 3, "missing": 1}
    assert histogram["single_hop"] == {"1-10": 0, "missing": 1}
    assert "temporal" not in histogram


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_questions() -> None:
    def scored(hits: int, n: int) -> list[Scored]:
        return [Scored(4, {"recall_at_10": 1.0 if i < hits else 0.0}) for i in range(n)]

    small = bootstrap_interval(scored(7, 10))
    large = bootstrap_interval(scored(700, 1000))
    assert small[0] <= 0.7 <= small[1] and large[0] <= 0.7 <= large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert bootstrap_interval(scored(7, 10)) == small  # seeded: a report is reproducible
    assert bootstrap_interval([]) == [0.0, 0.0]


def test_synthetic_set_is_deterministic_and_well_formed() -> None:
    assert generate() == generate()
    assert generate(seed=1) != generate(seed=2)
    conversations = parse_conversations(generate())
    for conv in conversations:
        ids = {t.dia_id for t in conv.turns}
        assert len(ids) == len(conv.turns)
        assert {q.category for q in conv.questions} == {1, 2, 3, 4}
        assert all(q.evidence <= ids for q in conv.questions)
    assert any(t.caption for c in conversations for t in c.turns)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56, tzinfo=UTC)),
        ("12:09 am on 13 September, 2023", datetime(2023, 9, 13, 0, 9, tzinfo=UTC)),
        ("12:30 pm on 1 January, 2024", datetime(2024, 1, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_session_dates(stamp: str, expected: datetime) -> None:
    assert session_start(stamp) == expected
