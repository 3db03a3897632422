"""``letta-mcp chat``: talk to an agent from a terminal.

A person picks (by id or name) or creates an agent, types messages and sees the reply, and while
the turn runs, each tool call, its result and each memory block the agent changed. Commands:
/memory, /context, /history, /search TEXT, /quit (Ctrl-D and Ctrl-C also leave).

It is one more process on the data directory, through the service like ``serve``: servers on the
same directory may keep running. Turn progress comes from the service's ``on_step`` callback, which
fires after each committed step; the step's new messages and blocks are read back then.

Lines are read by ``input()`` (readline editing) in a daemon thread, so the event loop never blocks
on the keyboard and a pending read never holds up the exit.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import anyio.from_thread
import anyio.lowlevel

from letta_mcp.config import Settings
from letta_mcp.models import Agent, Message, Role
from letta_mcp.service import AgentService, ContextOverview, NotFoundError, ServiceError

if TYPE_CHECKING:
    from letta_mcp.remote import RemoteServers

HELP = "Commands: /memory  /context  /history  /search TEXT  /quit   (Ctrl-D or Ctrl-C also quit)"
BAR_WIDTH = 50
SHOWN_CHARS = 200  # tool arguments and results are cut to this on screen
# One mark per kind of context section, so the bar reads at a glance.
_MARKS = {"system_prompt": "S", "memory_metadata": "m", "summary": "U", "messages": "M", "tool_schemas": "T"}


def model_problem(settings: Settings, handle: str) -> str | None:
    """Why ``handle`` cannot be called with these settings (no provider, no key), or None."""
    name = handle.partition("/")[0]
    provider = settings.providers.get(name)
    if provider is None:
        return (
            f"No model provider {name!r} is configured for the model {handle!r}. Add a [providers.{name}] "
            "section with a base_url to the config file (see the README's local model servers section)."
        )
    hosted = provider.base_url is None or urlsplit(provider.base_url).hostname == "api.openai.com"
    if hosted and settings.api_key(name) is None:
        return (
            f"No model is configured: the model {handle!r} needs an API key. Set OPENAI_API_KEY, or "
            "OPENAI_BASE_URL for a local OpenAI-compatible server (Ollama, LM Studio, llama.cpp, vLLM), "
            "or configure [providers.NAME] base_url and default_model in the config file."
        )
    return None


async def run_chat(settings: Settings, agent_ref: str | None, *, remote_tools: RemoteServers | None = None) -> int:
    """The chat session; returns the exit status."""
    service = await AgentService.open(settings, remote_tools=remote_tools)
    try:
        agent = await _choose_agent(service, agent_ref, settings)
        if agent is None:
            return 0
        return await _Chat(service, agent).run(model_problem(settings, agent.model))
    finally:
        await service.close()


async def read_line(prompt: str) -> str | None:
    """One line from the terminal, None at end of input (Ctrl-D)."""
    token = anyio.lowlevel.current_token()
    done = anyio.Event()
    line: list[str | None] = [None]

    def read() -> None:
        with contextlib.suppress(EOFError, OSError):  # end of input: None
            line[0] = input(prompt)
        with contextlib.suppress(RuntimeError):  # the loop has ended (Ctrl-C): nobody waits for this line
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=read, name="letta-mcp-chat-input", daemon=True).start()
    await done.wait()
    return line[0]


async def _choose_agent(service: AgentService, ref: str | None, settings: Settings) -> Agent | None:
    """The agent named or identified by ``ref`` (created when no agent has that name), or one the
    person picks from a numbered list."""
    if ref is None:
        agents = await service.list_agents(limit=20)
        for number, agent in enumerate(agents, 1):
            print(f"  {number}. {agent.name}  ({agent.id}, {agent.model})")
        hint = "a number, or a name for a new agent" if agents else "a name for a new agent"
        answer = await read_line(f"Agent ({hint}): ")
        if answer is None or not answer.strip():
            return None
        ref = answer.strip()
        if ref.isdigit() and 1 <= int(ref) <= len(agents):
            return agents[int(ref) - 1]
    try:
        return (await service.get_agent(ref)).agent
    except NotFoundError:
        pass
    named = await service.list_agents(name=ref, limit=2)
    if named:
        return named[0]
    created = (await service.create_agent(name=ref)).agent
    print(f"Created agent {created.name} ({created.id}, model {created.model}).")
    return created


class _Chat:
    def __init__(self, service: AgentService, agent: Agent) -> None:
        self.service = service
        self.agent = agent
        self._seen_seq = 0
        self._blocks: dict[str, str] = {}

    async def run(self, problem: str | None) -> int:
        print(f"Chatting with {self.agent.name} ({self.agent.id}, model {self.agent.model}). {HELP}")
        if problem:
            print(f"! {problem}")
        while True:
            line = await read_line("you> ")
            if line is None:
                print()
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not await self._command(text):
                    return 0
                continue
            await self._send(text)

    async def _command(self, text: str) -> bool:
        """Run a /command; False means quit."""
        name, _, arg = text.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name == "/memory":
            memory = await self.service.get_memory(self.agent.id)
            for block in memory.blocks:
                print(f"[{block.label}] ({len(block.value)}/{block.limit} chars)\n{block.value}")
        elif name == "/context":
            print(context_bar(await self.service.get_context(self.agent.id)))
        elif name == "/history":
            messages = await self.service.list_messages(self.agent.id, limit=20)
            for message in reversed(messages):
                self._show(message, history=True)
        elif name == "/search" and arg.strip():
            found = await self.service.search_messages(self.agent.id, query=arg.strip(), limit=10)
            if not found:
                print(f"Nothing in the history matches {arg.strip()!r}.")
            for message in found:
                self._show(message, history=True)
        else:
            print(HELP)
        return True

    async def _send(self, text: str) -> None:
        newest = await self.service.list_messages(self.agent.id, limit=1)
        self._seen_seq = newest[0].seq if newest else 0
        self._blocks = {b.label: b.value for b in (await self.service.get_memory(self.agent.id)).blocks}
        try:
            result = await self.service.send_message(self.agent.id, text, on_step=self._on_step)
        except ServiceError as e:
            print(f"! {e}")
            return
        if result.run.error and not result.reply:
            stop = result.run.stop_reason.value if result.run.stop_reason else "stopped"
            print(f"! the turn stopped ({stop}): {result.run.error}")
        print(f"{self.agent.name}> {result.reply or '(no reply)'}")

    async def _on_step(self, step: int, max_steps: int) -> None:
        """After each committed step: the step's tool calls and results, then the blocks it changed."""
        new = await self.service.list_messages(self.agent.id, after_seq=self._seen_seq, newest_first=False, limit=200)
        for message in new:
            self._seen_seq = max(self._seen_seq, message.seq)
            if message.role in (Role.assistant, Role.tool):
                self._show(message, history=False)
        for block in (await self.service.get_memory(self.agent.id)).blocks:
            if self._blocks.get(block.label) != block.value:
                self._blocks[block.label] = block.value
                print(f"  ✎ memory [{block.label}] now: {_cut(block.value)}")
        sys.stdout.flush()

    def _show(self, message: Message, *, history: bool) -> None:
        for call in message.tool_calls:
            print(f"  → {call.name}({_cut(call.arguments)})")
        if message.role is Role.tool:
            print(f"  ← {message.tool_name or 'tool'}: {_cut(message.content or '')}")
        elif history and message.role in (Role.user, Role.assistant) and message.content:
            who = "you" if message.role is Role.user else self.agent.name
            print(f"#{message.seq} {who}> {message.content}")


def context_bar(context: ContextOverview) -> str:
    """The window as a bar: one mark per section kind (B for memory blocks), '.' for free space."""
    window = max(context.context_window, 1)
    bar = ""
    legend = []
    for section in context.sections:
        mark = "B" if section.name.startswith("memory_block:") else _MARKS.get(section.name, "o")
        # A section too small for a cell of its own still shows, so none is hidden in a large window.
        cells = max(round(BAR_WIDTH * section.tokens / window), 1 if section.tokens else 0)
        bar += mark * cells
        legend.append(f"{mark} {section.name} {section.tokens}")
    bar = bar[:BAR_WIDTH].ljust(BAR_WIDTH, ".")
    head = (
        f"context: {context.estimated_prompt_tokens}/{context.context_window} tokens "
        f"({context.percent_used:g}%), {context.messages_in_context} messages in context"
    )
    return f"{head}\n[{bar}]\n  " + "\n  ".join(legend)


def _cut(text: str) -> str:
    try:  # tool arguments and results are JSON: shown compact, on one line
        text = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        text = " ".join(text.split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"
