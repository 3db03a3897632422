"""Letta Agent File (.af) conversion, pure (no I/O): `schema` (the documents as pydantic models),
`parse` (reading a document, v1 rewritten as v2), `from_letta` (planning an import: fresh ids,
blocks, tools, groups) with `history` (messages), `to_letta` (our agents as a v2 document),
`tools` (which Letta tools map to ours) and `errors`. `letta_mcp.service.agent_files` does the
reading and writing around it."""
