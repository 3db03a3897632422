"""An OpenAI-compatible chat completions server that answers instantly, for end-to-end timings.

    python benchmarks/instant_openai.py [--port 0]

prints its base URL (``http://127.0.0.1:PORT/v1``) as the first stdout line and serves until
SIGTERM/SIGINT. Every ``POST .../chat/completions`` gets the same short text answer (``ok``);
``prompt_tokens`` is the request body's size / 4, so the server's token calibration sees a
plausible ratio. The request body is read but never parsed: this process must cost as little as
possible, so that a benchmark times letta-mcp and the ``openai`` client, not the model.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) for the ``openai`` client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

REPLY = "ok"
_COMPLETION = {
    "id": "chatcmpl-instant",
    "object": "chat.completion",
    "created": 0,
    "model": "instant",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
}


def _response(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _completion(request_bytes: int) -> bytes:
    prompt = request_bytes // 4
    usage = {"prompt_tokens": prompt, "completion_tokens": 1, "total_tokens": prompt + 1}
    return _response("200 OK", json.dumps(_COMPLETION | {"usage": usage}).encode())


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            if request_line.startswith("POST ") and "/chat/completions" in request_line:
                writer.write(_completion(length))
            else:
                writer.write(_response("404 Not Found", b'{"error": {"message": "only chat completions here"}}'))
            await writer.drain()
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{bound}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    asyncio.run(main(parser.parse_args().port))
