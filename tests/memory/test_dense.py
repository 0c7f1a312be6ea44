"""Dense and hybrid retrieval, embedders (local and over HTTP), and configs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.memory._bank import QUERIES, fixture_items
from thinktank.errors import ConfigError, UsageError
from thinktank.llm.retry import RetryPolicy
from thinktank.memory import (
    HashingEmbedder,
    MemoryFilter,
    MemoryItem,
    OpenAIEmbedder,
    RankingPolicy,
    SQLiteMemoryBank,
    SQLiteMemoryConfig,
)
from thinktank.memory._rank import reciprocal_rank_fusion
from thinktank.memory.config import (
    HashingEmbeddingConfig,
    parse_embedding_config,
    parse_memory_config,
)
from thinktank.memory.embeddings import cosine_top_k
from thinktank.memory.errors import EmbeddingError


async def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    a, b = HashingEmbedder(64), HashingEmbedder(64)
    texts = ["retry failed fetches", "Retrying a failed fetch", "geometry with coordinates"]
    va, vb = await a.embed(texts), await b.embed(texts)
    assert va.shape == (3, 64) and va.dtype == np.float32
    assert np.array_equal(va, vb)
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0)
    assert va[0] @ va[1] > 0.99 > va[0] @ va[2]  # same stems, different topic
    assert (await a.embed([])).shape == (0, 64)


def test_cosine_top_k_and_rrf() -> None:
    m = np.eye(4, dtype=np.float32)
    idx, sims = cosine_top_k(m, np.array([0.1, 0.9, 0.0, 0.5], dtype=np.float32), 2)
    assert list(idx) == [1, 3] and sims[0] > sims[1]
    idx, _ = cosine_top_k(m, np.ones(4, dtype=np.float32), 5, mask=np.array([1, 0, 1, 0], bool))
    assert sorted(idx) == [0, 2]
    fused = reciprocal_rank_fusion([[10, 20, 30], [30, 40, 50]], k=60)
    assert fused[30] == 1.0 and fused[10] > fused[20] == fused[40] > fused[50]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
async def test_dense_and_hybrid_retrieval_on_the_fixture_bank(tmp_path: Path, mode: str) -> None:
    bank = SQLiteMemoryBank(
        tmp_path / "m.sqlite",
        embedder=HashingEmbedder(512),
        ranking=RankingPolicy(mode=mode),  # type: ignore[arg-type]
    )
    await bank.add(fixture_items())
    found = 0
    for query, title in QUERIES.items():
        found += title in [h.title for h in await bank.retrieve(query, k=3)]
    assert found >= len(QUERIES) - (2 if mode == "dense" else 0)
    hits = await bank.retrieve("python", k=5, filters=MemoryFilter(kinds="snippet"))
    assert hits and all(h.kind == "snippet" for h in hits)
    bank.close()


async def test_vector_cache_sees_writes_from_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    emb = HashingEmbedder(128)
    reader = SQLiteMemoryBank(path, embedder=emb, ranking=RankingPolicy(mode="dense"))
    writer = SQLiteMemoryBank(path, embedder=emb)
    await writer.add([MemoryItem(id="a", title="Sort stably", content="Use a stable sort.")])
    assert [h.id for h in await reader.retrieve("stable sort", k=1)] == ["a"]
    await writer.add([MemoryItem(id="b", title="Parse dates", content="Parse ISO dates strictly.")])
    assert [h.id for h in await reader.retrieve("parse ISO dates", k=1)] == ["b"]
    await writer.delete(["b"])
    assert [h.id for h in await reader.retrieve("parse ISO dates", k=1)] == ["a"]
    reader.close()
    writer.close()


async def test_embed_missing_backfills_vectors(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    plain = SQLiteMemoryBank(path)
    await plain.add(fixture_items()[:10])
    plain.close()
    dense = SQLiteMemoryBank(path, embedder=HashingEmbedder(), ranking=RankingPolicy(mode="dense"))
    assert await dense.retrieve("modular arithmetic", k=1) == []
    assert await dense.embed_missing(batch_size=4) == 10
    assert await dense.embed_missing() == 0
    assert (await dense.retrieve("modular arithmetic", k=1))[0].id == "fx000"
    dense.close()


def _embeddings_endpoint(calls: list[dict[str, object]], fail_first: int = 0):  # type: ignore[no-untyped-def]
    local = HashingEmbedder(256)

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        if len(calls) <= fail_first:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"error": "slow down"})
        inputs = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": local.embed_one(t).tolist()}
            for i, t in enumerate(inputs)
        ]
        return httpx.Response(
            200, json={"object": "list", "data": data[::-1], "model": body["model"]}
        )

    return handler


async def test_openai_embedder_over_http(tmp_path: Path) -> None:
    calls: list[dict[str, object]] = []
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(_embeddings_endpoint(calls, fail_first=1))
    )
    emb = OpenAIEmbedder(
        "text-embed", base_url="http://127.0.0.1:9/v1", batch_size=20, http_client=client,
        retry=RetryPolicy(max_retries=2, initial_s=0.0),
    )  # fmt: skip
    bank = SQLiteMemoryBank(
        tmp_path / "m.sqlite", embedder=emb, ranking=RankingPolicy(mode="dense")
    )
    await bank.add(fixture_items())
    assert (
        calls[0]["model"] == "text-embed" and len(calls) == 1 + 3
    )  # one 429 retried, 50 in 3 batches
    hit = (await bank.retrieve("python recursion depth exceeded", k=1))[0]
    assert hit.title == "Recursion limit in deep recursion"
    assert "127.0.0.1" in emb.model_id and "key" not in repr(emb).lower()
    bank.close()
    await client.aclose()


async def test_openai_embedder_errors() -> None:
    def bad(status: int, body: object):  # type: ignore[no-untyped-def]
        return httpx.AsyncClient(
            transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body))
        )

    fast = RetryPolicy(max_retries=1, initial_s=0.0)
    url = "http://127.0.0.1:9/v1"
    with pytest.raises(EmbeddingError, match="HTTP 400"):
        await OpenAIEmbedder("m", base_url=url, http_client=bad(400, {"error": "no"})).embed(["x"])
    with pytest.raises(EmbeddingError, match="after 2 attempts"):
        await OpenAIEmbedder("m", base_url=url, http_client=bad(503, {}), retry=fast).embed(["x"])
    with pytest.raises(EmbeddingError, match="1 vectors for 2 inputs"):
        body = {"data": [{"index": 0, "embedding": [1.0, 0.0]}]}
        await OpenAIEmbedder("m", base_url=url, http_client=bad(200, body)).embed(["x", "y"])
    with pytest.raises(EmbeddingError, match="no usable"):
        await OpenAIEmbedder("m", base_url=url, http_client=bad(200, {"x": 1})).embed(["x"])
    with pytest.raises(UsageError, match="LOOPBACK"):
        OpenAIEmbedder("m", base_url="http://example.com/v1")


def test_configs(tmp_path: Path) -> None:
    cfg = SQLiteMemoryConfig(
        path=str(tmp_path / "m.sqlite"), max_items=10, dense=HashingEmbeddingConfig(dim=64)
    )
    bank = cfg.build()
    assert bank.max_items == 10 and isinstance(bank.embedder, HashingEmbedder)
    bank.close()
    parsed = parse_memory_config({"path": str(tmp_path / "x.sqlite"), "dense": {"type": "hashing"}})
    assert parsed.dense is not None and parsed.dense.type == "hashing"
    with pytest.raises(ConfigError, match="valid types: sqlite"):
        parse_memory_config({"type": "redis"})
    with pytest.raises(ConfigError, match="invalid memory config"):
        parse_memory_config({"path": "x", "colour": "red"})
    with pytest.raises(ConfigError, match="valid types: hashing, openai"):
        parse_embedding_config({"type": "cohere"})
    assert parse_embedding_config({"type": "openai", "model": "m"}).batch_size == 64
    no_embedder = SQLiteMemoryBank(tmp_path / "y.sqlite", ranking=RankingPolicy(mode="dense"))
    with pytest.raises(ConfigError, match="needs an embedder"):
        no_embedder.retrieve_sync("x")
    no_embedder.close()


def test_default_path_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from thinktank.memory import default_memory_path

    monkeypatch.setenv("THINKTANK_MEMORY", str(tmp_path / "env.sqlite"))
    assert default_memory_path() == tmp_path / "env.sqlite"
    monkeypatch.delenv("THINKTANK_MEMORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_memory_path() == tmp_path / "thinktank" / "memory.sqlite"
