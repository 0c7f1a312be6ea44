"""REINFORCE over a factorized distribution of graphs, as an Optuna sampler.

Follows GPTSwarm and Agent-REINFORCE (FIELD.md, "Budget allocation and topology
search"): every dimension of the space has its own distribution — a categorical
over its options, a Bernoulli (a two-option categorical) for each candidate edge —
and a graph is sampled dimension by dimension (edges cycle-safe, see
:mod:`thinktank.optimize.decode`). After every batch of ``batch`` evaluated graphs
the logits move along the score-function gradient::

    theta_d += lr * mean_i[(R_i - b) / s * (onehot(x_id) - softmax(theta_d))]

for the dimensions graph *i* used, with ``b`` a moving-average baseline of the
rewards and ``s`` their spread (``normalize``), plus a small entropy bonus. An optional LLM step turns the
results into logit changes ("textual gradients", :mod:`thinktank.optimize.textgrad`).

The distribution is never stored: it is *replayed* from the study's finished
trials (and the recorded LLM edits) whenever it is needed, so a study resumed after
a crash continues with exactly the distribution it had.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState
from pydantic import Field

from thinktank._strict import StrictModel

EDITS_ATTR = "reinforce_edits"
"""Study user attribute holding the LLM edits: ``{batch index: [edit, ...]}``."""


class ReinforceConfig(StrictModel):
    """Settings of the REINFORCE search."""

    batch: int = Field(default=4, ge=1)
    """Graphs evaluated per update of the distribution."""
    lr: float = Field(default=0.6, gt=0)
    """Learning rate of the logits."""
    baseline_decay: float = Field(default=0.6, ge=0, lt=1)
    """Weight of the old baseline in the moving average (0: the last batch's mean)."""
    normalize: bool = True
    """Divide advantages by the rewards' spread (scale-free steps)."""
    entropy: float = Field(default=0.05, ge=0)
    """Entropy bonus per update (keeps the distribution from collapsing too early)."""
    explore: float = Field(default=0.05, ge=0, le=1)
    """Share of each draw taken uniformly (keeps every option reachable)."""
    screen: int = Field(default=32, ge=0)
    """Draws per screened proposal: the new graph of highest expected improvement under
    the incumbent's model among them is proposed (0: never screen;
    :mod:`thinktank.optimize._screen`)."""
    screen_every: int = Field(default=2, ge=1)
    """Screen every this many proposals (the others are plain draws)."""
    feedback_every: int = Field(default=0, ge=0)
    """Ask the feedback model for logit changes every this many batches (0: never)."""
    max_edit: float = Field(default=2.0, gt=0)
    """Largest logit change one LLM edit may make."""


def fmt(value: Any) -> str:
    """An option as text (how the LLM step names options)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


class Policy:
    """Logits per dimension; probabilities by softmax."""

    def __init__(self, dims: Mapping[str, Sequence[Any]]) -> None:
        self.dims = {k: list(v) for k, v in dims.items()}
        self.logits = {k: [0.0] * len(v) for k, v in self.dims.items()}
        self.baseline: float | None = None
        self.spread: float = 0.0
        self.batches = 0

    def probs(self, name: str) -> list[float]:
        z = self.logits[name]
        m = max(z)
        e = [math.exp(x - m) for x in z]
        s = sum(e)
        return [x / s for x in e]

    def index(self, name: str, value: Any) -> int | None:
        opts = self.dims.get(name)
        if opts is None:
            return None
        for i, o in enumerate(opts):
            if o == value and type(o) is type(value):
                return i
        return None

    def update(
        self, batch: Sequence[tuple[Mapping[str, Any], float]], cfg: ReinforceConfig
    ) -> None:
        """One REINFORCE step over a batch of (params, reward)."""
        rewards = [r for _, r in batch]
        mean = sum(rewards) / len(rewards)
        if self.baseline is None:
            self.baseline = mean
        var = sum((r - mean) ** 2 for r in rewards) / len(rewards)
        # the spread is a moving average too, so one flat batch does not blow steps up
        self.spread = (
            math.sqrt(var) if self.batches == 0 else 0.5 * self.spread + 0.5 * math.sqrt(var)
        )
        scale = 1.0 / max(self.spread, 1e-3) if cfg.normalize else 1.0
        grads: dict[str, list[float]] = {}
        for params, reward in batch:
            adv = (reward - self.baseline) * scale
            for name, value in params.items():
                i = self.index(name, value)
                if i is None:
                    continue
                p = self.probs(name)
                g = grads.setdefault(name, [0.0] * len(p))
                for k, pk in enumerate(p):
                    g[k] += adv * ((1.0 if k == i else 0.0) - pk)
        if cfg.entropy:
            for name in self.dims:
                p = self.probs(name)
                h = -sum(pk * math.log(max(pk, 1e-12)) for pk in p)
                g = grads.setdefault(name, [0.0] * len(p))
                for k, pk in enumerate(p):
                    g[k] -= cfg.entropy * len(batch) * pk * (math.log(max(pk, 1e-12)) + h)
        for name, g in grads.items():
            z = self.logits[name]
            for k in range(len(z)):
                z[k] = max(-20.0, min(20.0, z[k] + cfg.lr * g[k] / len(batch)))
        self.baseline = cfg.baseline_decay * self.baseline + (1 - cfg.baseline_decay) * mean
        self.batches += 1

    def apply(self, edits: Sequence[Mapping[str, Any]], cfg: ReinforceConfig) -> None:
        """Add LLM logit changes (``{"dimension", "option", "delta"}``), clipped."""
        for e in edits:
            name, option = str(e.get("dimension")), str(e.get("option"))
            if name not in self.dims:
                continue
            for k, o in enumerate(self.dims[name]):
                if fmt(o) == option:
                    delta = max(-cfg.max_edit, min(cfg.max_edit, float(e.get("delta", 0.0))))
                    self.logits[name][k] += delta

    def table(self) -> dict[str, dict[str, float]]:
        """Dimension → option text → probability."""
        return {
            name: {fmt(o): round(p, 4) for o, p in zip(opts, self.probs(name), strict=True)}
            for name, opts in self.dims.items()
        }


def history(study: Study) -> list[tuple[dict[str, Any], float]]:
    """(params, reward) of the study's evaluated trials, in trial order."""
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        score = t.user_attrs.get("reward", t.user_attrs.get("score"))
        if score is not None:
            out.append((dict(t.params), float(score)))
    return out


def replay(
    dims: Mapping[str, Sequence[Any]],
    past: Sequence[tuple[Mapping[str, Any], float]],
    edits: Mapping[str, Sequence[Mapping[str, Any]]],
    cfg: ReinforceConfig,
) -> Policy:
    """The distribution after the full batches of ``past`` (with the LLM edits applied)."""
    policy = Policy(dims)
    for b in range(len(past) // cfg.batch):
        policy.update(past[b * cfg.batch : (b + 1) * cfg.batch], cfg)
        policy.apply(edits.get(str(b + 1), []), cfg)
    return policy


def _uniform(*parts: Any) -> float:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ReinforceSampler(BaseSampler):
    """Samples each categorical dimension from the replayed REINFORCE distribution.

    ``index`` (set by the study before each ask) and ``seed`` make draws
    reproducible, also across a resume.
    """

    def __init__(
        self, dims: Mapping[str, Sequence[Any]], cfg: ReinforceConfig, seed: int = 0
    ) -> None:
        self.dims = {k: list(v) for k, v in dims.items()}
        self.cfg = cfg
        self.seed = seed
        self.index = 0
        self._trial: int | None = None
        self._policy = Policy(self.dims)
        self._edits: dict[str, Any] = {}

    def policy(self, study: Study, trial: int | None = None) -> Policy:
        """The distribution now: new full batches are applied to the last one computed."""
        if trial is not None and trial == self._trial:
            return self._policy
        past = history(study)
        edits = study.user_attrs.get(EDITS_ATTR, {})
        p, cfg = self._policy, self.cfg
        if edits != self._edits or p.batches > len(past) // cfg.batch:
            p = replay(self.dims, past, edits, cfg)
        else:
            for b in range(p.batches, len(past) // cfg.batch):
                p.update(past[b * cfg.batch : (b + 1) * cfg.batch], cfg)
                p.apply(edits.get(str(b + 1), []), cfg)
        self._policy, self._edits, self._trial = p, edits, trial
        return p

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if not isinstance(param_distribution, CategoricalDistribution):
            raise TypeError(f"REINFORCE samples categorical dimensions only, not {param_name!r}")
        choices = list(param_distribution.choices)
        policy = self.policy(study, trial.number)
        if param_name in policy.dims and len(policy.dims[param_name]) == len(choices):
            probs = policy.probs(param_name)
        else:
            probs = [1.0 / len(choices)] * len(choices)
        eps = self.cfg.explore
        probs = [(1 - eps) * p + eps / len(choices) for p in probs]
        u = _uniform(self.seed, self.index, param_name)
        acc = 0.0
        for choice, p in zip(choices, probs, strict=True):
            acc += p
            if u < acc:
                return choice
        return choices[-1]
