"""The inspector in a real headless Chromium against a real server and the fake OpenAI-compatible model.

Every wait is Playwright's auto-waiting `expect` (bounded by its timeout), never a sleep.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from ui_harness import Inspector, screenshot, sign_in

from fake_openai import text, tool_call

pytestmark = pytest.mark.timeout(90)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _create(inspector: Inspector, token: str, name: str, tags: list[str] | None = None) -> str:
    response = inspector.api("POST", "/agents", token, {"name": name, "tags": tags or []})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_list_open_chat_live_edit_limit_and_archival(page: Any, inspector: Inspector) -> None:
    expect = _expect()
    agent_id = _create(inspector, inspector.alice, "sarah-helper", ["crm", "support"])
    _create(inspector, inspector.alice, "release-notes-writer", ["docs"])
    sign_in(page, inspector, inspector.alice)

    # the list: searchable, then open the agent
    expect(page.get_by_text("signed in as alice")).to_be_visible()
    expect(page.get_by_role("link", name="sarah-helper")).to_be_visible()
    page.get_by_label("Search").fill("sarah")
    rows = page.locator("table.agents tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="sarah-helper").click()
    expect(page.get_by_role("heading", name="sarah-helper")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")

    # send a message: the agent edits its memory, stores a fact, then replies. The model holds its
    # second answer until the test has seen the first step's tool call and block edit on the page.
    first_step_seen = threading.Event()

    def after_first_step(body: dict[str, Any]) -> dict[str, Any]:
        first_step_seen.wait(timeout=30)
        return tool_call("archival_memory_insert", {"content": "Sarah's birthday is on 12 May; she likes lilies."})

    inspector.model.script(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Sarah. Birthday: 12 May."}),
        after_first_step,
        text("Nice to meet you, Sarah!", reasoning="She told me her name and birthday."),
    )
    page.get_by_label("Message").fill("Hi, I'm Sarah. My birthday is 12 May.")
    page.get_by_role("button", name="Send").click()
    conversation = page.locator("#conversation")
    try:  # while the run is still going: its first step, tool call and block edit are already shown
        expect(page.locator(".run-progress")).to_contain_text("running")
        expect(page.locator(".run-progress .steps li")).to_have_count(1)
        expect(conversation.locator("details.tool-call summary").first).to_have_text("Tool call · core_memory_append")
        expect(page.locator("#block-human")).to_have_value(re.compile("Name: Sarah"))
    finally:
        first_step_seen.set()
    expect(conversation.locator(".role-assistant .bubble").last).to_have_text("Nice to meet you, Sarah!")
    call = conversation.locator("details.tool-call").first
    expect(call.locator("summary")).to_have_text("Tool call · core_memory_append")
    call.locator("summary").click()
    expect(call.locator("pre")).to_contain_text('"label": "human"')
    result = conversation.locator("details.tool-result").first
    expect(result.locator("summary")).to_contain_text("core_memory_append")
    expect(conversation.locator("details.reasoning").last).to_contain_text("Reasoning")
    expect(page.locator("#block-human")).to_have_value(re.compile("Name: Sarah"))
    expect(page.locator(".run-progress")).to_contain_text("completed")
    expect(page.locator(".run-progress .steps li")).to_have_count(3)
    expect(page.locator("#runs tbody tr").first).to_contain_text("end_turn")
    expect(page.locator("#context .context-total")).to_contain_text("messages in context")

    # an edit over the block's limit is refused with the server's message, and nothing changes
    persona = page.locator('article.block[data-label="persona"]')
    before = persona.locator("textarea").input_value()
    persona.locator("textarea").fill("x" * 5001)
    expect(persona.locator(".count")).to_have_class(re.compile("over"))
    persona.get_by_role("button", name="Save").click()
    expect(persona.get_by_role("alert")).to_contain_text("limit")
    persona.get_by_role("button", name="Revert").click()
    expect(persona.locator("textarea")).to_have_value(before)

    # a valid edit is saved and recorded in the block's version history
    human = page.locator('article.block[data-label="human"]')
    human.locator("textarea").fill("Name: Sarah.")
    human.get_by_role("button", name="Save").click()
    expect(human.get_by_role("status")).to_contain_text("Saved (version 3)")
    human.locator("summary").click()
    expect(human.locator(".history li")).to_have_count(3)
    expect(human.locator(".history li").nth(1)).to_contain_text("core_memory_append")

    # archival search shows the passage and the mode used
    page.get_by_label("Search archival memory").fill("birthday lilies")
    page.get_by_role("button", name="Search", exact=True).click()
    archival = page.locator("#archival")
    expect(archival.locator(".passage")).to_have_count(1)
    expect(archival.locator(".passage").first).to_contain_text("she likes lilies")
    expect(archival.get_by_role("status")).to_contain_text("Mode used: full-text")
    assert agent_id in page.url
    screenshot(page, "inspector-agent")

    # back on the list, the agent's new messages count and tags show; sorting by messages puts it first
    page.get_by_role("link", name="All agents").click()
    page.get_by_label("Search").fill("")
    expect(page.get_by_role("link", name="release-notes-writer")).to_be_visible()
    page.get_by_role("button", name="Messages").click()
    expect(page.get_by_role("columnheader", name="Messages")).to_have_attribute("aria-sort", "descending")
    first = page.locator("table.agents tbody tr").first
    expect(first).to_contain_text("sarah-helper")
    expect(first).to_contain_text("crm")
    expect(first.locator("td.num")).to_have_text("7")
    screenshot(page, "inspector-agents")


def test_wrong_token_is_refused_and_bob_never_sees_alices_agent(page: Any, inspector: Inspector) -> None:
    expect = _expect()
    agent_id = _create(inspector, inspector.alice, "alice-private")
    sign_in(page, inspector, "not-a-token-" + "0" * 20)
    expect(page.get_by_role("alert")).to_contain_text("refused")
    expect(page.get_by_label("Bearer token")).to_be_visible()
    screenshot(page, "inspector-sign-in")

    page.get_by_label("Bearer token").fill(inspector.bob)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("signed in as bob")).to_be_visible()
    listing = page.get_by_role("status").filter(has_text=re.compile(r"of \d+ agents?$"))
    expect(listing).to_be_visible()  # the list loaded
    expect(page.get_by_role("link", name="alice-private")).to_have_count(0)
    page.get_by_label("Search").fill("alice-private")
    expect(listing).to_have_text("0–0 of 0 agents")
    page.goto(f"{inspector.url}#/agents/{agent_id}")
    expect(page.get_by_role("alert").first).to_contain_text(f"No agent with id '{agent_id}'")
    # the API agrees: bob's token gets the same answer as an unknown id; no token gets 401
    assert inspector.api("GET", f"/agents/{agent_id}", inspector.bob).status_code == 404
    assert inspector.api("GET", f"/agents/{agent_id}", "").status_code == 401


def test_memory_with_markup_renders_as_text(page: Any, inspector: Inspector) -> None:
    expect = _expect()
    payload = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
    agent_id = _create(inspector, inspector.alice, "<b>markup</b>")
    update = inspector.api("PUT", f"/agents/{agent_id}/blocks/human", inspector.alice, {"value": payload})
    assert update.status_code == 200, update.text
    inspector.model.script(text(payload))
    sign_in(page, inspector, inspector.alice)
    expect(page.get_by_role("link", name="<b>markup</b>")).to_be_visible()
    page.get_by_role("link", name="<b>markup</b>").click()
    expect(page.locator("h1")).to_have_text("<b>markup</b>")
    expect(page.locator("#block-human")).to_have_value(payload)
    page.get_by_label("Message").fill(payload)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#conversation .role-assistant .bubble").last).to_have_text(payload)
    expect(page.locator("#conversation .role-user .bubble").last).to_have_text(payload)
    human = page.locator('article.block[data-label="human"]')
    human.locator("summary").click()
    expect(human.locator(".history pre").first).to_have_text(payload)
    # nothing was parsed as markup: no element from the payload exists, no handler ran
    assert page.locator("main script, main img, main b").count() == 0
    assert page.evaluate("window.__pwned") is None
