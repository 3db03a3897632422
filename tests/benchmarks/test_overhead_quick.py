"""`benchmarks/overhead.py --quick` end to end, so the benchmark cannot rot (its timings are not asserted)."""

from __future__ import annotations

from quick import run_quick


def test_quick_overhead_benchmark_reports_every_figure() -> None:
    report = run_quick("overhead.py", timeout=600)
    assert set(report["p50_ms_by_history"]) == set(report["p95_ms_by_history"]) == {"100", "1000"}
    assert set(report["msgs_per_s_by_agents"]) == {"1", "10"}
    for key in ("ratio_100k_100", "cold_start_s", "import_mcp_server_s", "rss_mb_10k_agents"):
        assert report[key] > 0, key
    assert report["stdio_send_message_ms"]["p50"] > 0
    assert report["machine"]["cpus"] >= 1
