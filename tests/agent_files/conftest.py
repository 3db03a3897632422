"""The Agent File tests reuse the MCP result helpers of tests/server (`mcp_helpers`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))
