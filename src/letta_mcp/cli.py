"""The ``letta-mcp`` command.

    letta-mcp serve [--data-dir DIR] [--config FILE] [--transport stdio] [--log-level LEVEL]
    letta-mcp config [--data-dir DIR] [--config FILE]     print the effective settings (keys hidden)
    letta-mcp --version

Logs go to stderr: on the stdio transport, stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from letta_mcp import __version__
from letta_mcp.config import ConfigError, Settings, load_settings

log = logging.getLogger("letta_mcp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letta-mcp", description="MCP server hosting stateful agents.")
    parser.add_argument("--version", action="version", version=f"letta-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="Data directory (env LETTA_MCP_DATA_DIR; default: per-user data dir).")
        p.add_argument("--config", help="TOML config file (env LETTA_MCP_CONFIG).")

    serve = commands.add_parser(
        "serve", help="Run the MCP server.", epilog="Example: letta-mcp serve --data-dir ~/agents"
    )
    common(serve)
    serve.add_argument("--transport", choices=["stdio"], default="stdio", help="MCP transport (default stdio).")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level.")
    config = commands.add_parser("config", help="Print the effective settings as JSON (API keys hidden).")
    common(config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {"data_dir": args.data_dir, "log_level": getattr(args, "log_level", None)}
    try:
        settings = load_settings(config_file=args.config, overrides=overrides)
    except ConfigError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "config":
        print(settings.model_dump_json(indent=2))
        return 0
    import anyio

    try:
        anyio.run(_serve, settings)
    except _StartupError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


class _StartupError(Exception):
    """The server could not start (e.g. the data directory is unusable); the message says why."""


async def _serve(settings: Settings) -> None:
    import sqlite3

    from letta_mcp.server import create_server
    from letta_mcp.service import AgentService
    from letta_mcp.store import StoreError

    try:
        service = await AgentService.open(settings)
    except (OSError, sqlite3.Error, StoreError) as e:
        raise _StartupError(
            f"cannot open the data directory {settings.data_dir}: {e} "
            "(choose another with --data-dir or LETTA_MCP_DATA_DIR)"
        ) from e
    log.info("letta-mcp %s serving %s over stdio", __version__, settings.data_dir)
    try:
        await create_server(service).run_stdio_async()
    finally:
        await service.close()
