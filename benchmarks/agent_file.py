"""Agent File export and import of a long-lived agent (issue: agents that travel).

One agent with 10,000 messages of history (the newest 40 in context), its memory blocks and 1,000
archival passages is exported as a Letta Agent File, then imported into a second data directory,
through the service (what `letta-mcp export` / `import` and the MCP tools call). The model is never
called; the archival index is built after the import's commit, in the background, so it is not
part of the import time.

    python benchmarks/agent_file.py            # 10,000 messages, 3 tries (about a minute)
    python benchmarks/agent_file.py --quick    # 1,000 messages, 1 try; CI runs this so it cannot rot

Prints one JSON object: median seconds per export (service + JSON text) and per import, the file size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import machine
from overhead import open_service, seed_history

from letta_mcp.models import NewPassage


async def measure(root: Path, messages: int, passages: int, tries: int) -> dict[str, object]:
    source = await open_service(root / "source")
    try:
        agent = await source.create_agent(name="traveller", human="Sarah, who sails on Lake Geneva.")
        await seed_history(source, agent.agent.id, messages)
        items = [NewPassage(text=f"Fact {i}: Sarah mentioned topic {i % 97} on day {i}.") for i in range(passages)]
        await source.archival.insert_many(agent.agent.id, items)
        export_s: list[float] = []
        for _ in range(tries):
            start = time.perf_counter()
            text = json.dumps(await source.export_agent(agent.agent.id), ensure_ascii=False)
            export_s.append(time.perf_counter() - start)
    finally:
        await source.close()
    import_s: list[float] = []
    for n in range(tries):
        target = await open_service(root / f"target-{n}")
        try:
            start = time.perf_counter()
            result = await target.import_agent(text)
            import_s.append(time.perf_counter() - start)
            assert result.agents[0].messages == messages + 1 and result.agents[0].passages == passages
        finally:
            await target.close()
    return {
        "messages": messages,
        "passages": passages,
        "file_mb": round(len(text.encode()) / 1e6, 2),
        "export_s": round(statistics.median(export_s), 3),
        "import_s": round(statistics.median(import_s), 3),
        "export_s_all": [round(s, 3) for s in export_s],
        "import_s_all": [round(s, 3) for s in import_s],
    }


async def main(quick: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        result = await measure(Path(tmp), 1_000 if quick else 10_000, 100 if quick else 1_000, 1 if quick else 3)
    return {"machine": machine(), "load_avg_1m": round(os.getloadavg()[0], 2), "quick": quick, **result}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds (CI)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.quick)), indent=2))
