"""Dense retrieval: the :class:`Embedder` protocol, two embedders, and vector helpers.

* :class:`OpenAIEmbedder` calls any OpenAI-compatible ``POST {base_url}/embeddings``
  (OpenAI, vLLM, llama.cpp, Ollama, …) through httpx, with the retry policy of
  :mod:`thinktank.llm.retry`.
* :class:`HashingEmbedder` is deterministic and local (hashed bag of stemmed
  words, signed, sublinear tf, L2-normalised): good enough to test hybrid ranking
  without a model, and a usable fallback offline.

Vectors are stored as float32 blobs next to the items (see
:mod:`thinktank.memory.sqlite`); similarity is the cosine of L2-normalised rows.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx
import numpy as np
import numpy.typing as npt

from thinktank.errors import MissingCredential, UsageError
from thinktank.llm.retry import RETRYABLE_STATUS, RetryableError, RetryPolicy, call_with_retries
from thinktank.memory.errors import EmbeddingError
from thinktank.memory.text import stable_hash, terms

Matrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. ``model_id`` names the vector space (stored with each vector)."""

    model_id: str

    async def embed(self, texts: Sequence[str]) -> Matrix:
        """A ``(len(texts), dim)`` float32 array, one row per text."""
        ...


def normalize_rows(m: Matrix) -> Matrix:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32, copy=False)


def to_blob(vec: npt.NDArray[Any]) -> bytes:
    return np.asarray(vec, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> Matrix:
    return np.frombuffer(blob, dtype=np.float32)


def cosine_top_k(
    matrix: Matrix, query: Matrix, k: int, mask: npt.NDArray[np.bool_] | None = None
) -> tuple[npt.NDArray[np.intp], Matrix]:
    """Row indices and cosines of the ``k`` rows of a row-normalised ``matrix`` nearest ``query``."""
    if matrix.shape[0] == 0 or k <= 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
    q = query.astype(np.float32).ravel()
    n = float(np.linalg.norm(q))
    sims = matrix @ (q / n if n else q)
    if mask is not None:
        sims = np.where(mask, sims, -np.inf).astype(np.float32)
    k = min(k, sims.shape[0])
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    keep = np.isfinite(sims[top])
    return top[keep], sims[top][keep].astype(np.float32)


class HashingEmbedder:
    """Deterministic hashed bag-of-words vectors (feature hashing with a sign bit)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model_id = f"hashing-{dim}"

    def embed_one(self, text: str) -> Matrix:
        v = np.zeros(self.dim, dtype=np.float32)
        for term, count in Counter(terms(text)).items():
            h = stable_hash(term)
            v[h % self.dim] += (1.0 if (h >> 31) & 1 else -1.0) * (1.0 + math.log(count))
        n = float(np.linalg.norm(v))
        return v / n if n else v

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed_one(t) for t in texts])


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        dimensions: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        self.model_id = f"{model}@{self.base_url}" + (f"#{dimensions}" if dimensions else "")
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self.retry = retry or RetryPolicy()
        self._client = http_client
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        host = urlsplit(self.base_url).hostname or ""
        if not key and host == "api.openai.com":
            raise MissingCredential(
                f"embedding model {model!r} needs an API key: set the {api_key_env} environment variable"
            )
        self._key = key or "not-needed"
        if os.environ.get("THINKTANK_LOOPBACK_ONLY") == "1" and http_client is None:
            from thinktank.llm.connection import is_loopback_url

            if not is_loopback_url(self.base_url):
                raise UsageError(
                    f"THINKTANK_LOOPBACK_ONLY=1 forbids the non-loopback endpoint {self.base_url}"
                )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIEmbedder(model={self.model!r}, base_url={self.base_url!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is not None:
            return self._client
        # A fresh client per call keeps the embedder usable from any event loop
        # (sync wrappers run a new loop each time).
        return httpx.AsyncClient(timeout=self.timeout)

    async def embed(self, texts: Sequence[str]) -> Matrix:
        rows: list[Matrix] = []
        client = self._http()
        try:
            for i in range(0, len(texts), self.batch_size):
                rows.append(await self._batch(client, list(texts[i : i + self.batch_size])))
        finally:
            if client is not self._client:
                await client.aclose()
        if not rows:
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        return np.concatenate(rows)

    async def _batch(self, client: httpx.AsyncClient, batch: list[str]) -> Matrix:
        body: dict[str, Any] = {"model": self.model, "input": batch}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        url = f"{self.base_url}/embeddings"

        async def attempt() -> Any:
            try:
                resp = await client.post(
                    url, json=body, headers={"Authorization": f"Bearer {self._key}"}
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise RetryableError(exc) from exc
            if resp.status_code in RETRYABLE_STATUS:
                from thinktank.llm.retry import parse_retry_after

                raise RetryableError(
                    EmbeddingError(f"{url} answered HTTP {resp.status_code}: {resp.text[:200]}"),
                    parse_retry_after(resp.headers),
                )
            if resp.status_code >= 400:
                raise EmbeddingError(
                    f"{url} refused the embeddings request (HTTP {resp.status_code}): {resp.text[:300]}"
                )
            try:
                return resp.json()
            except ValueError as exc:
                raise RetryableError(
                    EmbeddingError(f"{url} returned a body that is not JSON: {resp.text[:200]!r}")
                ) from exc

        try:
            data = await call_with_retries(attempt, self.retry)
        except RetryableError as exc:
            raise EmbeddingError(
                f"embeddings from {url} failed after {self.retry.max_retries + 1} attempts: {exc.cause}"
            ) from exc.cause
        try:
            items = sorted(data["data"], key=lambda d: d.get("index", 0))
            m = np.asarray([d["embedding"] for d in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"{url} returned no usable 'data[].embedding': {exc}") from exc
        if m.ndim != 2 or m.shape[0] != len(batch):
            raise EmbeddingError(f"{url} returned {m.shape[0]} vectors for {len(batch)} inputs")
        return m
