"""A scripted, real-HTTP fake of an OpenAI-compatible chat completions server.

Tests talk to it through the real ``openai`` client over real sockets, so everything between
our provider and the wire (headers, retries, timeouts, error bodies) is exercised, not mocked.

In-process use (pytest)::

    def test_x(fake_openai: FakeOpenAI) -> None:
        fake_openai.script(tool_call("send_message", {"message": "hi"}), text("done"))
        ...  # point a provider at fake_openai.base_url
        assert fake_openai.requests[0]["tools"][0]["function"]["name"] == "send_message"

Each ``POST /v1/chat/completions`` consumes the next script entry. An entry is a response dict
built by the helpers below (``text``, ``tool_call``, ``tool_calls``, ``error``, ``delay``,
``empty_choices``) or, in-process only, a callable ``fn(request_body) -> response dict``. When
the script runs out the server answers HTTP 500 "fake script exhausted", so a test that makes
more model calls than it scripted fails loudly. ``GET /v1/models`` lists one model.
Local-server quirks (``FakeOpenAI(quirks={...})``, standalone ``--quirk NAME``), as Ollama, LM
Studio, llama.cpp's ``llama-server`` and vLLM show them depending on version and flags:
``no_models`` (``GET /v1/models`` answers 404), ``no_usage`` (completions carry no ``usage``) and
``tool_calls_in_content`` (a scripted tool call arrives as JSON text in ``content``, in the
``{"name": ..., "arguments": {...}}`` shape, with ``finish_reason`` "stop" and no ``tool_calls``).
``POST /v1/embeddings`` is not scripted: it answers every text with `fake_embedding` (a
deterministic hashed bag of words, ``dimensions`` long, default 16), records each request body in
``embedding_requests``, and first answers with the HTTP statuses queued by ``fail_embeddings``.

Standalone use (for end-to-end tests that need the model in another, longer-lived process)::

    python tests/fake_openai.py --port 0 --script SCRIPT.json [--log REQUESTS.jsonl]

prints its base URL (``http://127.0.0.1:PORT/v1``) as the first stdout line, serves until
SIGINT/SIGTERM, and appends every chat request body as one JSON line to the log file. The
script file is a JSON list of the same response dicts the helpers return, for example
``[{"type": "tool_call", "name": "send_message", "arguments": {"message": "hi"}},
{"type": "text", "content": "done"}]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Response = dict[str, Any]
ScriptEntry = Response | Callable[[dict[str, Any]], Response]

_ids = itertools.count(1)

# --- response helpers ---------------------------------------------------------------------------


def text(
    content: str,
    *,
    finish_reason: str = "stop",
    usage: dict[str, int] | None = None,
    reasoning: str | None = None,
) -> Response:
    """A plain assistant answer. ``usage`` defaults to a rough chars/4 estimate of the request;
    ``reasoning`` is sent as the message's ``reasoning_content`` (as DeepSeek/vLLM do)."""
    return {"type": "text", "content": content, "finish_reason": finish_reason, "usage": usage,
            "reasoning": reasoning}


def tool_call(
    name: str, arguments: dict[str, Any] | str, *, call_id: str | None = None, content: str | None = None
) -> Response:
    """An assistant turn calling one tool. ``str`` arguments go out verbatim (malformed JSON
    included); a dict is JSON-encoded. ``call_id`` defaults to a fresh ``call_N``."""
    return {"type": "tool_call", "calls": [{"id": call_id, "name": name, "arguments": arguments}],
            "content": content}


def tool_calls(*calls: Response, content: str | None = None) -> Response:
    """One assistant turn with several tool calls: ``tool_calls(tool_call(...), tool_call(...))``."""
    return {"type": "tool_call", "calls": [c for call in calls for c in call["calls"]], "content": content}


def error(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response:
    """An HTTP error. ``body`` defaults to an OpenAI-style ``{"error": {...}}`` object."""
    if body is None:
        body = {"error": {"message": f"fake error {status}", "type": "fake_error", "code": None}}
    return {"type": "error", "status": status, "body": body, "headers": headers or {}}


def delay(seconds: float, then: Response | None = None) -> Response:
    """Answer ``then`` (default: a short text) after ``seconds``; used to provoke client timeouts.
    The wait ends early if the client hangs up, so a stopping server is never held hostage."""
    return {"type": "delay", "seconds": seconds, "then": then}


def remember(*, label: str = "human", delay: float = 0.0, sticky: bool = True) -> Response:
    """Append each new user message to block ``label`` with a tool call, then reply ``ok: <message>``.

    Sticky by default: one entry serves every request, so any number of turns can run."""
    return {"type": "remember", "label": label, "delay": delay, "sticky": sticky}


def empty_choices() -> Response:
    """A 200 completion with ``"choices": []``, which a provider must reject as invalid."""
    return {"type": "empty_choices"}


# --- rendering ----------------------------------------------------------------------------------


def _estimate_usage(body: dict[str, Any], completion: str) -> dict[str, int]:
    prompt = len(json.dumps(body.get("messages", []))) // 4
    completion_tokens = len(completion) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}


