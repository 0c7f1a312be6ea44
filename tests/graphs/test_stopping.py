"""Stopping rules of adaptive sampling (posterior, predictive, margin)."""

from __future__ import annotations

import pytest

from thinktank.graphs.spec import SamplingSpec
from thinktank.graphs.stopping import keep_probability, settled, settled_probability


def test_posterior_matches_the_binomial_form() -> None:
    assert settled_probability([4]) == pytest.approx(31 / 32)
    assert settled_probability([3, 1]) == pytest.approx(26 / 32)
    assert settled_probability([2, 2]) == pytest.approx(0.5)
    assert settled_probability([]) == pytest.approx(0.5)


def test_keep_probability_is_certain_when_the_lead_cannot_be_overturned() -> None:
    assert keep_probability(9, 2, 1, 4) == 1.0
    assert keep_probability(5, 5, 0, 0) == 1.0
    assert keep_probability(3, 3, 0, 6) == pytest.approx(0.5, abs=1e-9)


def test_keep_probability_grows_with_the_lead_and_shrinks_with_the_budget_left() -> None:
    assert keep_probability(4, 0, 0, 12) > keep_probability(3, 1, 0, 12)
    assert keep_probability(3, 1, 0, 4) > keep_probability(3, 1, 0, 12)
    assert 0.0 < keep_probability(1, 1, 6, 8) < 1.0


def test_rules_respect_min_samples() -> None:
    s = SamplingSpec(mode="adaptive", rule="margin", margin=2, min_samples=4)
    assert settled(s, [2], 2, 16) == (False, 2.0)
    assert settled(s, [4], 4, 16)[0]


def test_predictive_stops_where_the_posterior_does_not_near_the_budget() -> None:
    post = SamplingSpec(mode="adaptive", rule="posterior", confidence=0.95)
    pred = SamplingSpec(mode="adaptive", rule="predictive", confidence=0.95)
    counts, drawn = [8, 5, 1], 14  # 2 samples left: 8 vs 5 cannot flip
    assert not settled(post, counts, drawn, 16)[0]
    assert settled(pred, counts, drawn, 16)[0]


def test_margin_rule() -> None:
    s = SamplingSpec(mode="adaptive", rule="margin", margin=3)
    assert not settled(s, [4, 2], 6, 16)[0]
    assert settled(s, [5, 2], 7, 16)[0]
    assert not settled(s, [3, 2], 15, 16)[0]  # one sample left could still tie
    assert settled(s, [4, 2], 15, 16)[0]  # ... but cannot undo a lead of two
