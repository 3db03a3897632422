"""Archival memory with its LanceDB index on S3-compatible object storage (a real ``moto_server``).

Passages stay in SQLite; ``lance_uri = s3://bucket/prefix`` puts the index in the bucket. The
store is probed at start-up (`letta_mcp.store.object_store`): one that would lose concurrent
commits, a missing bucket or an unreachable endpoint is refused with one line saying what to check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from archival_embedders import BagOfWords

from letta_mcp.config import Settings, load_settings
from letta_mcp.llm.scripted import ScriptedProvider
from letta_mcp.models import NewPassage
from letta_mcp.service import AgentService
from letta_mcp.store.lance import LanceIndex
from letta_mcp.store.object_store import ObjectStoreError, S3Signer
from s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Bucket

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


def s3_settings(tmp_path: Path, s3: S3Bucket, **extra: Any) -> Settings:
    return load_settings(
        overrides={
            "data_dir": str(tmp_path / "data"),
            "lance_uri": s3.uri(),
            "lance_storage_options": s3.options,
            **extra,
        },
        environ={},
    )


async def open_service(settings: Settings) -> AgentService:
    return await AgentService.open(settings, providers={"openai": ScriptedProvider()})


async def test_insert_search_delete_and_reindex_with_the_index_on_s3(tmp_path: Path, s3: S3Bucket) -> None:
    settings = s3_settings(tmp_path, s3)
    with anyio.fail_after(120):
        service = await open_service(settings)
        try:
            assert service.archival is not None
            agent = (await service.create_agent(name="a")).agent.id
            (sarah,) = await service.archival.insert(agent, "Sarah's birthday is on 12 May.", tags=["sarah"])
            (milk,) = await service.archival.insert(agent, "Bought oat milk and bread.")

            assert (await service.archival.search(agent, "when is Sarah's birthday?"))[0].passage.id == sarah.id
            await service.archival.delete(agent, milk.id)
            assert milk.id not in {h.passage.id for h in await service.archival.search(agent, "oat milk")}
            assert await service.archival.reindex() == 1
            assert (await service.archival.search(agent, "birthday"))[0].passage.id == sarah.id
        finally:
            await service.close()
    # The index is in the bucket, not in the data directory.
    assert any(key.endswith(".lance") for key in s3.keys(settings.lance_uri or ""))
    assert not (settings.data_dir / "lance").exists()


async def test_vectors_and_their_maintenance_on_s3(tmp_path: Path, s3: S3Bucket) -> None:
    settings = s3_settings(tmp_path, s3, archival_ann_threshold=1000)
    with anyio.fail_after(180):
        service = await AgentService.open(settings, providers={"openai": ScriptedProvider()}, embedder=BagOfWords())
        try:
            assert service.archival is not None
            agent = (await service.create_agent(name="a")).agent.id
            filler = [NewPassage(text=f"meeting {i} about budget line {i}") for i in range(1000)]
            await service.archival.insert_many(agent, [NewPassage(text="My puppy is called Rex."), *filler])
            await service.archival.wait_indexed()
            # A thousand vectors: optimize folds them in and builds the ANN index, in the bucket.
            memory = service.archival.memory
            await (await memory.open_index()).maintain(space=memory.space)
            hits = await service.archival.search(agent, "my dog is called rex", mode="vector", top_k=1)
        finally:
            await service.close()
    assert hits[0].passage.text == "My puppy is called Rex."
    index = await LanceIndex.open(settings.lance_target, storage_options=settings.lance_options())
    assert await index.has_ann_index(BagOfWords().name + ":64")


async def test_two_services_sharing_the_bucket_see_each_others_passages(tmp_path: Path, s3: S3Bucket) -> None:
    """Replicas: B's index, opened before A writes, still finds what A indexed (read consistency)."""
    settings = s3_settings(tmp_path, s3)
    with anyio.fail_after(120):
        a, b = await open_service(settings), await open_service(settings)
        try:
            assert a.archival is not None and b.archival is not None
            agent = (await a.create_agent(name="shared")).agent.id
            await a.archival.insert(agent, "The spare key is under the blue flowerpot.")
            await a.archival.wait_indexed()
            assert [h.passage.text for h in await b.archival.search(agent, "flowerpot")] == [
                "The spare key is under the blue flowerpot."
            ]

            (wifi,) = await a.archival.insert(agent, "The wifi password is on the fridge.")
            await a.archival.wait_indexed()  # A indexes it: B's search finds nothing pending to index itself
            assert (await b.archival.status()).fts_pending == 0
            assert (await b.archival.search(agent, "wifi password"))[0].passage.id == wifi.id
        finally:
            await a.close()
            await b.close()


async def test_the_standard_aws_variables_reach_the_store(tmp_path: Path, s3: S3Bucket) -> None:
    settings = load_settings(
        overrides={"data_dir": str(tmp_path / "data"), "lance_uri": s3.uri()},
        environ={**s3.env, "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT": s3.endpoint},
    )
    assert settings.lance_options() == s3.options
    with anyio.fail_after(120):
        service = await open_service(settings)  # this process's own environment has no AWS_* variables
        try:
            assert service.archival is not None
            agent = (await service.create_agent(name="a")).agent.id
            await service.archival.insert(agent, "Parking is on level 3.")
            assert len(await service.archival.search(agent, "parking level")) == 1
        finally:
            await service.close()
    assert s3.keys(settings.lance_uri or "")