QUIRKS = frozenset({"no_models", "no_usage", "tool_calls_in_content"})


def _completion(body: dict[str, Any], message: dict[str, Any], finish_reason: str,
                usage: dict[str, int] | None, quirks: frozenset[str] = frozenset()) -> dict[str, Any]:
    said = (message.get("content") or "") + json.dumps(message.get("tool_calls", []))
    if "tool_calls_in_content" in quirks and message.get("tool_calls"):
        # What a server without a tool-call parser for the model's template passes through.
        calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                 for c in message["tool_calls"]]
        message = {"role": "assistant", "content": json.dumps(calls[0] if len(calls) == 1 else calls)}
        finish_reason = "stop"
    completion = {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage or _estimate_usage(body, said),
    }
    if "no_usage" in quirks:
        del completion["usage"]
    return completion


def _wire_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    arguments = call["arguments"]
    return {
        "id": call.get("id") or f"call_{next(_ids)}",
        "type": "function",
        "function": {"name": call["name"],
                     "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
    }


async def _render(entry: Response, body: dict[str, Any], request: Request,
                  quirks: frozenset[str] = frozenset()) -> JSONResponse:
    """Turn one script entry into the HTTP response for ``body`` (as a server with ``quirks`` would)."""
    kind = entry.get("type")
    if kind == "text":
        message: dict[str, Any] = {"role": "assistant", "content": entry["content"]}
        if entry.get("reasoning") is not None:
            message["reasoning_content"] = entry["reasoning"]
        finish_reason = entry.get("finish_reason", "stop")
        return JSONResponse(_completion(body, message, finish_reason, entry.get("usage"), quirks))
    if kind == "tool_call":
        # The standalone script format allows the one-call shorthand {"name": ..., "arguments": ...}.
        calls = entry.get("calls") or [{"id": entry.get("id"), "name": entry["name"],
                                        "arguments": entry.get("arguments", {})}]
        message = {"role": "assistant", "content": entry.get("content"),
                   "tool_calls": [_wire_tool_call(c) for c in calls]}
        return JSONResponse(_completion(body, message, "tool_calls", entry.get("usage"), quirks))
    if kind == "error":
        return JSONResponse(entry.get("body"), status_code=entry["status"], headers=entry.get("headers"))
    if kind == "empty_choices":
        completion = _completion(body, {"role": "assistant", "content": ""}, "stop", None)
        completion["choices"] = []
        return JSONResponse(completion)
    if kind == "delay":
        deadline = time.monotonic() + entry["seconds"]
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                break
            await anyio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return await _render(entry.get("then") or text("delayed answer"), body, request, quirks)
    if kind == "remember":
        # A tiny deterministic agent: on a new user message, append it to a memory block; after
        # the tool result, reply quoting it. Lets many turns run from one sticky entry.
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        if entry.get("delay"):
            await anyio.sleep(entry["delay"])
        if last.get("role") == "user":
            call = {"name": "core_memory_append", "arguments": {"label": entry.get("label", "human"), "content": user}}
            return await _render({"type": "tool_call", "calls": [call]}, body, request, quirks)
        return await _render(text(f"ok: {user}"), body, request, quirks)
    return _fail(f"fake script entry has unknown type {kind!r}: {entry!r}")


def fake_embedding(text: str, dim: int = 16) -> list[float]:
    """A unit vector per text: each lower-cased word adds 1 to the bucket its crc32 picks."""
    import math
    import re
    import zlib

    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode()) % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _fail(message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "fake_script_error", "code": None}},
                        status_code=500)


# --- the server ---------------------------------------------------------------------------------


