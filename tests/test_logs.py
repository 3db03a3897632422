"""What ``letta-mcp serve`` logs at the default level: its own lines, not every library's."""

from __future__ import annotations

from pathlib import Path

from fake_openai import FakeOpenAI, text
from terminal import call, handshake, spawn_server, stop_with_ctrl_c


def test_a_model_call_logs_no_http_client_line(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(text("Hi Sarah"))
    child = spawn_server(tmp_path / "data", OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_openai.base_url)
    try:
        handshake(child)
        created = call(child, 2, "tools/call", {"name": "create_agent", "arguments": {"name": "sam"}})
        arguments = {"agent_id": created["structuredContent"]["id"], "message": "Hello"}
        sent = call(child, 3, "tools/call", {"name": "send_message", "arguments": arguments})
        assert sent["structuredContent"]["reply"] == "Hi Sarah"
        output = child.before + child.after + stop_with_ctrl_c(child)
    finally:
        child.close(force=True)
    assert len(fake_openai.requests) == 1  # the model was called over HTTP…
    assert " httpx" not in output  # …and the HTTP client (httpx, httpx2) said nothing about it
    assert "HTTP Request" not in output


def test_http_server_lines_are_not_labelled_as_errors(tmp_path: Path) -> None:
    child = spawn_server(tmp_path / "data", "--transport", "streamable-http", "--port", "0")
    try:
        child.expect(r"INFO (\S+): Application startup complete")
        assert child.match.group(1) == "uvicorn"
        output = child.before + child.after + stop_with_ctrl_c(child)
    finally:
        child.close(force=True)
    assert "uvicorn.error" not in output
    assert "uvicorn: Shutting down" in output
