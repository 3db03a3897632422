"""The stdio transport's reader: lines of a real pipe, whatever pieces they arrive in."""

from __future__ import annotations

import os
import threading

import anyio
import pytest

from letta_mcp.server.stdio import StdinLines

pytestmark = pytest.mark.anyio


async def test_lines_arrive_whole_and_the_end_of_input_ends_them() -> None:
    read_fd, write_fd = os.pipe()
    long_line = "x" * 300_000  # several reads' worth, more than a pipe holds

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(b'{"a": 1}\n')
            pipe.write(long_line.encode() + b"\n")
            pipe.write("caf\u00e9\n".encode())
            pipe.write(b"no newline at the end")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with anyio.fail_after(30):
            lines = [line async for line in StdinLines(read_fd)]
    finally:
        writer.join()
        os.close(read_fd)
    assert lines == ['{"a": 1}\n', long_line + "\n", "caf\u00e9\n", "no newline at the end"]
