"""Letta Agent File (.af) conversion, pure (no I/O): the schema (`schema`), Letta → ours
(`from_letta`), ours → Letta (`to_letta`) and the mapping of tools between them (`tools`).
`letta_mcp.service.agent_files` does the reading and writing around it."""
