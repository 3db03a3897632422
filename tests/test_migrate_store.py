"""`letta-mcp migrate-store`: a data directory moves to PostgreSQL and back, verified; refusals write nothing.

Real parts throughout: SQLite files, a throwaway PostgreSQL cluster (`tests/postgres.py`), LanceDB
directories and a bucket on the moto stand-in (`tests/s3.py`), and the CLI as a subprocess.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import asyncpg
import pytest

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider, reply
from letta_mcp.models import ModelRequest, ModelResponse, NewPassage
from letta_mcp.runtime.compaction import SUMMARIZER_PROMPT
from letta_mcp.service import AgentService
from letta_mcp.service.migrate import migrate_store
from letta_mcp.store import Store
from letta_mcp.store.copy import NOT_COPIED, TABLES, CopyRefusedError, fingerprints
from test_cli import clean_env, letta_mcp

if TYPE_CHECKING:
    from s3 import S3Bucket  # a plugin (see conftest): importing it here would bypass assertion rewriting

pytestmark = pytest.mark.anyio

_SUMMARIZER = SUMMARIZER_PROMPT.split("{", 1)[0]


def settings_for(data_dir: Path, *, database_url: str | None = None, lance_uri: str | None = None) -> Settings:
    overrides = {"data_dir": str(data_dir), "database_url": database_url, "lance_uri": lance_uri}
    return load_settings(overrides=overrides, environ={})


def model(request: ModelRequest) -> ModelResponse:
    if (request.messages[0].content or "").startswith(_SUMMARIZER):
        return reply("Summary: the user told the agent about giraffes and zebras.")
    return reply("Noted, thank you.")


async def open_service(settings: Settings) -> AgentService:
    return await AgentService.open(settings, providers={"openai": ScriptedProvider(default=model)})


@dataclass
class Seeded:
    sam: str
    kim: str
    sleeper: str
    shared_block: str
    history: list[dict[str, object]]
    passages: list[str]
    summary: str


async def seed(settings: Settings) -> Seeded:
    """Agents with tags, a shared block, a sleep-time group, a compacted history, tagged passages, a template."""
    service = await open_service(settings)
    try:
        sam = await service.create_agent(
            name="sam", tags=["team"], context_window=2_000, enable_sleeptime=True, sleeptime_agent_frequency=50
        )
        kim = (await service.create_agent(name="kim", tags=["team", "ops"])).agent.id
        block = await service.create_block("project", value="The zoo opens in May.", description="shared notes")
        for agent_id in (sam.agent.id, kim):
            await service.attach_block(agent_id, block.id)
        for i in range(6):
            await service.send_message(sam.agent.id, f"Message {i}: giraffes are tall and zebras are striped.")
        assert await service.compact_context(sam.agent.id) is not None
        await service.send_message(kim, "Remember the elephant enclosure.")
        inserted = await service.archival.insert_many(
            sam.agent.id,
            [NewPassage(text=f"Fact {i}: the okapi is a relative of the giraffe.", tags=["okapi"]) for i in range(5)]
            + [NewPassage(text="Sarah's birthday is 12 May.", tags=["sarah", "dates"])],
        )
        await service.archival.wait_indexed()
        await service.create_template("keeper", agent_id=kim)
        history = [m.model_dump() for m in await service.list_messages(sam.agent.id, limit=100)]
        summary = (await service.get_context(sam.agent.id)).summary
        assert summary is not None and "giraffes" in summary
        assert sam.sleeptime_agent_id is not None
        return Seeded(sam.agent.id, kim, sam.sleeptime_agent_id, block.id, history, [p.id for p in inserted], summary)
    finally:
        await service.close()


async def check_served(settings: Settings, seeded: Seeded) -> None:
    """A service on the moved store sees what the source had, and its searches work."""
    service = await open_service(settings)
    try:
        assert sorted(a.id for a in await service.list_agents()) == sorted([seeded.sam, seeded.kim, seeded.sleeper])
        sam = await service.get_agent(seeded.sam)
        assert sam.sleeptime_agent_id == seeded.sleeper  # the group came along
        assert seeded.shared_block in {b.id for b in sam.blocks}
        [shared] = await service.list_blocks(label="project")
        assert shared.block.id == seeded.shared_block and set(shared.agent_ids) == {seeded.sam, seeded.kim}
        assert [h.version for h in await service.block_history(seeded.kim, "project", before_version=2)] == [1]
        assert [m.model_dump() for m in await service.list_messages(seeded.sam, limit=100)] == seeded.history
        assert (await service.get_context(seeded.sam)).summary == seeded.summary
        # Same created_at for all six (one insert): only the copied rowids keep their order.
        page = await service.archival.list(seeded.sam, limit=200, newest_first=False)
        assert [p.id for p in page.passages] == seeded.passages
        hits = await service.archival.search(seeded.sam, "when is sarah's birthday", top_k=3)
        assert hits and hits[0].passage.id == seeded.passages[-1]
        okapis = await service.archival.search(seeded.sam, "okapi", tags=["okapi"], top_k=10)
        assert {h.passage.id for h in okapis} == set(seeded.passages[:5])
        found = await service.search_messages(seeded.sam, query="striped", limit=50)
        said = {str(m["id"]) for m in seeded.history if "striped" in str(m["content"])}
        assert len(said) == 6 and {m.id for m in found if "striped" in (m.content or "")} == said
        assert [t.name for t in await service.list_templates()] == ["keeper"]
    finally:
        await service.close()


async def target_rows(url: str) -> dict[str, int]:
    """Rows per table of the PostgreSQL schema of ``url`` (no tables: an untouched schema)."""
    conn = await asyncpg.connect(url)
    try:
        names = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0]: await conn.fetchval(f"SELECT COUNT(*) FROM {r[0]}") for r in names}
    finally:
        await conn.close()


async def test_a_data_directory_moves_to_postgresql_and_back(tmp_path: Path, postgres_url: str) -> None:
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(180):
        seeded = await seed(source)
        source_store = await Store.open(source.store_target)
        try:
            before = await fingerprints(source_store)
        finally:
            await source_store.close()

        pg_lance = tmp_path / "pg-lance"
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp(
                "migrate-store",
                "--data-dir",
                str(source.data_dir),
                "--to",
                postgres_url,
                "--lance-uri",
                str(pg_lance),
            )
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["verified"] is True
        assert result["index"] == {"uri": str(pg_lance), "rebuilt": True, "passages": 6}
        assert {name: (t["rows"], t["checksum"]) for name, t in result["tables"].items()} == {
            name: (fp.rows, fp.checksum) for name, fp in before.items()
        }
        assert result["tables"]["passages"]["rows"] == 6 and result["tables"]["agent_groups"]["rows"] == 1
        assert "archive_tags" in done.stderr and "MISMATCH" not in done.stderr

        on_postgres = settings_for(source.data_dir, database_url=postgres_url, lance_uri=str(pg_lance))
        await check_served(on_postgres, seeded)

        back = settings_for(tmp_path / "back")
        moved = await migrate_store(on_postgres, back)
        assert not moved.copy.mismatched and moved.index_rebuilt and moved.indexed == 6
        assert moved.index_uri == str(tmp_path / "back" / "lance")
        back_store = await Store.open(back.store_target)
        try:
            assert await fingerprints(back_store) == before
        finally:
            await back_store.close()
        await check_served(back, seeded)


async def test_the_index_moves_to_object_storage(tmp_path: Path, postgres_url: str, s3: S3Bucket) -> None:
    """The scale-out recipe: PostgreSQL for state, the index built in a bucket (S3 settings from AWS_* variables)."""
    source = settings_for(tmp_path / "data")
    uri = s3.uri()
    with anyio.fail_after(180):
        service = await open_service(source)
        try:
            agent_id = (await service.create_agent(name="sam")).agent.id
            birthday = await service.archival.insert(agent_id, "Sarah's birthday is 12 May.", tags=["sarah"])
            await service.archival.wait_indexed()
        finally:
            await service.close()
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp(
                "migrate-store",
                "--data-dir",
                str(source.data_dir),
                "--to",
                postgres_url,
                "--lance-uri",
                uri,
                env=clean_env(**s3.env),
            )
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["index"] == {"uri": uri, "rebuilt": True, "passages": 1}
        assert s3.keys(uri)
        on_s3 = load_settings(
            overrides={
                "data_dir": str(source.data_dir),
                "database_url": postgres_url,
                "lance_uri": uri,
                "lance_storage_options": s3.options,
            },
            environ={},
        )
        service = await open_service(on_s3)
        try:
            hits = await service.archival.search(agent_id, "when is sarah's birthday", mode="fts")
            assert [h.passage.id for h in hits] == [birthday[0].id]
        finally:
            await service.close()


async def test_a_target_with_rows_is_refused_and_left_alone(tmp_path: Path, postgres_url: str) -> None:
    source = settings_for(tmp_path / "data")
    target = settings_for(tmp_path / "data", database_url=postgres_url)
    with anyio.fail_after(120):
        service = await open_service(source)
        try:
            await service.create_agent(name="moving")
        finally:
            await service.close()
        service = await open_service(target)
        try:
            already = (await service.create_agent(name="already-there")).agent.id
        finally:
            await service.close()
        before = await target_rows(postgres_url)
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
        )
        assert done.returncode == 2
        assert "is not empty (table agents has rows)" in done.stderr and "Nothing was copied" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
        assert await target_rows(postgres_url) == before
        service = await open_service(target)
        try:
            assert [a.id for a in await service.list_agents()] == [already]
        finally:
            await service.close()


async def test_a_live_server_on_the_source_is_refused_before_the_target_is_touched(
    tmp_path: Path, postgres_url: str
) -> None:
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(120):
        service = await open_service(source)  # a server: registered, heartbeating
        try:
            await service.create_agent(name="busy")
            done = await anyio.to_thread.run_sync(
                lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
            )
        finally:
            await service.close()
        assert done.returncode == 2
        assert "server process(es) are running on the source" in done.stderr and "stop them first" in done.stderr
        assert await target_rows(postgres_url) == {}  # not even the schema was created

        # Once it has stopped, the same command goes through.
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["tables"]["agents"]["rows"] == 1


async def test_a_source_written_by_a_newer_version_is_refused(tmp_path: Path, postgres_url: str) -> None:
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(120):
        service = await open_service(source)
        try:
            await service.create_agent(name="from-the-future")
        finally:
            await service.close()
        with sqlite3.connect(source.store_target) as db:  # as a newer letta-mcp would have left it
            db.execute("INSERT INTO schema_migrations (number, name) VALUES (999, 'future')")
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
        )
        assert done.returncode == 2
        assert "written by a newer letta-mcp" in done.stderr and "Nothing was copied." in done.stderr
        assert await target_rows(postgres_url) == {}


async def test_a_row_the_target_cannot_hold_leaves_it_empty(tmp_path: Path, postgres_url: str) -> None:
    """Text in an INTEGER column (SQLite keeps it, a BIGINT cannot): the copy fails whole, in its one transaction."""
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(120):
        service = await open_service(source)
        try:
            agent_id = (await service.create_agent(name="odd")).agent.id
            await service.send_message(agent_id, "hello")
        finally:
            await service.close()
        with sqlite3.connect(source.store_target) as db:  # as a damaged or hand-edited database may hold
            db.execute("UPDATE messages SET tokens = 'many' WHERE role = 'user'")
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
        )
        assert done.returncode == 1
        assert "the target refused a row of table messages (invalid literal for int()" in done.stderr
        assert "the target is unchanged" in done.stderr and "Traceback" not in done.stderr
        rows = await target_rows(postgres_url)
        assert {t.name for t in TABLES} <= set(rows)  # the schema was made when the target opened
        assert all(rows[t.name] == 0 for t in TABLES)


async def test_a_copy_that_reads_back_differently_is_rolled_back(tmp_path: Path, postgres_url: str) -> None:
    """PostgreSQL text cannot hold NUL, SQLite's can: the store sends U+FFFD instead, and only the checksums
    notice. The copy is not kept."""
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(120):
        service = await open_service(source)
        try:
            agent_id = (await service.create_agent(name="nul")).agent.id
            await service.send_message(agent_id, "before \x00 after")
        finally:
            await service.close()
        done = await anyio.to_thread.run_sync(
            lambda: letta_mcp("migrate-store", "--data-dir", str(source.data_dir), "--to", postgres_url)
        )
        assert done.returncode == 1, done.stderr
        result = json.loads(done.stdout)
        assert result["verified"] is False and result["index"] is None
        assert result["tables"]["messages"]["rows"] == result["tables"]["messages"]["target_rows"]
        mismatched = [line.split()[0] for line in done.stderr.splitlines() if line.endswith("MISMATCH")]
        assert mismatched == ["runs", "messages"]  # the run's input and the message
        assert "does not match the source in: runs, messages; it was rolled back" in done.stderr
        rows = await target_rows(postgres_url)
        assert all(rows[t.name] == 0 for t in TABLES)


async def test_the_target_may_not_be_the_source(tmp_path: Path) -> None:
    source = settings_for(tmp_path / "data")
    with anyio.fail_after(60), pytest.raises(CopyRefusedError, match="the target is the source"):
        await migrate_store(source, settings_for(tmp_path / "data" / ".." / "data"))


async def tables_of(target: Path | str) -> set[str]:
    store = await Store.open(target)
    if store.dialect == "postgresql":
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    else:  # FTS5's own tables are the index of `messages`, filled by its triggers as rows arrive
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts%'"
        )
    try:
        async with store.read() as q:
            return {str(r[0]) for r in await q.db.fetchall(sql)}
    finally:
        await store.close()


async def test_every_table_is_copied_or_named_as_left_out(tmp_path: Path, postgres_url: str) -> None:
    """A migration adding a table must say whether migrate-store copies it, on both engines."""
    with anyio.fail_after(60):
        assert await tables_of(tmp_path / "letta.db") == {t.name for t in TABLES} | set(NOT_COPIED)
        assert await tables_of(postgres_url) == {t.name for t in TABLES} | set(NOT_COPIED)
