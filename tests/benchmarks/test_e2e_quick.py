"""`benchmarks/e2e.py --quick` end to end: real server subprocesses (stdio and Streamable HTTP), the
real ``openai`` client, an instant model over HTTP. Timings are reported, never asserted."""

from __future__ import annotations

from quick import run_quick


def test_quick_e2e_benchmark_answers_every_message() -> None:
    report = run_quick("e2e.py", timeout=240)
    assert set(report["transports"]) == {"stdio", "http"}
    for transport, run in report["transports"].items():
        assert run["answered"] == run["messages"] == 60, (transport, run["error_samples"])
        assert {"1-50", "11-60", "1-60"} <= set(run["ms"]), transport
    parallel = report["http_parallel"]
    assert parallel["answered"] == parallel["messages"] == 50, parallel["error_samples"]
    assert report["machine"]["cpu_count"] >= 1
