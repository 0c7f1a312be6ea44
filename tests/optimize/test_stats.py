"""The optimizer's statistics: task splits by seed, intervals, paired differences."""

from __future__ import annotations

import pytest

from thinktank.errors import ConfigError
from thinktank.evals.reports.metrics import wilson
from thinktank.optimize import split_tasks
from thinktank.optimize.stats import (
    accuracy_interval,
    paired_difference,
    score_interval,
    split_size,
    z_value,
)


def test_splits_are_disjoint_complete_deterministic_by_seed_and_keep_the_order() -> None:
    items = list(range(50))
    a = split_tasks(items, confirm=0.2, holdout=0.3, seed=1)
    assert (len(a.dev), len(a.confirm), len(a.holdout)) == (25, 10, 15)
    assert sorted(a.dev + a.confirm + a.holdout) == items
    assert not set(a.dev) & set(a.confirm) and not set(a.dev) & set(a.holdout)
    assert all(s == sorted(s) for s in (a.dev, a.confirm, a.holdout))  # the suite's order
    assert split_tasks(items, confirm=0.2, holdout=0.3, seed=1) == a
    assert split_tasks(items, confirm=0.2, holdout=0.3, seed=2).holdout != a.holdout
    off = split_tasks(items, seed=1)
    assert off.dev == items and off.confirm == off.holdout == []


def test_split_sizes_round_half_up_and_refuse_to_leave_no_dev_task() -> None:
    assert [split_size(0.2, n) for n in (2, 3, 8, 10, 12)] == [0, 1, 2, 2, 2]
    tiny = split_tasks(["a", "b"], confirm=0.2, holdout=0.2)
    assert tiny.dev == ["a", "b"]  # 20% of 2 tasks is none: no split
    with pytest.raises(ConfigError, match="too few"):
        split_tasks(list(range(4)), confirm=0.5, holdout=0.5)
    with pytest.raises(ConfigError, match=r"--holdout takes a fraction"):
        split_tasks(list(range(4)), holdout=1.0)


def test_intervals() -> None:
    z = z_value(0.95)
    assert z == pytest.approx(1.959964, abs=1e-5)
    right = [1.0] * 8 + [0.0] * 2
    iv = accuracy_interval(right)
    assert (iv.value, iv.n) == (0.8, 10) and (iv.low, iv.high) == pytest.approx(wilson(8, 10))
    assert accuracy_interval(right, confidence=0.99).low < iv.low  # wider at 99%
    partial = [0.5, 0.25, 1.0, 0.75, 0.5, 0.0, 1.0, 0.5]
    bp = accuracy_interval(partial, seed=3)
    assert bp.low < bp.value < bp.high and bp.value == pytest.approx(0.5625)
    assert accuracy_interval(partial, seed=3) == bp  # seeded bootstrap
    # a score is accuracy less the weighted cost: the accuracy's interval, shifted
    sc = score_interval(right, [0.01] * 10, cost_weight=2.0)
    assert sc.value == pytest.approx(0.78) and sc.low == pytest.approx(iv.low - 0.02)
    empty = accuracy_interval([])
    assert empty.n == 0 and (empty.low, empty.high) == (0.0, 1.0)


def test_paired_differences_cancel_what_both_sides_share() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.0] * 8
    same = paired_difference(a, a)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    # b is a with two more tasks right: the difference is exact and its interval tight
    b = list(a)
    b[1] = b[4] = 1.0
    d = paired_difference(b, a)
    assert d.value == pytest.approx(2 / 40) and d.low >= 0.0 and d.high <= 0.15
    with pytest.raises(ValueError, match="same tasks"):
        paired_difference(a, a[:-1])
