"""A stdio letta-mcp server whose model answers instantly (for timing our own overhead over MCP).

python benchmarks/instant_server.py DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import open_service

from letta_mcp.server import create_server


async def main(data_dir: Path) -> None:
    service = await open_service(data_dir)
    try:
        await create_server(service).run_stdio_async()
    finally:
        await service.close()


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]))
