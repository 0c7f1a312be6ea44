"""Pure ranking pieces of retrieval: FTS5 query planning, fusion, and track-record blending.

* :func:`plan_match` turns free text into a safe FTS5 ``MATCH`` expression: terms
  come from :func:`thinktank.memory.text.terms` (alphanumerics only) and are each
  double-quoted, so quotes, ``AND``/``NEAR``/``*``, parentheses or column filters
  in user text are plain words. Terms are kept rarest first within a postings
  budget, which bounds the work per query whatever the bank size.
* :func:`reciprocal_rank_fusion` merges the BM25 and dense rankings (hybrid mode).
* :func:`blend` mixes relevance with the Beta-posterior success rate of each item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from thinktank.memory.config import RankingPolicy
from thinktank.memory.text import terms, unique


@dataclass(frozen=True)
class MatchPlan:
    """An FTS5 query and a fallback to try when it finds fewer than ``k`` rows."""

    expression: str
    fallback: str | None = None
    postings: int = 0


def query_terms(query: str) -> list[str]:
    """Distinct index terms of ``query`` in order."""
    return unique(terms(query))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def plan_match(
    candidates: Sequence[str], df: Mapping[str, int], policy: RankingPolicy
) -> MatchPlan | None:
    """The FTS5 expression for ``candidates`` given their document frequencies.

    Terms absent from the bank are dropped. The rest are taken rarest first (most
    informative, and cheapest) until their summed document frequencies would pass
    ``policy.posting_budget``. When even the rarest term is over budget, every term
    is common: the rarest three are required together (``AND``), with the rarest
    alone as the fallback.
    """
    known = sorted(
        ((df[t], i, t) for i, t in enumerate(candidates) if df.get(t, 0) > 0),
    )[: policy.max_query_terms]
    if not known:
        return None
    if known[0][0] > policy.posting_budget and len(known) > 1:
        rarest = [t for _, _, t in known[:3]]
        return MatchPlan(
            " AND ".join(_quote(t) for t in rarest), _quote(rarest[0]), postings=known[0][0]
        )
    keep: list[str] = []
    total = 0
    for d, _, t in known:
        if keep and total + d > policy.posting_budget:
            break
        keep.append(t)
        total += d
    return MatchPlan(" OR ".join(_quote(t) for t in keep), postings=total)


def normalize_bm25(scores: Sequence[float]) -> list[float]:
    """FTS5 ``bm25()`` values (negative, lower is better) → relevance in (0, 1], best = 1."""
    if not scores:
        return []
    best = min(scores)
    if best >= 0:
        return [1.0 for _ in scores]
    return [max(s / best, 1e-6) for s in scores]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int) -> dict[int, float]:
    """RRF scores ``Σ 1/(k + rank)`` of every key in ``rankings`` (ranks from 1), max-normalised."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    if fused:
        top = max(fused.values())
        fused = {key: v / top for key, v in fused.items()}
    return fused


def blend(
    relevance: float, successes: int, failures: int, demoted: bool, policy: RankingPolicy
) -> float:
    """Final score: ``(1-w)·relevance + w·posterior``, times the demotion penalty."""
    a, b = policy.prior_success, policy.prior_failure
    posterior = (successes + a) / (successes + failures + a + b)
    w = policy.track_record_weight
    score = (1.0 - w) * relevance + w * posterior
    return score * policy.demoted_penalty if demoted else score
