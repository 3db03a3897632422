"""`benchmarks/e2e.py --quick` end to end: real server subprocesses (stdio and Streamable HTTP), the
real ``openai`` client, an instant model over HTTP. Timings are reported, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_e2e_benchmark_answers_every_message() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "e2e.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert set(report["transports"]) == {"stdio", "http"}
    for transport, run in report["transports"].items():
        assert run["answered"] == run["messages"] == 60, (transport, run["error_samples"])
        assert {"1-50", "11-60", "1-60"} <= set(run["ms"]), transport
    parallel = report["http_parallel"]
    assert parallel["answered"] == parallel["messages"] == 50, parallel["error_samples"]
    assert report["machine"]["cpu_count"] >= 1
