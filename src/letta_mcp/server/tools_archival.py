"""MCP tools for archival memory: store passages for an agent, search, list and delete them, and
share an agent's archive with other agents (read-only unless shared writable)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import AliasChoices, BaseModel, Field

from letta_mcp.models import NewPassage, PassageHit
from letta_mcp.server.errors import tool_errors
from letta_mcp.server.schemas import AgentId, DateBound, Deleted, FromDomain, date_bound
from letta_mcp.service import AgentService
from letta_mcp.service.archival import MAX_BATCH

Tag = Annotated[str, Field(min_length=1, max_length=100)]
Tags = Annotated[list[Tag] | None, Field(max_length=50)]
TagMatch = Annotated[Literal["any", "all"], Field(description="'all': every tag.")]
PassageId = Annotated[str, Field(max_length=100)]
InsertText = Annotated[str, Field(min_length=1, max_length=1_000_000)]


class PassageOut(FromDomain):
    id: str
    # Letta's names for our created_at and text; schemas show an AliasChoices' first name, the field's own.
    timestamp: datetime = Field(
        validation_alias=AliasChoices("timestamp", "created_at"), description="When the passage was stored (UTC)."
    )
    content: str = Field(validation_alias=AliasChoices("content", "text"))
    tags: list[str]
    archive_id: str


class PassageHitOut(PassageOut):
    score: float = Field(description="Higher is better: fused rank score (hybrid), BM25 (full-text) or cosine.")
    fts_rank: int | None = Field(description="Rank among full-text matches (1 = best); null if not among them.")
    vector_rank: int | None = Field(description="Rank among vector matches (1 = best); null if not among them.")

    @classmethod
    def of_hit(cls, hit: PassageHit) -> PassageHitOut:
        return cls.model_validate(
            {**dict(hit.passage), "score": hit.score, "fts_rank": hit.fts_rank, "vector_rank": hit.vector_rank}
        )


class InsertResult(BaseModel):
    passage_ids: list[str] = Field(description="One id per passage; long text is split into several passages.")
    archive_id: str


class ArchivalSearchResults(BaseModel):
    results: list[PassageHitOut]


class SharedArchiveOut(BaseModel):
    archive_id: str
    agent_id: str
    with_agent_id: str
    writable: bool
    shared: bool


class PassagePageOut(BaseModel):
    passages: list[PassageOut]
    next_cursor: str | None = Field(description="Pass as cursor to get the next page; null when this is the last.")


def register(mcp: MCPServer, service: AgentService) -> None:
    archival = service.archival
    if archival is None:
        return

    @mcp.tool(annotations=ToolAnnotations(title="Insert into archival memory", destructiveHint=False))
    @tool_errors
    async def archival_insert(
        agent_id: AgentId,
        text: Annotated[
            InsertText | Annotated[list[InsertText], Field(min_length=1, max_length=MAX_BATCH)],
            Field(description="A text, or a list of texts stored in one transaction (bulk)."),
        ],
        tags: Tags = None,
        archive_id: Annotated[
            str | None, Field(max_length=100, description="An archive shared with the agent writable.")
        ] = None,
    ) -> InsertResult:
        """Store knowledge in an agent's archival memory (long text becomes several passages)."""
        texts = [text] if isinstance(text, str) else text
        items = [NewPassage(text=t, tags=list(tags or [])) for t in texts]
        passages = await archival.insert_many(agent_id, items, archive_id=archive_id)
        return InsertResult(passage_ids=[p.id for p in passages], archive_id=passages[0].archive_id)

    @mcp.tool(annotations=ToolAnnotations(title="Search archival memory", readOnlyHint=True))
    @tool_errors
    async def archival_search(
        agent_id: AgentId,
        query: Annotated[str, Field(min_length=1, max_length=10_000)],
        tags: Tags = None,
        tag_match_mode: TagMatch = "any",
        top_k: Annotated[int, Field(ge=1, le=100)] = 10,
        start_date: Annotated[DateBound, Field(description="Stored on or after.")] = None,
        end_date: Annotated[DateBound, Field(description="Stored on or before (a date: that whole day).")] = None,
        mode: Annotated[
            Literal["auto", "fts", "vector", "hybrid"],
            Field(description="'auto': hybrid with an embedder, else fts."),
        ] = "auto",
    ) -> ArchivalSearchResults:
        """Search an agent's archival memory (its own and shared archives), best match first."""
        hits = await archival.search(
            agent_id,
            query,
            tags=tags,
            tag_match_mode=tag_match_mode,
            top_k=top_k,
            start=date_bound(start_date, end=False),
            end=date_bound(end_date, end=True),
            mode=mode,
        )
        return ArchivalSearchResults(results=[PassageHitOut.of_hit(h) for h in hits])

    @mcp.tool(annotations=ToolAnnotations(title="Delete archival passage", destructiveHint=True, idempotentHint=True))
    @tool_errors
    async def archival_delete(agent_id: AgentId, passage_id: PassageId) -> Deleted:
        """Delete one archival passage, for good."""
        passage = await archival.delete(agent_id, passage_id)
        return Deleted(id=passage.id)

    @mcp.tool(annotations=ToolAnnotations(title="Share an archive", destructiveHint=False, idempotentHint=True))
    @tool_errors
    async def share_archive(
        agent_id: AgentId,
        with_agent_id: AgentId,
        writable: Annotated[bool, Field(description="Allow it to insert and delete.")] = False,
    ) -> SharedArchiveOut:
        """Let another agent search this agent's archival memory; read-only unless writable."""
        archive = await archival.share(agent_id, with_agent_id, writable=writable)
        return SharedArchiveOut(
            archive_id=archive.id, agent_id=agent_id, with_agent_id=with_agent_id, writable=writable, shared=True
        )

    @mcp.tool(annotations=ToolAnnotations(title="Stop sharing an archive", destructiveHint=False))
    @tool_errors
    async def unshare_archive(agent_id: AgentId, with_agent_id: AgentId) -> SharedArchiveOut:
        """Stop sharing this agent's archival memory with another agent (passages are kept)."""
        archive = await archival.unshare(agent_id, with_agent_id)
        return SharedArchiveOut(
            archive_id=archive.id, agent_id=agent_id, with_agent_id=with_agent_id, writable=False, shared=False
        )

    @mcp.tool(annotations=ToolAnnotations(title="List archival passages", readOnlyHint=True))
    @tool_errors
    async def archival_list(
        agent_id: AgentId,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
        cursor: Annotated[str | None, Field(max_length=1000, description="next_cursor of the previous page.")] = None,
        order: Annotated[Literal["desc", "asc"], Field(description="'desc': newest first.")] = "desc",
        tags: Tags = None,
        tag_match_mode: TagMatch = "any",
        start_date: Annotated[DateBound, Field(description="Stored on or after.")] = None,
        end_date: Annotated[DateBound, Field(description="Stored on or before (a date: that whole day).")] = None,
    ) -> PassagePageOut:
        """Page through an agent's archival passages by time stored."""
        page = await archival.list(
            agent_id,
            tags=tags,
            tag_match_mode=tag_match_mode,
            start=date_bound(start_date, end=False),
            end=date_bound(end_date, end=True),
            limit=limit,
            cursor=cursor,
            newest_first=order == "desc",
        )
        return PassagePageOut(passages=page.passages, next_cursor=page.next_cursor)