async def test_the_config_file_overrides_the_aws_variables(tmp_path: Path, s3: S3Bucket) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'lance_uri = "{s3.uri()}"\n\n[lance_storage_options]\nendpoint = "http://127.0.0.1:9"\nregion = "eu-west-1"\n',
        encoding="utf-8",
    )
    settings = load_settings(config_file=config, overrides={"data_dir": str(tmp_path / "data")}, environ=s3.env)

    options = settings.lance_options()
    assert options["aws_endpoint"] == "http://127.0.0.1:9" and options["aws_region"] == "eu-west-1"
    assert options["aws_access_key_id"] == ACCESS_KEY_ID  # what the file leaves unset still comes from the env
    with (
        anyio.fail_after(60),
        pytest.raises(ObjectStoreError, match=r"Cannot reach the object store at http://127\.0\.0\.1:9"),
    ):
        await open_service(settings)


async def test_a_missing_bucket_is_refused_in_one_line(tmp_path: Path, s3: S3Bucket) -> None:
    settings = s3_settings(tmp_path, s3, lance_uri="s3://no-such-bucket/agents")
    with anyio.fail_after(60), pytest.raises(ObjectStoreError) as raised:
        await open_service(settings)
    message = str(raised.value)
    assert "no bucket 'no-such-bucket'" in message and "create the bucket, or correct lance_uri" in message
    assert "\n" not in message and SECRET_ACCESS_KEY not in message


class _IgnoresConditions(BaseHTTPRequestHandler):
    """An "S3-compatible" store that accepts every PUT, If-None-Match or not (it would lose commits)."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_DELETE(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def careless_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _IgnoresConditions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_a_store_that_ignores_conditional_writes_is_refused(
    tmp_path: Path, s3: S3Bucket, careless_store: str
) -> None:
    settings = s3_settings(tmp_path, s3, lance_storage_options={**s3.options, "aws_endpoint": careless_store})
    with anyio.fail_after(60), pytest.raises(ObjectStoreError, match="ignores conditional writes"):
        await open_service(settings)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LETTA_MCP_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "letta_mcp", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_reindex_command_rebuilds_the_index_on_s3(tmp_path: Path, s3: S3Bucket) -> None:
    uri = s3.uri()
    settings = load_settings(overrides={"data_dir": str(tmp_path / "data"), "lance_uri": uri}, environ=s3.env)
    with anyio.fail_after(120):
        service = await open_service(settings)
        try:
            assert service.archival is not None
            agent = (await service.create_agent(name="a")).agent.id
            for text in ("Dentist on Tuesday at 9.", "The cat is called Miso.", "Rent is due on the 1st."):
                await service.archival.insert(agent, text)
            await service.archival.wait_indexed()
        finally:
            await service.close()
    before = set(s3.keys(uri))

    env = {**s3.env, "LETTA_MCP_LANCE_URI": uri}
    result = await anyio.to_thread.run_sync(lambda: run_cli("reindex", "--data-dir", str(settings.data_dir), env=env))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Reindexed 3 archival passages" in result.stderr
    assert set(s3.keys(uri)) - before  # the tables were written again, in the bucket
    with anyio.fail_after(120):
        service = await open_service(settings)
        try:
            assert service.archival is not None
            assert (await service.archival.status()).fts_pending == 0
            assert [h.passage.text for h in await service.archival.search(agent, "cat name")][:1] == [
                "The cat is called Miso."
            ]
        finally:
            await service.close()


async def test_reindex_command_names_a_missing_bucket_without_secrets(tmp_path: Path, s3: S3Bucket) -> None:
    env = {**s3.env, "LETTA_MCP_LANCE_URI": "s3://no-such-bucket/x"}
    result = await anyio.to_thread.run_sync(lambda: run_cli("reindex", "--data-dir", str(tmp_path / "d"), env=env))

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("letta-mcp: There is no bucket 'no-such-bucket'")
    assert SECRET_ACCESS_KEY not in result.stderr + result.stdout


async def test_config_command_shows_the_endpoint_but_no_credentials(s3: S3Bucket) -> None:
    env = {**s3.env, "LETTA_MCP_LANCE_URI": s3.uri()}
    result = await anyio.to_thread.run_sync(lambda: run_cli("config", env=env))

    assert result.returncode == 0, result.stderr
    assert s3.endpoint in result.stdout and '"aws_region": "us-east-1"' in result.stdout
    assert SECRET_ACCESS_KEY not in result.stdout and ACCESS_KEY_ID not in result.stdout


def test_the_probe_signs_its_requests_as_botocore_does() -> None:
    """moto accepts any signature, so the probe's Signature V4 is checked against botocore's."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = "https://s3.eu-west-1.amazonaws.com/my-bucket/agents/.letta-mcp-probe-1"
    headers = S3Signer("AKID", "SECRET", "eu-west-1", {"aws_session_token": "TOKEN"}).headers(
        "PUT", url, b"1", {"if-none-match": "*"}
    )
    ours = headers.pop("authorization")
    del headers["host"]  # botocore adds it from the URL
    request = AWSRequest(method="PUT", url=url, data=b"1", headers=headers)
    request.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials("AKID", "SECRET", "TOKEN"), "s3", "eu-west-1")
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)

    assert ours.endswith(f", Signature={expected}")
    assert "SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date;x-amz-security-token" in ours


async def test_without_moto_the_s3_tests_fail_saying_what_to_install() -> None:
    """A missing stand-in must not pass silently as skipped S3 tests."""
    test = "tests/archival/test_object_store.py::test_a_missing_bucket_is_refused_in_one_line"
    hide_moto = "import sys; sys.modules['moto'] = None; import pytest; sys.exit(pytest.main(sys.argv[1:]))"
    command = [sys.executable, "-c", hide_moto, "-q", "-p", "no:cacheprovider", test]
    with anyio.fail_after(120):
        result = await anyio.run_process(command, cwd=ROOT, check=False)

    output = result.stdout.decode()
    assert result.returncode == 1, output
    assert "1 error" in output and "skipped" not in output
    assert "install the dev extra (pip install -e '.[dev]', which includes moto[server])" in output
