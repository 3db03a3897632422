"""The inspector's JSON API over real HTTP: guards, errors, live events per principal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from http_harness import connect
from ui_harness import Inspector

from letta_mcp.config import load_settings
from letta_mcp.server.http import build_app
from letta_mcp.service import AgentService

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def _agent(inspector: Inspector, token: str, name: str) -> str:
    response = inspector.api("POST", "/agents", token, {"name": name})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _names(inspector: Inspector, token: str) -> list[str]:
    return [a["name"] for a in inspector.api("GET", "/agents?limit=200", token).json()["agents"]]


def test_foreign_origin_and_non_json_writes_are_refused_and_change_nothing(inspector: Inspector) -> None:
    url = f"{inspector.server.url}/ui/api/agents"
    auth = {"Authorization": f"Bearer {inspector.alice}"}
    foreign = httpx2.post(url, json={"name": "from-evil"}, headers={**auth, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    # a cross-site form post cannot send JSON (that would need a CORS preflight we never grant)
    form = httpx2.post(url, content='{"name": "from-form"}', headers={**auth, "Content-Type": "text/plain"})
    assert form.status_code == 400
    assert not {"from-evil", "from-form"} & set(_names(inspector, inspector.alice))


def test_bad_arguments_get_actionable_errors(inspector: Inspector) -> None:
    agent_id = _agent(inspector, inspector.alice, "errors")
    sort = inspector.api("GET", "/agents?sort=owner", inspector.alice)
    assert sort.status_code == 400 and "sort must be one of name, model" in sort.json()["error"]
    limit = inspector.api("GET", "/agents?limit=abc", inspector.alice)
    assert limit.status_code == 400
    assert limit.json()["error"] == "limit must be a whole number between 1 and 200; got 'abc'."
    body = inspector.api("PUT", f"/agents/{agent_id}/blocks/human", inspector.alice, ["not", "an", "object"])
    assert body.status_code == 400 and body.json()["error"] == "The request body must be a JSON object."
    over = inspector.api("PUT", f"/agents/{agent_id}/blocks/human", inspector.alice, {"value": "x" * 5001})
    assert over.status_code == 422 and "limit" in over.json()["error"]
    blocks = inspector.api("GET", f"/agents/{agent_id}", inspector.alice).json()["blocks"]
    assert next(b for b in blocks if b["label"] == "human")["version"] == 1  # nothing written
    unknown = inspector.api("GET", f"/agents/{agent_id}/blocks/nope/history", inspector.alice)
    assert unknown.status_code == 404 and "Its blocks are: persona, human" in unknown.json()["error"]


async def _events(response: httpx2.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


async def test_event_streams_carry_only_the_principals_own_changes(inspector: Inspector) -> None:
    alices = _agent(inspector, inspector.alice, "alice-live")
    bobs = _agent(inspector, inspector.bob, "bob-live")
    url = f"{inspector.server.url}/ui/api"
    with anyio.fail_after(30):
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            http.stream("GET", f"{url}/events", headers={"Authorization": f"Bearer {inspector.alice}"}) as a,
            http.stream("GET", f"{url}/events", headers={"Authorization": f"Bearer {inspector.bob}"}) as b,
        ):
            alice_events, bob_events = _events(a), _events(b)
            assert (await anext(alice_events))["type"] == "ready"
            assert (await anext(bob_events))["type"] == "ready"
            edit = {"Authorization": f"Bearer {inspector.alice}"}
            response = await http.put(f"{url}/agents/{alices}/blocks/human", json={"value": "alice's"}, headers=edit)
            assert response.status_code == 200
            edit = {"Authorization": f"Bearer {inspector.bob}"}
            response = await http.put(f"{url}/agents/{bobs}/blocks/human", json={"value": "bob's"}, headers=edit)
            assert response.status_code == 200
            heard = await anext(alice_events)
            assert (heard["agent_id"], heard["blocks"]) == (alices, ["human"])
            # events arrive in order: had alice's change reached bob, it would come before his own
            assert (await anext(bob_events))["agent_id"] == bobs
    no_token = httpx2.get(f"{url}/events")
    assert no_token.status_code == 401


async def test_http_ui_false_serves_no_inspector(tmp_path: Any) -> None:
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "http": {"ui": False}}, environ={})
    service = await AgentService.open(settings, providers={})
    try:
        paths = [getattr(route, "path", "") for route in build_app(service, settings).routes]
    finally:
        await service.close()
    assert "/mcp" in paths and not [p for p in paths if p.startswith("/ui")]


async def test_create_from_a_template_made_over_mcp(inspector: Inspector) -> None:
    source = _agent(inspector, inspector.alice, "template-source")
    edit = inspector.api("PUT", f"/agents/{source}/blocks/persona", inspector.alice, {"value": "I answer billing."})
    assert edit.status_code == 200
    with anyio.fail_after(30):
        async with connect(inspector.server.mcp_url, inspector.alice) as client:
            made = await client.call_tool("create_template", {"name": "billing-bot", "agent_id": source})
            assert not made.is_error, made
    assert "billing-bot" in [t["name"] for t in inspector.api("GET", "/templates", inspector.alice).json()]
    assert inspector.api("GET", "/templates", inspector.bob).json() == []  # templates are per principal too
    created = inspector.api("POST", "/agents", inspector.alice, {"name": "from-template", "template": "billing-bot"})
    assert created.status_code == 200, created.text
    blocks = inspector.api("GET", f"/agents/{created.json()['id']}", inspector.alice).json()["blocks"]
    assert next(b for b in blocks if b["label"] == "persona")["value"] == "I answer billing."
    unknown = inspector.api("POST", "/agents", inspector.alice, {"template": "nope"})
    assert unknown.status_code == 404 and "No template named 'nope'" in unknown.json()["error"]
