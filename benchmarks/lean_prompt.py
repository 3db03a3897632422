"""How big is a default agent's fixed prompt? The sections of `get_context` and real token counts.

    python benchmarks/lean_prompt.py [--source SRC]

Creates a default agent (scripted model, temporary data directory), sends one message and prints
JSON: `get_context`'s sections for the fixed part (no messages), then the request the model was
sent (system message and tools only) counted with the o200k and cl100k vocabularies two ways: as
OpenAI bills a chat request with tools (tests/runtime/test_lean_prompt.py), and as the raw JSON
body, which is what a chat template that dumps the tools as JSON puts in front of a local model.
``--source`` measures the code in another source directory (e.g. an older commit's ``src``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import anyio
import bpe_openai

ENCODINGS = ("o200k_base", "cl100k_base")


async def measure() -> dict[str, object]:
    from letta_mcp.config import load_settings
    from letta_mcp.llm.openai_wire import WireEncoder
    from letta_mcp.llm.scripted import ScriptedProvider, reply
    from letta_mcp.service import AgentService

    sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "runtime"))
    from test_lean_prompt import _openai_prompt_tokens

    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(overrides={"data_dir": data}, environ={})
        scripted = ScriptedProvider(default=reply("Hi!"))
        service = await AgentService.open(settings, providers={"openai": scripted})
        try:
            agent = (await service.create_agent(name="lean")).agent
            await service.send_message(agent.id, "Hi")
            context = await service.get_context(agent.id)
        finally:
            await service.close()
    sections = {s.name: s.tokens for s in context.sections if s.name not in ("messages", "summary")}
    request = scripted.requests[0]
    fixed = request.model_copy(update={"messages": request.messages[:1]})
    body = WireEncoder().body(fixed).decode()
    return {
        "get_context": {**sections, "total": sum(sections.values())},
        "openai_count": {e: _openai_prompt_tokens(fixed, e) for e in ENCODINGS},
        "json_body": {e: len(bpe_openai.get_encoding(e).encode(body)) for e in ENCODINGS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", help="measure the letta_mcp package under this directory instead")
    args = parser.parse_args()
    if args.source:
        sys.path.insert(0, args.source)
    print(json.dumps(anyio.run(measure), indent=2))


if __name__ == "__main__":
    main()
