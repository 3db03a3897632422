"""`letta-mcp ui`: only the inspector, over a data directory another process may be serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from letta_mcp.server.auth import hash_token

pytestmark = pytest.mark.timeout(60)


def test_ui_command_prints_its_url_and_serves_only_the_inspector(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[auth.tokens]\n"{hash_token("a" * 32)}" = "alice"\n', encoding="utf-8")
    command = [sys.executable, "-m", "letta_mcp", "ui", "--data-dir", str(tmp_path / "data"), "--port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETTA_MCP_")}
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--config", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the socket listens: requests queue until served
        assert line.startswith("letta-mcp inspector: http://127.0.0.1:"), log.read_text()
        url = line.split(": ", 1)[1].strip()
        base = url.removesuffix("/ui/")
        with httpx2.Client(timeout=10) as http:
            page = http.get(url)
            assert page.status_code == 200 and "letta-mcp inspector" in page.text
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert http.get(f"{url}api/session").status_code == 401
            session = http.get(f"{url}api/session", headers={"Authorization": "Bearer " + "a" * 32})
            assert session.json()["principal"] == "alice"
            assert http.get(f"{base}/mcp").status_code == 404
            assert http.get(f"{url}api/session", headers={"Host": "evil.example"}).status_code == 421
    finally:
        process.terminate()
        process.wait(timeout=15)
        process.stdout.close()
