"""`benchmarks/overhead.py --quick` end to end, so the benchmark cannot rot (its timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_overhead_benchmark_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "overhead.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report["p50_ms_by_history"]) == set(report["p95_ms_by_history"]) == {"100", "1000"}
    assert set(report["msgs_per_s_by_agents"]) == {"1", "10"}
    for key in ("ratio_100k_100", "cold_start_s", "import_mcp_server_s", "rss_mb_10k_agents"):
        assert report[key] > 0, key
    assert report["stdio_send_message_ms"]["p50"] > 0
    assert report["machine"]["cpus"] >= 1
