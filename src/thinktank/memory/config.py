"""Configuration of memory banks and embedders (pydantic, ``type``-discriminated).

``SQLiteMemoryConfig(...).build()`` returns a ready :class:`~thinktank.memory.sqlite.SQLiteMemoryBank`;
:func:`parse_memory_config` turns a plain dict (YAML, JSON) into a config and
names the valid ``type`` values when it is unknown.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.memory.base import ItemLimits

if TYPE_CHECKING:
    from thinktank.memory.embeddings import HashingEmbedder, OpenAIEmbedder
    from thinktank.memory.sqlite import SQLiteMemoryBank


def default_memory_path() -> Path:
    """``$THINKTANK_MEMORY``, else ``$XDG_DATA_HOME/thinktank/memory.sqlite`` (``~/.local/share``)."""
    env = os.environ.get("THINKTANK_MEMORY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "thinktank" / "memory.sqlite"


class RankingPolicy(StrictModel):
    """How retrieval scores items."""

    mode: Literal["auto", "bm25", "dense", "hybrid"] = "auto"
    """``auto`` is ``hybrid`` when an embedder is configured, else ``bm25``."""
    track_record_weight: float = Field(default=0.2, ge=0.0, le=1.0)
    """Weight of the item's posterior success rate in its score: ``(1-w)·relevance + w·rate``; 0 ranks by relevance only."""
    prior_success: float = Field(default=1.0, gt=0)
    """Beta prior pseudo-successes of the success rate (an unused item scores ``a/(a+b)``)."""
    prior_failure: float = Field(default=1.0, gt=0)
    """Beta prior pseudo-failures of the success rate."""
    demoted_penalty: float = Field(default=0.5, ge=0.0, le=1.0)
    """Factor applied to a demoted item's score."""
    candidates: int = Field(default=50, ge=1)
    """Candidates fetched from each retriever before re-ranking (at least ``k``)."""
    posting_budget: int = Field(default=4_000, ge=1)
    """Query terms are kept rarest first while their summed document frequencies fit this
    budget. It bounds BM25 work (about 1 µs per posting) at any bank size; below ~10k items
    it rarely drops a term, on 100k-item banks long queries lose some recall (raise it)."""
    max_query_terms: int = Field(default=32, ge=1)
    """Most distinct terms a query keeps."""
    bm25_weights: tuple[float, float, float, float] = (2.0, 1.0, 1.0, 2.0)
    """BM25 weights of title, description, content and tags."""
    rrf_k: int = Field(default=60, ge=1)
    """Constant of reciprocal rank fusion (hybrid mode): ``Σ 1/(rrf_k + rank)``."""


class ConsolidationPolicy(StrictModel):
    """What :meth:`~thinktank.memory.base.MemoryBank.consolidate` merges, demotes and evicts."""

    duplicate_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    """Token-set Jaccard similarity of title+content at which two items of the same kind and
    domain are near-duplicates and merged."""
    demote_min_failures: int = Field(default=3, ge=1)
    """Failures an item needs before it can be demoted."""
    failure_share: float = Field(default=0.75, gt=0.0, le=1.0)
    """Share of its uses that failed at which an item counts as a repeat failure."""
    evict_min_failures: int = Field(default=6, ge=1)
    """A demoted item still a repeat failure with at least this many failures is evicted."""


class HashingEmbeddingConfig(StrictModel):
    """Deterministic local embeddings (hashed bag of words); no model, no network."""

    type: Literal["hashing"] = "hashing"
    dim: int = Field(default=256, ge=8)
    """Vector dimension."""

    def build(self) -> HashingEmbedder:
        from thinktank.memory.embeddings import HashingEmbedder

        return HashingEmbedder(dim=self.dim)


