"""``notifications/tasks`` over Streamable HTTP: a subscribed client hears its task move on.

Each test opens a ``subscriptions/listen`` stream naming task ids (`listen_tasks`) and waits on the
notifications themselves, each wait under a deadline. The model's ``delay`` entries keep every
state the test expects to see in place for a second, far longer than a notification takes.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from http_harness import ServerProcess
from mcp.shared.exceptions import MCPError
from mcp.types import SubscriptionsAcknowledgedNotification, SubscriptionsListenResult
from task_client import TasksClient, TaskState, ended, get_task, listen_request, listen_tasks, update_task
from task_http import connect, new_agent, start_task

from fake_openai import FakeOpenAI, delay, text, tool_call

pytestmark = pytest.mark.anyio


def statuses(notified: list[TaskState]) -> list[str]:
    return [n.status for n in notified]


async def test_a_slow_turn_is_heard_step_by_step_until_its_result(
    task_server: ServerProcess, model: FakeOpenAI
) -> None:
    model.reset()
    model.script(
        delay(1.0, tool_call("conversation_search", {"query": "tea"})),
        delay(1.0, text("nothing about tea")),
    )
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, tasks) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "what did I say about tea?", background=True)
            async with listen_tasks(client.session, [created.task_id]):
                first = await tasks.wait_notified(created.task_id, lambda n: True)
                stepped = await tasks.wait_notified(
                    created.task_id, lambda n: "conversation_search" in (n.status_message or "")
                )
                notified = await tasks.wait_notified(created.task_id, ended)
            final = await get_task(client.session, created.task_id)
    # The task as it was when the stream opened, each step, then the result: in order, nothing twice.
    assert first[0].status == "working"
    assert stepped[-1].status_message == "Step 1 of at most 50; last tool called: conversation_search."
    assert statuses(notified)[-1] == "completed"
    assert set(statuses(notified)[:-1]) == {"working"}
    assert len({n.status_message for n in notified}) == len(notified)
    # Each one is what tasks/get answers at that moment: the last carries the tool's result.
    done = notified[-1]
    assert done.result is not None and done.result["structuredContent"]["reply"] == "nothing about tea"
    assert done.model_dump(exclude={"meta"}) == final.model_dump(exclude={"meta"})


async def test_approval_is_heard_as_input_required_then_working_then_completed(
    task_server: ServerProcess, model: FakeOpenAI
) -> None:
    model.reset()
    model.script(
        tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}),
        delay(1.0, text("Noted.")),
    )
    tasks = TasksClient()
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, tasks) as client:
            agent_id = await new_agent(
                client, tool_rules=[{"type": "requires_approval", "tool_name": "core_memory_append"}]
            )
            created = await start_task(client, agent_id, "I like tea", background=True)
            async with listen_tasks(client.session, [created.task_id]):
                paused = await tasks.wait_notified(created.task_id, lambda n: n.status == "input_required")
                [key] = paused[-1].input_requests or {}
                await update_task(
                    client.session, created.task_id, {key: {"action": "accept", "content": {"approve": True}}}
                )
                notified = await tasks.wait_notified(created.task_id, ended)
    after = statuses(notified)[len(paused) :]
    assert after == ["working", "completed"]  # resumed, then done
    assert notified[-1].result is not None and notified[-1].result["structuredContent"]["reply"] == "Noted."


async def test_a_client_without_the_extension_cannot_ask_for_task_notifications(
    task_server: ServerProcess, model: FakeOpenAI
) -> None:
    model.reset()
    model.script(text("done"))
    with anyio.fail_after(60):
        async with connect(task_server.mcp_url, TasksClient()) as client:
            agent_id = await new_agent(client)
            created = await start_task(client, agent_id, "hi", background=True)
        async with connect(task_server.mcp_url) as plain:
            with pytest.raises(MCPError) as refused:
                await plain.session.send_request(listen_request([created.task_id]), SubscriptionsListenResult)
    assert refused.value.error.code == -32021
    assert refused.value.error.data == {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}}


async def test_another_principals_task_is_never_heard(
    auth_server: ServerProcess, model: FakeOpenAI, tokens: Any
) -> None:
    """Bob asks for alice's task and his own: the acknowledgement names only his, and while alice's
    task finishes (before his) he hears of his own only."""
    model.reset()

    def by_sender(body: dict[str, Any]) -> dict[str, Any]:
        # The two turns run in parallel, so the answer is chosen by whose turn asks, not by order.
        return delay(0.5, text("alice's")) if "from alice" in str(body["messages"]) else delay(1.5, text("bob's"))

    model.script(by_sender, by_sender)
    acknowledged: list[dict[str, Any]] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, SubscriptionsAcknowledgedNotification):
            acknowledged.append(message.params.notifications.model_dump(by_alias=True, exclude_none=True))

    alice_tasks, bob_tasks = TasksClient(), TasksClient()
    with anyio.fail_after(60):
        async with (
            connect(auth_server.mcp_url, alice_tasks, token=tokens.alice) as alice,
            connect(auth_server.mcp_url, bob_tasks, token=tokens.bob, message_handler=on_message) as bob,
        ):
            alices = await start_task(alice, await new_agent(alice), "from alice", background=True)
            bobs = await start_task(bob, await new_agent(bob), "from bob", background=True)
            async with (
                listen_tasks(alice.session, [alices.task_id]),
                listen_tasks(bob.session, [alices.task_id, bobs.task_id]),
            ):
                await alice_tasks.wait_notified(alices.task_id, ended)
                await bob_tasks.wait_notified(bobs.task_id, ended)
    assert acknowledged == [{"taskIds": [bobs.task_id]}]
    assert {n.task_id for n in bob_tasks.notified} == {bobs.task_id}
    assert {n.task_id for n in alice_tasks.notified} == {alices.task_id}
