"""The ``letta-mcp`` command.

    letta-mcp serve [--data-dir DIR] [--config FILE] [--transport stdio|sse|streamable-http]
                    [--host HOST] [--port PORT] [--insecure] [--log-level LEVEL]
    letta-mcp ui [--data-dir DIR] [--config FILE] [--port PORT]  serve only the web inspector, print its URL
    letta-mcp config [--data-dir DIR] [--config FILE]     print the effective settings (keys hidden)
    letta-mcp hash-token < token.txt                      print the digest to put in auth.tokens
    letta-mcp reindex [--data-dir DIR] [--config FILE]    rebuild the archival search index from SQLite
    letta-mcp reassign-owner OLD NEW [--data-dir DIR]     give one principal's agents to another (ids kept)
    letta-mcp migrate-store --to postgresql://…|DIR [--lance-uri URI]   copy the store to another engine
    letta-mcp export AGENT_ID -o FILE.af [--messages all|in_context|none] [--no-archival]
    letta-mcp import FILE.af [--name NAME] [--strip-messages]   new agents from a Letta Agent File
    letta-mcp chat [AGENT] [--data-dir DIR] [--config FILE]   talk to an agent (id or name) in the terminal
    letta-mcp --version

Logs go to stderr: on the stdio transport, stdout carries the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from letta_mcp import __version__, logs, warmup
from letta_mcp.config import ConfigError, Settings, load_settings
from letta_mcp.redact import redact_logs, redact_text

if TYPE_CHECKING:
    from letta_mcp.remote import RemoteServers
    from letta_mcp.service.archival import ArchivalService
    from letta_mcp.store import Store

log = logging.getLogger("letta_mcp")

SERVE_DESCRIPTION = """\
Run the MCP server. On stdio (the default) an MCP client starts it and talks JSON-RPC on its
stdin/stdout: started by hand in a terminal it logs one line to stderr and then waits silently
for a client. Ctrl-C (or Ctrl-D, the end of stdin) stops it.

