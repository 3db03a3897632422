"""`archival_mcp.py --quick` and `recall_messages.py --quick` end to end (real subprocesses), so they cannot rot."""

from __future__ import annotations

from typing import Any

from quick import run_quick


def _run(script: str, *args: str) -> dict[str, Any]:
    return run_quick(script, *args)


def test_archival_mcp_quick_times_every_call_through_stdio() -> None:
    report = _run("archival_mcp.py", "--bulk", "1500")
    assert report["transport"] == "stdio" and report["embedder"] == "none"
    assert report["archival_insert_ms"]["n"] >= 100 and report["archival_search_fts_ms"]["n"] >= 10
    assert report["bulk"]["passages"] == 1500 and report["bulk"]["passages_per_s"] > 0
    assert report["archival_search_hybrid_ms"] is None  # no embedder: nothing to fuse


def test_archival_mcp_quick_with_the_local_embedder_times_hybrid_search_too() -> None:
    report = _run("archival_mcp.py", "--embedder", "local", "--bulk", "100")
    assert report["embedder"] == "local"
    hybrid = report["archival_search_hybrid_ms"]
    assert hybrid["n"] == report["archival_search_fts_ms"]["n"] and hybrid["p50"] > 0


def test_recall_messages_quick_scores_search_messages() -> None:
    report = _run("recall_messages.py")
    overall = report["search_messages"]["overall"]
    assert overall["n"] == report["questions"] and report["messages"] >= 300
    # The generated set's answers are easy: plain message search must find nearly all of them.
    assert overall["hit_at_10"] >= 0.9 and 0.0 <= overall["mrr"] <= 1.0


def test_recall_messages_quick_with_the_local_embedder_scores_hybrid_and_its_two_lists() -> None:
    report = _run("recall_messages.py", "--embedder", "local", "--sweep")
    assert report["embedder"] == "local"
    for mode in ("search_messages", "fts", "vector"):  # hybrid, and the lists it fuses alone
        assert report[mode]["overall"]["n"] == report["questions"]
    assert report["search_messages"]["overall"]["hit_at_10"] >= 0.9
    assert len(report["fusion_sweep_recall_at_10"]) > 1 and report["timing"]["embed_s"] >= 0