class OpenAIEmbeddingConfig(StrictModel):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, llama.cpp, Ollama)."""

    type: Literal["openai"] = "openai"
    model: str
    """Embedding model name as the endpoint knows it."""
    base_url: str | None = None
    """Endpoint root ending in ``/v1``; default ``OPENAI_BASE_URL`` or OpenAI's API."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key (keys are never stored in configs)."""
    dimensions: int | None = Field(default=None, ge=1)
    """Requested vector size, for models that support shortening."""
    batch_size: int = Field(default=64, ge=1)
    """Texts per request."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Timeout of one request."""
    max_retries: int = Field(default=4, ge=0)
    """Retries of a failed request (429, 5xx, connection errors)."""

    def build(self) -> OpenAIEmbedder:
        from thinktank.llm.retry import RetryPolicy
        from thinktank.memory.embeddings import OpenAIEmbedder

        return OpenAIEmbedder(
            self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            dimensions=self.dimensions,
            batch_size=self.batch_size,
            timeout_s=self.timeout_s,
            retry=RetryPolicy(max_retries=self.max_retries),
        )


EmbeddingConfig = Annotated[
    HashingEmbeddingConfig | OpenAIEmbeddingConfig, Field(discriminator="type")
]


class SQLiteMemoryConfig(StrictModel):
    """The embedded default memory bank: one SQLite file (WAL), BM25 via FTS5, optional vectors."""

    type: Literal["sqlite"] = "sqlite"
    path: str | None = None
    """Database file; default :func:`default_memory_path`. ``:memory:`` keeps it in RAM."""
    max_items: int | None = Field(default=100_000, ge=1)
    """Size cap; when an add goes over it, items are evicted by the documented rule
    (demoted first, then lowest posterior success rate, then least recently active)."""
    dense: EmbeddingConfig | None = None
    """Embedder for dense retrieval; vectors are kept in the same file. None: BM25 only."""
    ranking: RankingPolicy = Field(default_factory=RankingPolicy)
    """Retrieval scoring."""
    consolidation: ConsolidationPolicy = Field(default_factory=ConsolidationPolicy)
    """Merge, demotion and eviction thresholds."""
    limits: ItemLimits = Field(default_factory=ItemLimits)
    """Size caps of one item."""
    busy_timeout_s: float = Field(default=30.0, gt=0)
    """How long a write waits for other writers before :class:`~thinktank.memory.errors.MemoryBusy`."""
    create: bool = True
    """Create the file when missing (else :class:`~thinktank.memory.errors.MemoryBankNotFound`)."""

    def build(self) -> SQLiteMemoryBank:
        from thinktank.memory.sqlite import SQLiteMemoryBank

        return SQLiteMemoryBank(
            self.path if self.path is not None else default_memory_path(),
            max_items=self.max_items,
            embedder=self.dense.build() if self.dense is not None else None,
            ranking=self.ranking,
            consolidation=self.consolidation,
            limits=self.limits,
            busy_timeout_s=self.busy_timeout_s,
            create=self.create,
        )


MemoryConfig = SQLiteMemoryConfig
"""Every memory backend's config (one today; a discriminated union as more arrive)."""

_BACKENDS: dict[str, type[BaseModel]] = {"sqlite": SQLiteMemoryConfig}
_EMBEDDING_ADAPTER: TypeAdapter[HashingEmbeddingConfig | OpenAIEmbeddingConfig] = TypeAdapter(
    EmbeddingConfig
)


def parse_memory_config(data: dict[str, Any] | MemoryConfig) -> MemoryConfig:
    """Validate a memory config dict; an unknown ``type`` lists the valid ones."""
    if isinstance(data, SQLiteMemoryConfig):
        return data
    kind = data.get("type", "sqlite")
    if kind not in _BACKENDS:
        raise ConfigError(
            f"unknown memory backend type {kind!r}; valid types: {', '.join(sorted(_BACKENDS))}"
        )
    try:
        return SQLiteMemoryConfig.model_validate({**data, "type": kind})
    except ValidationError as exc:
        raise ConfigError(f"invalid memory config: {exc}") from exc


def parse_embedding_config(
    data: dict[str, Any],
) -> HashingEmbeddingConfig | OpenAIEmbeddingConfig:
    """Validate an embedder config dict; an unknown ``type`` lists the valid ones."""
    valid = ("hashing", "openai")
    if data.get("type") not in valid:
        raise ConfigError(
            f"unknown embedding type {data.get('type')!r}; valid types: {', '.join(valid)}"
        )
    try:
        return _EMBEDDING_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid embedding config: {exc}") from exc
