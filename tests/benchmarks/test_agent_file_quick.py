"""`benchmarks/agent_file.py --quick` end to end, so the benchmark cannot rot (its timings are not asserted)."""

from __future__ import annotations

from quick import run_quick


def test_quick_agent_file_benchmark_reports_every_figure() -> None:
    report = run_quick("agent_file.py")
    assert (report["messages"], report["passages"]) == (1_000, 100)
    for key in ("export_s", "import_s", "file_mb"):
        assert report[key] > 0, key
