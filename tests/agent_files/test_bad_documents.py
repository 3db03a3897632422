"""Bad, oversized or malformed Agent Files: a clear error, and nothing written."""

from __future__ import annotations

import json

import anyio
import pytest
from af_helpers import document, fixture
from mcp_helpers import snapshot

from letta_mcp.service import AgentService, InvalidRequestError
from letta_mcp.service.agentfile.parse import MAX_DOCUMENT_BYTES

pytestmark = pytest.mark.anyio


async def _refused(service: AgentService, raw: str | bytes, *expected: str) -> None:
    with anyio.fail_after(10):
        before = await snapshot(service)
        with pytest.raises(InvalidRequestError) as e:
            await service.import_agent(raw)
        assert await snapshot(service) == before
    for text in expected:
        assert text in str(e.value), str(e.value)


async def test_oversized_document_is_refused_before_parsing(service: AgentService) -> None:
    await _refused(service, b" " * (MAX_DOCUMENT_BYTES + 1), "at most", "messages='in_context'")


async def test_not_json(service: AgentService) -> None:
    await _refused(service, "{'agents': []", "not valid JSON")


async def test_not_an_agent_file(service: AgentService) -> None:
    await _refused(service, json.dumps({"name": "x"}), "not a Letta Agent File", "'agents' list")


async def test_schema_error_is_located(service: AgentService) -> None:
    doc = await document(fixture("evie.af"))
    doc["blocks"][3]["limit"] = "lots"
    await _refused(service, json.dumps(doc), "blocks.3.limit")


async def test_dangling_reference_writes_nothing(service: AgentService) -> None:
    doc = await document(fixture("evie.af"))
    doc["agents"][1]["block_ids"].append("block-999")  # the second agent: the first was already planned
    await _refused(service, json.dumps(doc), "block 'block-999'", "does not contain")


async def test_failure_inside_the_write_rolls_everything_back(service: AgentService) -> None:
    doc = await document(fixture("evie.af"))
    # a passage only the archival engine rejects (too many tags), on the second agent:
    # the first agent, the shared blocks and the history were already written in the transaction
    doc["letta_mcp"] = {"agents": {"agent-1": {"passages": [{"text": "x", "tags": [f"t{i}" for i in range(60)]}]}}}
    await _refused(service, json.dumps(doc), "archival passage", "tags")


async def test_legacy_group_is_refused_with_the_legacy_message(service: AgentService) -> None:
    doc = await document(fixture("letta_memgpt_agent_with_convo.af"))
    doc["multi_agent_group"] = {"manager_type": "supervisor"}
    await _refused(service, json.dumps(doc), "Legacy format (v1)", "multi_agent_group")


async def test_legacy_context_index_out_of_range(service: AgentService) -> None:
    doc = await document(fixture("letta_memgpt_agent_with_convo.af"))
    doc["in_context_message_indices"].append(5000)
    await _refused(service, json.dumps(doc), "Legacy format (v1)", "5000")


async def test_duplicate_labels_on_one_agent(service: AgentService) -> None:
    doc = await document(fixture("memgpt_agent.af"))
    doc["blocks"][1]["label"] = doc["blocks"][0]["label"]
    await _refused(service, json.dumps(doc), "two blocks labelled")


async def test_bad_tool_rule(service: AgentService) -> None:
    doc = await document(fixture("co-3.af"))
    doc["agents"][0]["tool_rules"].append({"type": "exit_loop"})
    await _refused(service, json.dumps(doc), "tool_rules", "tool_name")
