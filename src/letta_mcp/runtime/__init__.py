"""The agent: step loop, built-in agent tools, memory compilation, block edits.

Never imports `mcp`; talks to models through `llm/` and to state through `store/`.
"""

from letta_mcp.runtime.loop import AgentLoop, TurnResult

__all__ = ["AgentLoop", "TurnResult"]
