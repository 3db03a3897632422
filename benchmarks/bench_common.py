"""What the benchmarks share: the machine description, percentiles, and settling the archival index."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from letta_mcp.service import AgentService


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln), "")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def settle(service: AgentService) -> None:
    """Index everything pending, then run the background indexer's periodic ``optimize`` (which folds
    new rows into the full-text index and builds the ANN index past the threshold) now.

    Searches are then timed and scored on the steady state a long-running server reaches: before
    ``optimize`` new rows are searched by a flat scan, with BM25 statistics of their own. There is
    no service-level hook for it yet (proposed to its owner as ``ArchivalService.optimize()``).
    """
    await service.archival.wait_indexed()
    memory = service.archival.memory
    lance = await memory.open_index()
    await lance.maintain(space=memory.space)
