"""A real S3 stand-in for the tests: ``moto_server`` (the ``moto[server]`` dev dependency) as a
subprocess on a free loopback port, with one bucket, for the whole session.

`S3Bucket` gives each test a fresh prefix (``s3.uri()``), the storage options that reach it, and
the same as the standard ``AWS_*`` variables. With ``LETTA_MCP_TEST_LANCE_S3=1`` the shared
``settings`` fixture (tests/conftest.py) puts every test's LanceDB index there.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 60.0
BUCKET = "letta-mcp-test"
_LISTENING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
# moto accepts any credentials; these only prove that the ones configured are the ones sent.
ACCESS_KEY_ID = "AKIATESTLETTAMCP0001"
SECRET_ACCESS_KEY = "test-secret-c2VjcmV0LW5ldmVyLXNob3du"


@dataclass(frozen=True)
class S3Bucket:
    """The session's bucket on the stand-in."""

    endpoint: str
    bucket: str = BUCKET

    def uri(self, prefix: str | None = None) -> str:
        """``s3://bucket/<prefix>``: a fresh prefix unless one is given."""
        return f"s3://{self.bucket}/{prefix or 'lance-' + uuid.uuid4().hex[:12]}"

    @property
    def options(self) -> dict[str, str]:
        """Storage options (LanceDB's names) that reach the stand-in."""
        return {
            "aws_endpoint": self.endpoint,
            "allow_http": "true",
            "aws_region": "us-east-1",
            "aws_access_key_id": ACCESS_KEY_ID,
            "aws_secret_access_key": SECRET_ACCESS_KEY,
        }

    @property
    def env(self) -> dict[str, str]:
        """The same, as the standard variables other S3 tools read."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def keys(self, uri: str) -> list[str]:
        """The object keys stored under ``uri``'s prefix."""
        prefix = uri.removeprefix(f"s3://{self.bucket}/") + "/"
        found: list[str] = []
        for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return found

    def _client(self) -> Any:  # a boto3 S3 client (boto3 ships no type hints)
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )


def _moto_server() -> Path:
    try:
        import moto  # noqa: F401
    except ImportError:
        pytest.fail(
            "The S3 tests need moto_server: install the dev extra (pip install -e '.[dev]', which includes "
            "moto[server]).",
            pytrace=False,
        )
    script = Path(sys.executable).with_name("moto_server")
    if not script.exists():
        pytest.fail(f"moto is installed but {script} is missing: reinstall moto[server].", pytrace=False)
    return script


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Bucket]:
    """``moto_server`` on a free loopback port with the session's bucket; stopped after the session."""
    process = subprocess.Popen(
        [str(_moto_server()), "-H", "127.0.0.1", "-p", "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    lines: list[str] = []
    endpoint: list[str] = []
    listening = threading.Event()

    def drain() -> None:  # keep reading so the server never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not endpoint and (match := _LISTENING.search(line)):
                endpoint.append(match.group(1))
                listening.set()
        listening.set()

    reader = threading.Thread(target=drain, name="moto-output", daemon=True)
    reader.start()
    try:
        if not listening.wait(START_TIMEOUT_S) or not endpoint:
            raise RuntimeError("moto_server did not start:\n" + "".join(lines))
        bucket = S3Bucket(endpoint[0])
        bucket._client().create_bucket(Bucket=bucket.bucket)  # werkzeug prints the line once it listens
        yield bucket
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        reader.join(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