class FakeOpenAI:
    """A real HTTP server on 127.0.0.1 answering from a script, run in a background thread.

    ``port=0`` picks a free port. ``log_path``, if given, receives every chat request body as
    one JSON line (appended and flushed per request, so another process can follow it).
    ``quirks`` (names from `QUIRKS`) make it answer like a local server (see the module docstring).
    """

    def __init__(self, *, port: int = 0, log_path: str | Path | None = None, quirks: Iterable[str] = ()) -> None:
        unknown = set(quirks) - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; known: {sorted(QUIRKS)}")
        self.quirks = frozenset(quirks)
        self._port = port
        self._log_path = Path(log_path) if log_path is not None else None
        self._lock = threading.Condition()  # notified on every chat request (see `wait_for_requests`)
        self._script: deque[ScriptEntry] = deque()
        self._requests: list[dict[str, Any]] = []
        self._embedding_requests: list[dict[str, Any]] = []
        self._embedding_failures: deque[int] = deque()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every chat completions request body received so far, in order (a snapshot copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        """Every embeddings request body received so far, in order (a snapshot copy)."""
        with self._lock:
            return list(self._embedding_requests)

    async def wait_for_requests(self, count: int = 1) -> None:
        """Wait (without polling) until at least ``count`` chat requests have arrived.

        Bound it with ``anyio.fail_after``; the waiting thread gives up by itself after a minute."""

        def wait() -> bool:
            with self._lock:
                return self._lock.wait_for(lambda: len(self._requests) >= count, 60)

        if not await anyio.to_thread.run_sync(wait, abandon_on_cancel=True):
            raise TimeoutError(f"fewer than {count} chat requests arrived within 60 s")

    def fail_embeddings(self, *statuses: int) -> None:
        """Answer the next embeddings requests with these HTTP error statuses, in order."""
        with self._lock:
            self._embedding_failures.extend(statuses)

    @property
    def remaining(self) -> int:
        """How many scripted entries have not been consumed yet."""
        with self._lock:
            return len(self._script)

    def script(self, *responses: ScriptEntry) -> None:
        """Queue responses; each chat request consumes the next one."""
        with self._lock:
            self._script.extend(responses)

    def reset(self) -> None:
        """Forget the script and the recorded requests, so one running server can serve many tests."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._embedding_requests.clear()
            self._embedding_failures.clear()

    def start(self) -> None:
        """Bind the port and serve in a daemon thread; returns once the server accepts requests."""
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
        ])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(self._server, sock),
                                        name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("FakeOpenAI failed to start")
            time.sleep(0.005)

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        with sock:
            server.run(sockets=[sock])

    def stop(self) -> None:
        """Shut the server down and wait for its thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _chat_completions(self, request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "request body is not JSON"}}, status_code=400)
        with self._lock:
            self._requests.append(body)
            self._lock.notify_all()
            if self._log_path is not None:
                with self._log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(body) + "\n")
            entry = self._script[0] if self._script else None
            # A "sticky" entry answers every later request too (for scripts of unknown length).
            if entry is not None and not (isinstance(entry, dict) and entry.get("sticky")):
                self._script.popleft()
        if entry is None:
            return _fail(f"fake script exhausted: no response left for request #{len(self.requests)}")
        if callable(entry):
            try:
                entry = entry(body)
            except Exception as exc:  # report it to the client instead of a bare 500
                return _fail(f"fake script callable raised {exc!r}")
        return await _render(entry, body, request, self.quirks)

    async def _embeddings(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self._lock:
            self._embedding_requests.append(body)
            status = self._embedding_failures.popleft() if self._embedding_failures else None
        if status is not None:
            return JSONResponse({"error": {"message": f"fake embeddings failure {status}"}}, status_code=status)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        dim = int(body.get("dimensions") or 16)
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t, dim)} for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "fake-embed"),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _models(self, request: Request) -> JSONResponse:
        if "no_models" in self.quirks:
            return JSONResponse({"error": "Not Found"}, status_code=404)
        return JSONResponse({"object": "list", "data": [
            {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake-openai"}]})


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running FakeOpenAI with an empty script, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake


def load_script(path: str | Path) -> list[Response]:
    """Read a standalone script file: a JSON list of response dicts."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{path}: a script must be a JSON list of response objects")
    return entries


def main(argv: list[str] | None = None) -> None:
    """Serve a script file until SIGINT/SIGTERM; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(description="Scripted fake OpenAI-compatible server.")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free)")
    parser.add_argument("--script", type=Path, help="JSON file with a list of response objects")
    parser.add_argument("--log", type=Path, help="append each chat request body to this file as JSON lines")
    parser.add_argument("--quirk", action="append", default=[], choices=sorted(QUIRKS),
                        help="answer like a local server (repeatable)")
    args = parser.parse_args(argv)

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    with FakeOpenAI(port=args.port, log_path=args.log, quirks=args.quirk) as fake:
        if args.script is not None:
            fake.script(*load_script(args.script))
        print(fake.base_url, flush=True)
        while not stopping.wait(0.5):
            pass


if __name__ == "__main__":
    main()
