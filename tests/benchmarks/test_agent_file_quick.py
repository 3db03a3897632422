"""`benchmarks/agent_file.py --quick` end to end, so the benchmark cannot rot (its timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_agent_file_benchmark_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "agent_file.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert (report["messages"], report["passages"]) == (1_000, 100)
    for key in ("export_s", "import_s", "file_mb"):
        assert report[key] > 0, key
