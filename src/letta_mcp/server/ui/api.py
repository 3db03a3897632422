"""The inspector's JSON API: thin handlers over the service facade, like the MCP tools.

Every handler runs as the request's principal (`acting_as`), so the service's ownership checks
apply exactly as they do over MCP: another principal's agent answers 404 like an unknown id.
Errors are ``{"error": "<message>"}`` with the service's actionable text. Every list is paged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_core import to_jsonable_python
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from letta_mcp import __version__
from letta_mcp.models import PassageHit, Role
from letta_mcp.server.ui.events import EventHub, TooManyStreamsError
from letta_mcp.server.ui.guard import Guard
from letta_mcp.service import (
    AgentService,
    AgentSummary,
    AgentUnavailableError,
    ConflictError,
    InvalidRequestError,
    MemoryLimitError,
    NotFoundError,
    Principal,
    ServiceError,
    acting_as,
    current_principal,
)

Handler = Callable[[Request], Awaitable[Any]]

MAX_MESSAGE_PAGE = 100
SEARCH_MODES = ("auto", "fts", "vector", "hybrid")
MAX_HITS = 100  # the service's top_k ceiling for one archival search
MAX_TEXT_CHARS = 100_000
_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (MemoryLimitError, 422),
    (AgentUnavailableError, 503),
)


class Api:
    """The API routes for one service; ``/api/...`` below wherever the inspector is mounted."""

    def __init__(self, service: AgentService, guard: Guard, hub: EventHub) -> None:
        self.service = service
        self.guard = guard
        self.hub = hub

    def routes(self) -> list[Route]:
        r = self._json
        return [
            Route("/api/session", r(self.session)),
            Route("/api/agents", r(self.agents)),
            Route("/api/agents", r(self.create_agent), methods=["POST"]),
            Route("/api/templates", r(self.templates)),
            Route("/api/agents/{agent_id}", r(self.agent)),
            Route("/api/agents/{agent_id}/blocks/{label}", r(self.update_block), methods=["PUT"]),
            Route("/api/agents/{agent_id}/blocks/{label}/history", r(self.block_history)),
            Route("/api/agents/{agent_id}/context", r(self.context)),
            Route("/api/agents/{agent_id}/messages", r(self.messages)),
            Route("/api/agents/{agent_id}/messages", r(self.send), methods=["POST"]),
            Route("/api/agents/{agent_id}/runs", r(self.runs)),
            Route("/api/agents/{agent_id}/archival", r(self.archival)),
            Route("/api/runs/{run_id}", r(self.run)),
            Route("/api/events", self.events),
        ]

    def _json(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            principal = await self._caller(request)
            if isinstance(principal, Response):
                return principal
            try:
                with acting_as(principal):
                    result = await handler(request)
            except ServiceError as e:
                status = next((code for kind, code in _STATUS if isinstance(e, kind)), 400)
                return JSONResponse({"error": str(e)}, status_code=status)
            return JSONResponse(to_jsonable_python(result), headers={"Cache-Control": "no-store"})

        return endpoint

    async def _caller(self, request: Request) -> Principal | Response:
        """The request's principal, or the refusal to answer (foreign Host/Origin, then no valid token)."""
        refused = await self.guard.check_origin(request)
        return refused if refused is not None else await self.guard.principal(request)

    # --- session, agents, templates --------------------------------------------------------------

    async def session(self, request: Request) -> dict[str, Any]:
        return {"principal": current_principal().name, "auth": self.guard.auth, "version": __version__}

    async def agents(self, request: Request) -> dict[str, Any]:
        page = await self.service.agent_summaries(
            query=request.query_params.get("q") or None,
            sort=request.query_params.get("sort", "last_active"),  # type: ignore[arg-type]  # the service checks it
            descending=request.query_params.get("order", "desc") != "asc",
            limit=_int(request, "limit", 50, 1, 200),
            offset=_int(request, "offset", 0, 0, 10_000_000),
        )
        return {"total": page.total, "agents": [_summary(s) for s in page.agents]}

    async def create_agent(self, request: Request) -> dict[str, Any]:
        body = await _body(request)
        tags = body.get("tags")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            raise InvalidRequestError("tags must be a list of texts.")
        details = await self.service.create_agent(
            name=_text(body, "name", required=False, max_chars=200),
            template=_text(body, "template", required=False, max_chars=200),
            tags=tags,
        )
        return {"id": details.agent.id, "name": details.agent.name}

    async def templates(self, request: Request) -> list[dict[str, Any]]:
        return [
            {"name": t.name, "description": t.description, "model": t.model}
            for t in await self.service.list_templates()
        ]

    async def agent(self, request: Request) -> dict[str, Any]:
        details = await self.service.get_agent(request.path_params["agent_id"])
        return {
            "agent": details.agent,
            "blocks": details.blocks,
            "messages_in_history": details.messages_in_history,
            "messages_in_context": details.messages_in_context,
        }

    # --- memory and context ----------------------------------------------------------------------

    async def update_block(self, request: Request) -> Any:
        body = await _body(request)
        value = _text(body, "value", required=True, max_chars=MAX_TEXT_CHARS)
        return await self.service.update_block(
            request.path_params["agent_id"], request.path_params["label"], value=value
        )

    async def block_history(self, request: Request) -> Any:
        return await self.service.block_history(
            request.path_params["agent_id"], request.path_params["label"], limit=_int(request, "limit", 20, 1, 200)
        )

    async def context(self, request: Request) -> Any:
        return await self.service.get_context(request.path_params["agent_id"])

    # --- conversation and runs -------------------------------------------------------------------

    async def messages(self, request: Request) -> Any:
        """Newest first below ``before`` (older pages), or oldest first above ``after`` (new arrivals)."""
        after = _optional_int(request, "after")
        return await self.service.list_messages(
            request.path_params["agent_id"],
            before_seq=_optional_int(request, "before"),
            after_seq=after,
            limit=_int(request, "limit", 30, 1, MAX_MESSAGE_PAGE),
            newest_first=after is None,
        )

    async def send(self, request: Request) -> dict[str, Any]:
        """Accept a message as a background run; its steps are announced on the event stream."""
        agent_id = request.path_params["agent_id"]
        body = await _body(request)
        text = _text(body, "message", required=True, max_chars=MAX_TEXT_CHARS)
        owner = (await self.service.get_agent(agent_id)).agent.owner
        run_id: list[str] = []

        async def on_step(index: int, _max_steps: int) -> None:
            if run_id:
                self.hub.publish_step(owner, agent_id, run_id[0], index)

        result = await self.service.send_message(agent_id, text, role=Role.user, background=True, on_step=on_step)
        run_id.append(result.run.id)
        return {"run_id": result.run.id}

    async def runs(self, request: Request) -> Any:
        return await self.service.list_runs(request.path_params["agent_id"], limit=_int(request, "limit", 20, 1, 200))

    async def run(self, request: Request) -> Any:
        return await self.service.get_run_details(request.path_params["run_id"])

    # --- archival memory -------------------------------------------------------------------------

    async def archival(self, request: Request) -> dict[str, Any]:
        """Search (``q``: a page of the ranked hits and the mode actually used) or browse (cursor pages)."""
        agent_id = request.path_params["agent_id"]
        archival = self.service.archival
        if archival is None:
            raise InvalidRequestError("Archival memory is not enabled on this server.")
        query = request.query_params.get("q", "").strip()
        limit = _int(request, "limit", 10, 1, 50)
        if not query:
            page = await archival.list(agent_id, limit=limit, cursor=request.query_params.get("cursor") or None)
            return {"mode": None, "passages": page.passages, "next_cursor": page.next_cursor}
        mode = request.query_params.get("mode", "auto")
        if mode not in SEARCH_MODES:
            raise InvalidRequestError(f"mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}.")
        offset = _int(request, "offset", 0, 0, MAX_HITS - 1)
        top_k = min(MAX_HITS, offset + limit + 1)  # one more than shown tells whether a next page exists
        hits = await archival.search(agent_id, query, top_k=top_k, mode=mode)  # type: ignore[arg-type]
        return {
            "mode": _mode_used(hits, mode, has_embedder=archival.memory.embedder is not None),
            "requested_mode": mode,
            "hits": hits[offset : offset + limit],
            "has_more": len(hits) > offset + limit,
        }

    # --- live events -----------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        principal = await self._caller(request)
        if isinstance(principal, Response):
            return principal
        try:
            stream = self.hub.open(principal, request.query_params.get("agent_id") or None)
        except TooManyStreamsError as e:
            return JSONResponse({"error": str(e)}, status_code=429)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def _summary(s: AgentSummary) -> dict[str, Any]:
    a = s.agent
    return {
        "id": a.id,
        "name": a.name,
        "model": a.model,
        "tags": a.tags,
        "description": a.description,
        "messages": s.messages_in_history,
        "last_active": s.last_active or a.created_at,
        "created_at": a.created_at,
    }


def _mode_used(hits: list[PassageHit], requested: str, *, has_embedder: bool) -> str:
    """The search mode that produced ``hits``: ``auto`` resolves to hybrid or full-text."""
    if any(h.fts_rank is not None and h.vector_rank is not None for h in hits):
        return "hybrid"
    if requested != "auto":
        return requested
    if any(h.vector_rank is not None for h in hits):
        return "vector"
    return "hybrid" if has_embedder and not hits else "fts"


def _optional_int(request: Request, name: str) -> int | None:
    return _int(request, name, 0, 0, 2**62) if name in request.query_params else None


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequestError(f"{name} must be a whole number between {lo} and {hi}; got {raw!r}.") from None
    if not lo <= value <= hi:
        raise InvalidRequestError(f"{name} must be between {lo} and {hi}; got {value}.")
    return value


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool, max_chars: int) -> Any:
    value = body.get(name)
    if value is None or (value == "" and not required):
        if required:
            raise InvalidRequestError(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be text.")
    if len(value) > max_chars:
        raise InvalidRequestError(f"{name} is over {max_chars} characters.")
    return value
