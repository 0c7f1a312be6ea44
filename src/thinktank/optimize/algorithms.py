"""The search algorithms, as Optuna samplers and pruners over the space's dimensions.

=============  =========================================================  ==========
``--algo``     sampler                                                    objective
=============  =========================================================  ==========
``reinforce``  :class:`~thinktank.optimize.reinforce.ReinforceSampler`   score
``tpe``        Optuna ``TPESampler`` (multivariate, grouped: the space    score
               is conditional) + successive-halving pruning
``nsga2``      Optuna ``NSGAIISampler``                                   accuracy ↑, cost ↓
``random``     Optuna ``RandomSampler`` (the baseline)                    score
``llm``        an LLM proposes edits of the best graphs (AFlow-style),   score
               random proposals while it has too little to go on
``grid``       every point of the space in order (small spaces; ground   score
               truth for tests)
=============  =========================================================  ==========

Samplers are rebuilt before each proposal with a seed derived from the study seed
and the proposal's index, so a resumed study proposes what the uninterrupted one
would have.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import optuna
from optuna.pruners import BasePruner, NopPruner, SuccessiveHalvingPruner
from optuna.samplers import BaseSampler, NSGAIISampler, RandomSampler, TPESampler

from thinktank.errors import ConfigError
from thinktank.optimize.reinforce import ReinforceConfig, ReinforceSampler

Algo = Literal["reinforce", "tpe", "nsga2", "random", "llm", "grid"]
ALGOS: tuple[str, ...] = Algo.__args__  # type: ignore[attr-defined]
T = TypeVar("T")

optuna.logging.set_verbosity(optuna.logging.WARNING)


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed from any parts (stable across processes)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def check_algo(algo: str) -> str:
    if algo not in ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; valid algorithms: {', '.join(ALGOS)}")
    return algo


class OptunaChooser:
    """Asks an Optuna trial for each dimension; edge order from a seeded RNG."""

    def __init__(self, trial: optuna.trial.Trial, seed: int) -> None:
        self.trial = trial
        self.rng = random.Random(seed)

    def choose(self, name: str, options: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(name, list(options))

    def order(self, items: list[T]) -> list[T]:
        out = list(items)
        self.rng.shuffle(out)
        return out


class Samplers:
    """Builds the sampler for each proposal of one study."""

    def __init__(
        self,
        algo: str,
        *,
        seed: int,
        dims: Mapping[str, Sequence[Any]],
        startup_trials: int,
        population: int,
        reinforce: ReinforceConfig,
    ) -> None:
        self.algo = check_algo(algo)
        self.seed = seed
        self.startup_trials = startup_trials
        self.population = population
        self.reinforce = ReinforceSampler(dims, reinforce, seed) if algo == "reinforce" else None

    def for_index(self, index: int) -> BaseSampler:
        s = derive_seed(self.seed, index, self.algo)
        if self.reinforce is not None:
            self.reinforce.index = index
            return self.reinforce
        if self.algo == "tpe":
            with warnings.catch_warnings():  # multivariate/group are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return TPESampler(
                    seed=s, multivariate=True, group=True, n_startup_trials=self.startup_trials
                )
        if self.algo == "nsga2":
            return NSGAIISampler(population_size=self.population, seed=s)
        return RandomSampler(seed=s)


def pruner(enabled: bool, min_tasks: int, reduction_factor: int) -> BasePruner:
    """Successive halving on growing task subsets (rungs of min_tasks·η^k tasks)."""
    if not enabled:
        return NopPruner()
    return SuccessiveHalvingPruner(
        min_resource=min_tasks, reduction_factor=reduction_factor, min_early_stopping_rate=0
    )


def rungs(n_tasks: int, min_tasks: int, reduction_factor: int) -> list[int]:
    """Task-subset sizes of successive halving: min_tasks·η^k below n_tasks, then n_tasks."""
    out, size = [], min_tasks
    while size < n_tasks:
        out.append(size)
        size *= reduction_factor
    return [*out, n_tasks]


def min_dev_tasks(min_tasks: int, reduction_factor: int) -> int:
    """The smallest dev set successive halving can work on (two rungs)."""
    return min_tasks * reduction_factor