Models: set OPENAI_API_KEY for OpenAI, or OPENAI_BASE_URL for any OpenAI-compatible endpoint
(Ollama, vLLM, LM Studio, ...). The server starts without them; send_message then says what to set.
Settings: --config FILE or LETTA_MCP_* environment variables (`letta-mcp config` shows them)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letta-mcp", description="MCP server hosting stateful agents.")
    parser.add_argument("--version", action="version", version=f"letta-mcp {__version__}")
    # Not required: a bare `letta-mcp` prints this help instead of an argparse error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="Data directory (env LETTA_MCP_DATA_DIR; default: per-user data dir).")
        p.add_argument("--config", help="TOML config file (env LETTA_MCP_CONFIG).")

    serve = commands.add_parser(
        "serve",
        help="Run the MCP server (stdio by default: what MCP clients start).",
        description=SERVE_DESCRIPTION,
        epilog="Example: OPENAI_API_KEY=sk-... letta-mcp serve --data-dir ~/agents",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(serve)
    serve.add_argument(
        "--transport",
        choices=["stdio", "sse", "streamable-http"],
        default="stdio",
        help="MCP transport (default stdio). sse and streamable-http start the same HTTP server: "
        "Streamable HTTP at /mcp, legacy SSE at /sse, health at /healthz.",
    )
    serve.add_argument("--host", help="HTTP address to listen on (http.host; default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="HTTP port (http.port; default 8000; 0 picks a free one).")
    serve.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="Allow a non-loopback --host without auth (only behind a proxy that authenticates).",
    )
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level.")
    ui = commands.add_parser(
        "ui",
        help="Serve only the web inspector over the data directory and print its URL (for stdio users; "
        "works while other processes serve the same directory). Same auth settings as serve.",
        epilog="Example: letta-mcp ui --port 8765, then open the printed URL",
    )
    common(ui)
    ui.add_argument("--port", type=int, help="HTTP port (http.port; default 8000; 0 picks a free one).")
    config = commands.add_parser("config", help="Print the effective settings as JSON (API keys hidden).")
    common(config)
    commands.add_parser(
        "hash-token",
        help="Read a bearer token from stdin and print its SHA-256 digest for auth.tokens.",
        epilog="Example: openssl rand -hex 32 | tee alice.token | letta-mcp hash-token, then in the config file: "
        '[auth.tokens] "<digest>" = "alice"',
    )
    reindex = commands.add_parser(
        "reindex",
        help="Rebuild the archival search index (LanceDB: full-text, and vectors with an embedder, also of "
        "conversation messages) from SQLite, with a progress bar on stderr. Servers on the same data "
        "directory may keep running.",
        epilog="Example: letta-mcp reindex --data-dir ~/agents",
    )
    common(reindex)
    reassign = commands.add_parser(
        "reassign-owner",
        help="Give every agent, template, block and archive one principal owns to another, in place (agent "
        "ids stay), e.g. the stdio user's agents to a token's principal. Servers may keep running.",
        epilog="Example: letta-mcp reassign-owner local alice --data-dir ~/agents",
    )
    common(reassign)
    reassign.add_argument("old", help="The current owner, e.g. local or jwt:https://auth.example.com/:carol.")
    reassign.add_argument("new", help="The new owner, e.g. alice (as named in auth.tokens).")
    migrate = commands.add_parser(
        "migrate-store",
        help="Copy the whole store (this data directory's letta.db, or database_url) into an empty PostgreSQL "
        "database or data directory, verify every table by row count and checksum, and build the target's "
        "archival index. Stop the servers first. Prints the result as JSON.",
        epilog="Example: letta-mcp migrate-store --data-dir ~/agents --to postgresql://letta:pw@db:5432/letta "
        "--lance-uri s3://bucket/letta",
    )
    common(migrate)
    migrate.add_argument(
        "--to",
        required=True,
        metavar="TARGET",
        help="A postgresql:// URL, or a data directory (or its letta.db) for SQLite. It must hold no rows.",
    )
    migrate.add_argument(
        "--lance-uri",
        help="The target's archival index (default: the source's own index for a PostgreSQL target, which is "
        "kept; <target dir>/lance for a data directory). A new place is built from the copied passages.",
    )
    export = commands.add_parser(
        "export",
        help="Write an agent as a Letta Agent File (.af, v2), with the other agents of its groups. "
        "Servers on the same data directory may keep running.",
        epilog="Example: letta-mcp export agent-5f0c… -o sam.af",
    )
    common(export)
    export.add_argument("agent_id", help="The agent's id (see list_agents).")
    export.add_argument("-o", "--output", required=True, help="The file to write ('-' for stdout).")
    export.add_argument(
        "--messages", choices=["all", "in_context", "none"], default="all", help="History to include (default all)."
    )
    export.add_argument("--no-archival", action="store_true", help="Leave the archival passages out.")
    import_ = commands.add_parser(
        "import",
        help="Create agents from a Letta Agent File (.af: v2, or legacy v1) and print what was imported as JSON. "
        "Imported tool code is never run. Servers on the same data directory may keep running.",
        epilog="Example: letta-mcp import sam.af --name sam-copy",
    )
    common(import_)
    import_.add_argument("file", help="The .af file to import.")
    import_.add_argument("--name", help="New name for the file's main agent.")
    import_.add_argument("--strip-messages", action="store_true", help="Start without the file's history.")
    chat = commands.add_parser(
        "chat",
        help="Talk to an agent in the terminal: see its replies, tool calls and memory edits as they happen "
        "(/memory, /context, /history, /search TEXT, /quit). Servers on the same data directory may keep running.",
        epilog="Example: OPENAI_BASE_URL=http://localhost:11434/v1 letta-mcp chat sam",
    )
    common(chat)
    chat.add_argument("agent", nargs="?", help="The agent's id or name (a new agent if no agent has that name).")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "hash-token":
        return _hash_token()
    http = {k: getattr(args, k, None) for k in ("host", "port", "insecure")}
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "log_level": getattr(args, "log_level", None),
        "http": {k: v for k, v in http.items() if v is not None} or None,
    }
    try:
        settings = load_settings(config_file=args.config, overrides=overrides)
    except ConfigError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    redact_logs()  # endpoint URLs may carry credentials: no log line shows them
    if args.command == "config":
        print(redact_text(settings.model_dump_json(indent=2)))
        return 0
    import anyio

    if args.command == "reindex":
        return anyio.run(_reindex, settings)
    if args.command == "reassign-owner":
        return anyio.run(_reassign_owner, settings, args.old, args.new)
    if args.command == "migrate-store":
        try:
            target = _migration_target(settings, args, overrides)
        except ConfigError as e:
            print(f"letta-mcp: {e}", file=sys.stderr)
            return 2
        return anyio.run(_migrate_store, settings, target)
    if args.command in ("export", "import"):
        return anyio.run(_agent_file, settings, args)
    if args.command == "chat":
        return _chat(settings, args.agent)

    try:
        anyio.run(_serve, settings, "ui" if args.command == "ui" else args.transport)
    except _StartupError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C cancelled the server: it closed the service (turns in flight are marked
        # interrupted) before this point, so it is a clean stop.
        log.info("letta-mcp stopped (Ctrl-C)")
        return 0
    except BaseExceptionGroup as group:
        # Cancelled mid-relay, the SDK's stdio runner can still write into a stream the shutdown
        # already closed; that is the same clean stop, not a crash (the service was closed).
        if not _only_shutdown_noise(group):
            raise
        log.info("letta-mcp stopped (Ctrl-C)")
        return 0
    return 0


def _only_shutdown_noise(group: BaseExceptionGroup) -> bool:
    """Whether every exception in ``group`` is what cancelling a server mid-request leaves behind."""
    from anyio import BrokenResourceError, ClosedResourceError

    def benign(e: BaseException) -> bool:
        if isinstance(e, BaseExceptionGroup):
            return all(benign(inner) for inner in e.exceptions)
        return isinstance(e, BrokenResourceError | ClosedResourceError | KeyboardInterrupt | asyncio.CancelledError)

    return benign(group)


class _StartupError(Exception):
    """The server could not start (e.g. the data directory is unusable); the message says why."""


def _hash_token() -> int:
    from letta_mcp.server.auth import hash_token

    if sys.stdin.isatty():
        import getpass

        token = getpass.getpass("token: ")
    else:
        token = sys.stdin.readline().rstrip("\r\n")
    if len(token) < 16:
        print("letta-mcp: the token must be at least 16 characters (e.g. `openssl rand -hex 32`)", file=sys.stderr)
        return 2
    print(hash_token(token))
    return 0


async def _serve(settings: Settings, transport: str = "stdio") -> None:
    import sqlite3

    from letta_mcp.embed.errors import EmbedError
    from letta_mcp.server import create_server
    from letta_mcp.service import AgentService
    from letta_mcp.store import StoreError
    from letta_mcp.store.object_store import ObjectStoreError

    if transport == "stdio" and settings.auth.configured:
        log.warning(
            "[auth] is configured but does not apply to the stdio transport: this process serves its client "
            "as the local user, who sees and may change every principal's agents. [auth] protects only "
            "`serve --transport streamable-http` (or sse); remove it from this configuration to silence this."
        )
    sock = None
    if transport != "stdio":
        # Checked and bound before opening anything, so a refused start leaves no trace.
        from letta_mcp.server.http import BindRefusedError, bind, check_bind

        try:
            check_bind(settings)
            sock = bind(settings.http)
        except BindRefusedError as e:
            raise _StartupError(str(e)) from e
        except OSError as e:
            raise _StartupError(f"cannot listen on {settings.http.host}:{settings.http.port}: {e}") from e
    try:
        service = await AgentService.open(settings, remote_tools=_remote_tools(settings))
    except (OSError, sqlite3.Error, StoreError) as e:
        if sock is not None:
            sock.close()
        if settings.database_url:
            raise _StartupError(f"{e} (check database_url / LETTA_MCP_DATABASE_URL)") from e
        raise _StartupError(
            f"cannot open the data directory {settings.data_dir}: {e} "
            "(choose another with --data-dir or LETTA_MCP_DATA_DIR)"
        ) from e
    except EmbedError as e:
        if sock is not None:
            sock.close()
        raise _StartupError(f"cannot set up the archival embedder: {e}") from e
    except ObjectStoreError as e:
        if sock is not None:
            sock.close()
        raise _StartupError(str(e)) from e
    try:
        if transport == "stdio":
            from letta_mcp.server.stdio import serve_stdio

            # A person who started it in a terminal is told what it waits for and how to stop it.
            hint = " (waiting for an MCP client on stdin; Ctrl-C stops)" if sys.stdin.isatty() else ""
            log.info("letta-mcp %s serving %s over stdio%s", __version__, settings.data_dir, hint)
            # The packages the first calls would import load once the client has started.
            await serve_stdio(create_server(service), after_start=warmup.start)
        elif transport == "ui":
            from letta_mcp.server.http import build_inspector_app, serve_http

            assert sock is not None
            host, port = sock.getsockname()[:2]
            print(f"letta-mcp inspector: http://{f'[{host}]' if ':' in host else host}:{port}/ui/", flush=True)
            await serve_http(service, settings, sock=sock, app=build_inspector_app(service, settings))
        else:
            from letta_mcp.server.http import serve_http

            # No client is starting up yet: warm up at once.
            warmup.start()
            await serve_http(service, settings, sock=sock)
    finally:
        await service.close()


def _remote_tools(settings: Settings) -> RemoteServers | None:
    """The operator's other MCP servers, for agents' ``mcp:`` tools (nothing starts until first use)."""
    if not settings.mcp_servers:
        return None
    from letta_mcp.remote import RemoteServers

    return RemoteServers(settings.mcp_servers)


def _chat(settings: Settings, agent: str | None) -> int:
    from functools import partial

    import anyio

    from letta_mcp.chat import run_chat

    # The service's own INFO lines would interleave with the conversation.
    logging.getLogger("letta_mcp").setLevel(max(logging.WARNING, logging.getLogger("letta_mcp").level))
    try:
        return anyio.run(partial(run_chat, settings, agent, remote_tools=_remote_tools(settings)))
    except KeyboardInterrupt:  # the service closed as the cancellation unwound (turns marked interrupted)
        print()
        return 0


async def _reindex(settings: Settings) -> int:
    """Rebuild the archival index (and, with an embedder, the vectors of conversation messages); a
    progress bar on stderr (stdout stays free for scripts)."""
    from letta_mcp.embed.errors import EmbedError
    from letta_mcp.service.archival import ArchivalService
    from letta_mcp.store import Store
    from letta_mcp.store.object_store import ObjectStoreError

    store = await Store.open(settings.store_target)
    try:
        archival = await ArchivalService.open(store, settings)
        try:
            count = await archival.reindex(_progress_bar)
            messages = await _reindex_messages(store, archival)
        finally:
            await archival.close()
    except EmbedError as e:
        print(f"\nletta-mcp: the embedder failed: {e}", file=sys.stderr)
        return 1
    except ObjectStoreError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    embedded = f" and embedded {messages} message{'' if messages == 1 else 's'}" if messages else ""
    print(
        f"Reindexed {count} archival passage{'' if count == 1 else 's'}{embedded} in {settings.data_dir}",
        file=sys.stderr,
    )
    return 0


async def _reindex_messages(store: Store, archival: ArchivalService) -> int:
    """Embed every conversation message again, when an embedder is configured (conversation search)."""
    from letta_mcp.runtime.message_index import MessageIndex

    if archival.memory.embedder is None:
        return 0
    index = MessageIndex(store, archival.memory)
    try:
        return await index.reindex(_progress_bar)
    finally:
        await index.aclose()


async def _reassign_owner(settings: Settings, old: str, new: str) -> int:
    """Move what ``old`` owns to ``new``; the rows moved, by table, on stdout as JSON."""
    import json

    from letta_mcp.service.errors import ServiceError
    from letta_mcp.service.owners import reassign_owner
    from letta_mcp.store import Store

    store = await Store.open(settings.store_target)
    try:
        moved = await reassign_owner(store, old, new)
    except ServiceError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 2
    finally:
        await store.close()
    print(json.dumps({"from": old, "to": new, "moved": moved}))
    return 0


def _migration_target(settings: Settings, args: argparse.Namespace, overrides: dict[str, Any]) -> Settings:
    """The settings a server on ``--to`` would run with: the same configuration, another store and index."""
    from pathlib import Path


    to: str = args.to
    if to.startswith(("postgresql://", "postgres://")):
        place = {"database_url": to, "lance_uri": args.lance_uri or settings.lance_target}
    else:
        path = Path(to).expanduser()
        if path.suffix == ".db" and path.name != "letta.db":
            raise ConfigError(f"--to: a SQLite target is a data directory or its letta.db, not {path.name}")
        data_dir = path.parent if path.suffix == ".db" else path
        # "" unsets a database_url from the environment or the config file: the target is the directory.
        place = {"database_url": "", "data_dir": str(data_dir), "lance_uri": args.lance_uri or str(data_dir / "lance")}
    return load_settings(config_file=args.config, overrides={**overrides, **place})


async def _migrate_store(settings: Settings, target: Settings) -> int:
    """Copy the store into ``target``'s; progress and the verification table on stderr, the result as JSON
    on stdout. Exit 2 when refused (nothing written), 1 when the copy failed or does not match (rolled
    back), or when the target's index could not be built (the rows are copied)."""
    import json

    from letta_mcp.service.migrate import migrate_store
    from letta_mcp.store import SchemaTooNewError, StoreError
    from letta_mcp.store.copy import CopyMismatchError, CopyRefusedError, CopyReport

    def report(copy: CopyReport, index: dict[str, Any] | None) -> None:
        print(f"{'table':<22}{'rows':>9}  {'source checksum':<18}{'target checksum':<18}", file=sys.stderr)
        for name, fp in copy.source.items():
            got = copy.target[name]
            verdict = "ok" if got == fp else "MISMATCH"
            print(f"{name:<22}{fp.rows:>9}  {fp.checksum[:16]:<18}{got.checksum[:16]:<18}{verdict}", file=sys.stderr)
        tables = {
            name: {"rows": fp.rows, "checksum": fp.checksum, "target_rows": copy.target[name].rows}
            for name, fp in copy.source.items()
        }
        result = {
            "from": str(settings.store_target),
            "to": str(target.store_target),
            "verified": not copy.mismatched,
            "tables": tables,
            "index": index,
        }
        print(redact_text(json.dumps(result, indent=2)))

    try:
        done = await migrate_store(settings, target, progress=_copy_progress, index_progress=_progress_bar)
    except (CopyRefusedError, SchemaTooNewError) as e:
        print(f"letta-mcp: {redact_text(str(e)).rstrip('.')}. Nothing was copied.", file=sys.stderr)
        return 2
    except CopyMismatchError as e:
        report(e.report, None)
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 1
    except (StoreError, OSError) as e:
        print(f"letta-mcp: the copy failed: {redact_text(str(e))}", file=sys.stderr)
        return 1
    index: dict[str, Any] = {"uri": done.index_uri, "rebuilt": done.index_rebuilt, "passages": done.indexed}
    if done.index_error is not None:
        index["error"] = done.index_error
    report(done.copy, index)
    if done.index_error is not None:
        print(
            f"letta-mcp: the rows were copied and verified, but the archival index at {done.index_uri} could not "
            f"be built: {redact_text(done.index_error)} Build it with `letta-mcp reindex` and the target's settings.",
            file=sys.stderr,
        )
        return 1
    return 0


def _copy_progress(table: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\rcopying {table:<22} {done}/{total}", end=end, file=sys.stderr)
    sys.stderr.flush()


async def _agent_file(settings: Settings, args: argparse.Namespace) -> int:
    """``export`` / ``import``: through the service, like any other process on the data directory."""
    import json

    import anyio

    from letta_mcp.service import AgentService, ServiceError

    source = None
    if args.command == "import":
        try:
            source = await anyio.Path(args.file).read_bytes()
        except OSError as e:
            print(f"letta-mcp: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
            return 2
    service = await AgentService.open(settings)
    try:
        if source is not None:
            result = await service.import_agent(source, name=args.name, strip_messages=args.strip_messages)
            summary = {
                "agent_id": result.agents[0].agent.id,
                "agents": [
                    {
                        "id": a.agent.id,
                        "name": a.agent.name,
                        "messages": a.messages,
                        "passages": a.passages,
                        "inactive_tools": {t.name: t.reason for t in a.inactive_tools},
                    }
                    for a in result.agents
                ],
                "notes": result.notes,
            }
            print(json.dumps(summary, indent=2, ensure_ascii=False))
            return 0
        document = await service.export_agent(args.agent_id, messages=args.messages, archival=not args.no_archival)
    except ServiceError as e:
        print(f"letta-mcp: {e}", file=sys.stderr)
        return 1
    finally:
        await service.close()
    text = json.dumps(document, ensure_ascii=False)
    if args.output == "-":
        print(text)
        return 0
    # Written beside the target and renamed into place: a reader never sees half a file.
    target = anyio.Path(args.output)
    partial = target.with_name(target.name + ".partial")
    try:
        await partial.write_text(text, encoding="utf-8")
        await partial.replace(target)
    except OSError as e:
        print(f"letta-mcp: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"Exported {len(document['agents'])} agent(s) to {args.output}", file=sys.stderr)
    return 0


def _progress_bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    percent = 100 * done // total if total else 100
    end = "\n" if done >= total else ""
    print(f"\rindexing [{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}", end=end, file=sys.stderr)
    sys.stderr.flush()
