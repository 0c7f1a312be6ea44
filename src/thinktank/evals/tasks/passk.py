"""pass@k: the unbiased estimator of the chance that at least one of k samples passes.

With ``n`` samples of which ``c`` passed, the probability that a random subset of
``k`` contains at least one pass is ``1 - C(n-c, k) / C(n, k)`` (Chen et al.,
2021). The product form ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` computes it without
huge binomials or cancellation, for any ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from thinktank.errors import UsageError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task with ``n`` samples, ``c`` of them correct.

    Requires ``0 <= c <= n`` and ``1 <= k <= n`` (sample at least k times).
    """
    if n < 0 or c < 0 or c > n:
        raise UsageError(f"pass@k needs 0 <= c <= n (got n={n}, c={c})")
    if k < 1 or k > n:
        raise UsageError(
            f"pass@{k} needs at least k samples per task (got n={n}); lower k or sample more"
        )
    if n - c < k:
        return 1.0
    # 1 - C(n-c, k)/C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k/i); log-space keeps it stable.
    log_miss = sum(math.log1p(-k / i) for i in range(n - c + 1, n + 1))
    return -math.expm1(log_miss)


def mean_pass_at_k(results: Iterable[tuple[int, int]], k: int) -> float:
    """Average pass@k over tasks given as ``(n, c)`` pairs (0 for no tasks)."""
    values = [pass_at_k(n, c, k) for n, c in results]
    return sum(values) / len(values) if values else 0.0


def pass_at_k_from_outcomes(outcomes: Sequence[bool], k: int) -> float:
    """pass@k for one task from its per-sample pass/fail outcomes."""
    return pass_at_k(len(outcomes), sum(bool(x) for x in outcomes), k)
