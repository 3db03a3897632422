"""`benchmarks/scale.py --quick` end to end: a throwaway PostgreSQL cluster, real replicas behind the
round-robin proxy process, SQLite beside it. Timings are reported, never asserted; answers and order are."""

from __future__ import annotations

from quick import run_quick


def test_quick_scale_benchmark_answers_every_message_once_in_order() -> None:
    report = run_quick("scale.py", timeout=300)
    assert set(report["engines"]) == {"postgres", "sqlite"}
    for engine, run in report["engines"].items():
        for name in ("sequential", "parallel"):
            overhead = run["overhead"][name]
            assert overhead["answered"] == overhead["messages"] > 0, (engine, name, overhead["error_samples"])
            assert overhead["cpu_ms_per_message"]["replica1"] > 0, (engine, name)
        for phase in run["throughput"]:
            assert phase["answered"] == phase["messages"] == 16, (engine, phase["error_samples"])
            assert phase["histories_in_order"], (engine, phase["order_problems"])
            # every replica behind the proxy did work: requests were spread, not pinned to one
            assert all(phase["cpu_s"][f"replica{n}"] > 0 for n in range(1, phase["replicas"] + 1)), phase["cpu_s"]
    postgres = report["engines"]["postgres"]["throughput"]
    assert [p["replicas"] for p in postgres] == [1, 2]
    assert all(0 <= p["write_lock"]["held_share"] <= 1 for p in postgres)  # pg_locks was sampled
    assert report["engines"]["postgres"]["overhead"]["sequential"]["cpu_ms_per_message"]["database"] > 0
    assert report["engines"]["postgres"]["scaling"]["ratio_to_1"]["1"] == 1.0
