"""Moving a whole store to another engine (`letta-mcp migrate-store`), an operator's tool.

SQLite → PostgreSQL when one machine is outgrown, PostgreSQL → SQLite to come back. The rows are
copied and verified by `letta_mcp.store.copy`; this adds the refusals an operator needs before
anything is written, and the target's archival search index.

The index is rebuilt from the copied passages (`ArchivalService.reindex`) rather than copied from
the source's LanceDB files: SQL is the source of truth and the index is derived from it, the
rebuild writes through the same code (and object-store checks) as a server would to any
``lance_uri``, and copying LanceDB tables would tie the copy to their on-disk format. The price is
one embedding pass when an embedder is configured. When the target's index is the source's own
(a PostgreSQL target with the default ``lance_uri``: same data directory, same passage ids), it
already matches the copied rows and is kept as it is. Conversation-search vectors of messages are
re-made by the target's background indexer, which starts from its index's own watermark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from letta_mcp.config import Settings
from letta_mcp.embed.errors import EmbedError
from letta_mcp.service.archival import ArchivalService
from letta_mcp.store import Store
from letta_mcp.store.copy import CopyRefusedError, CopyReport, Progress, copy_store, refuse_live_servers
from letta_mcp.store.object_store import ObjectStoreError


@dataclass(frozen=True)
class Migration:
    copy: CopyReport
    index_uri: str
    index_rebuilt: bool
    """False when the target shares the source's index (kept as it is)."""
    indexed: int
    index_error: str | None = None
    """Why the index could not be built (the rows are copied all the same; `letta-mcp reindex` retries)."""


async def migrate_store(
    source: Settings,
    target: Settings,
    *,
    progress: Progress | None = None,
    index_progress: Callable[[int, int], None] | None = None,
) -> Migration:
    """Copy the store of ``source`` into the empty store of ``target``, verify it, and give the target
    its index at ``target.lance_target``. Raises `CopyRefusedError` (nothing written) when it may not start,
    `CopyMismatchError` (rolled back) when the copy reads back differently."""
    if _same_place(source.store_target, target.store_target):
        raise CopyRefusedError("the target is the source: name another database or data directory")
    source_store = await Store.open(source.store_target)
    try:
        # Before the target is opened (and created): a refusal leaves no trace anywhere.
        async with source_store.read() as q:
            await refuse_live_servers(q.db, source.lease_ttl_s)
        target_store = await Store.open(target.store_target)
        try:
            report = await copy_store(source_store, target_store, live_within_s=source.lease_ttl_s, progress=progress)
            uri = target.lance_target
            if _same_place(source.lance_target, uri):
                return Migration(report, uri, index_rebuilt=False, indexed=0)
            try:
                archival = await ArchivalService.open(target_store, target)
                try:
                    indexed = await archival.reindex(index_progress)
                finally:
                    await archival.close()
            except (EmbedError, ObjectStoreError) as e:
                return Migration(report, uri, index_rebuilt=False, indexed=0, index_error=str(e))
            return Migration(report, uri, index_rebuilt=True, indexed=indexed)
        finally:
            await target_store.close()
    finally:
        await source_store.close()


def _same_place(a: Path | str, b: Path | str) -> bool:
    if "://" in str(a) or "://" in str(b):
        return str(a).rstrip("/") == str(b).rstrip("/")
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
