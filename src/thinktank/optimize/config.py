"""The settings of an optimization study (:class:`StudyConfig`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinktank._strict import StrictModel
from thinktank.optimize.algorithms import Algo
from thinktank.optimize.reinforce import ReinforceConfig


class StudyConfig(StrictModel):
    """Settings of one optimization study."""

    name: str = "thinktank"
    """Study name (in the Optuna storage and the output files)."""
    algo: Algo = "tpe"
    """reinforce, tpe, nsga2, random, llm or grid (see :mod:`thinktank.optimize.algorithms`)."""
    seed: int = 0
    """Seeds the search (proposals, task order); equal seeds give equal studies."""
    eval_seed: int = 0
    """The seed every graph runs with (common random numbers across candidates)."""
    budget_usd: float | None = Field(default=None, ge=0)
    """Hard limit on everything the study spends, every evaluation included."""
    max_evals: int | None = Field(default=30, ge=1)
    """Distinct graphs to evaluate at most (proposals of a graph seen before are free)."""
    max_trials: int | None = Field(default=None, ge=1)
    """Proposals at most, rejected and repeated ones included (default 10 × max_evals)."""
    cost_weight: float = Field(default=0.0, ge=0)
    """The score is ``accuracy - cost_weight * dollars per task``."""
    metric: Literal["correct", "score"] = "correct"
    """Accuracy is the share of tasks judged correct, or the mean verdict score
    (partial credit: the share of tests passed, F1)."""
    prune: bool | None = None
    """Successive-halving pruning on growing task subsets (single-objective algorithms);
    ``None``: on for tpe when the dev set is large enough."""
    prune_min_tasks: int = Field(default=4, ge=1)
    """Tasks in the first rung."""
    prune_factor: int = Field(default=2, ge=2)
    """Rung growth (η): rungs of min_tasks·η^k tasks; the best 1/η go on."""
    concurrency: int = Field(default=8, ge=1)
    """Tasks of one evaluation run at once."""
    startup_trials: int = Field(default=6, ge=1)
    """TPE: random proposals before the model kicks in."""
    population: int = Field(default=8, ge=2)
    """NSGA-II population size."""
    reinforce: ReinforceConfig = Field(default_factory=ReinforceConfig)
    """REINFORCE settings (batch, learning rate, baseline, LLM feedback)."""
    patience: int = Field(default=40, ge=1)
    """Consecutive proposals without a new graph (repeats, rejections) before the search
    counts as converged and stops."""
    max_rejections: int = Field(default=200, ge=1)
    """Consecutive invalid proposals before the study gives up on the space."""
    scan: int = Field(default=400, ge=1)
    """Points examined up front (validity, cheapest graph); the whole space when smaller."""
    top_k: int = Field(default=3, ge=0)
    """After the search, the top graphs by dev score re-evaluated on the confirmation tasks
    before a best is declared (0: the search's incumbent is the best, not re-checked)."""
    confirm_overlap: bool = True
    """Re-evaluate only the top graphs whose dev interval reaches the incumbent's (False:
    all ``top_k``)."""
    incumbent: Literal["estimate", "dev"] = "estimate"
    """What the search's incumbent (the best so far, and the candidates re-evaluated after
    the search) is ranked by: ``estimate``, each graph's posterior accuracy under a model
    that borrows strength from structurally similar graphs (noise-aware: a lucky dev score
    is shrunk toward its neighbours', :mod:`thinktank.optimize.estimate`), less the cost
    term; ``dev``, the raw dev score (the highest is an optimistic pick)."""
    learn_from: Literal["auto", "estimate", "score"] = "auto"
    """What single-objective samplers are told a graph scored: its ``estimate`` (the
    incumbent's model: a lucky score shrunk toward its neighbours'; needs ``incumbent:
    estimate``) or its raw dev ``score``. ``auto``: the estimate for tpe, whose split of
    the trials into good and bad ones a lucky score misleads (measured: half the
    evaluations on ``bench/optimizer_efficiency.py``), the score for the others
    (REINFORCE did worse on estimates: its normalised advantages lose their contrast)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    """Level of the intervals (dev, confirmation, held-out, paired differences)."""

    def learns_from_estimate(self) -> bool:
        if self.learn_from == "auto":
            return self.algo == "tpe" and self.incumbent == "estimate"
        return self.learn_from == "estimate"

    def identity(self) -> dict[str, Any]:
        """What must match to resume a study (budget and limits may change)."""
        return self.model_dump(
            mode="json",
            include={
                "algo",
                "metric",
                "seed",
                "eval_seed",
                "cost_weight",
                "prune_min_tasks",
                "prune_factor",
                "startup_trials",
                "population",
                "reinforce",
                "incumbent",
                "learn_from",
            },
        )


__all__ = ["StudyConfig"]
