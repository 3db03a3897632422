"""`archival_mcp.py --quick` and `recall_messages.py --quick` end to end (real subprocesses), so they cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)  # exactly one JSON object on stdout


def test_archival_mcp_quick_times_every_call_through_stdio() -> None:
    report = _run("archival_mcp.py", "--bulk", "1500")
    assert report["transport"] == "stdio" and report["embedder"] == "none"
    assert report["archival_insert_ms"]["n"] >= 100 and report["archival_search_fts_ms"]["n"] >= 10
    assert report["bulk"]["passages"] == 1500 and report["bulk"]["passages_per_s"] > 0


def test_recall_messages_quick_scores_search_messages() -> None:
    report = _run("recall_messages.py")
    overall = report["search_messages"]["overall"]
    assert overall["n"] == report["questions"] and report["messages"] >= 300
    # The generated set's answers are easy: plain message search must find nearly all of them.
    assert overall["hit_at_10"] >= 0.9 and 0.0 <= overall["mrr"] <= 1.0
