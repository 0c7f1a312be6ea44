"""Evaluators: decide whether an answer solves a task. One module per kind.

=============  =================================================  ==============
type           judges                                             default for
=============  =================================================  ==============
``numeric``    the final number, exactly (tolerances opt-in)      ``math``
``choice``     the option letter                                  ``choice``
``string``     the normalised short answer (aliases, lenient)     ``text``, ``web``
``llm_match``  free text against a reference, by a judge model    —
``code_tests`` hidden tests run in a sandbox                      ``code``
``game24``     a Game-of-24 expression, checked with ``ast``      —
=============  =================================================  ==============

SWE tasks are judged by the SWE harness (patch + FAIL_TO_PASS/PASS_TO_PASS), not
here. :func:`evaluate` picks the task's configured evaluator or its kind's default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from thinktank.errors import ConfigError
from thinktank.evals.tasks.evaluators.base import EvalContext, Evaluator, Verdict
from thinktank.evals.tasks.evaluators.choice import ChoiceConfig, ChoiceEvaluator
from thinktank.evals.tasks.evaluators.code import (
    CodeTestsConfig,
    CodeTestsEvaluator,
    build_program,
    sandbox_runner,
)
from thinktank.evals.tasks.evaluators.game24 import Game24Config, Game24Evaluator
from thinktank.evals.tasks.evaluators.llm_match import LLMMatchConfig, LLMMatchEvaluator
from thinktank.evals.tasks.evaluators.numeric import NumericConfig, NumericEvaluator
from thinktank.evals.tasks.evaluators.string import StringConfig, StringEvaluator

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task

EvaluatorConfig = Annotated[
    NumericConfig | StringConfig | ChoiceConfig | LLMMatchConfig | CodeTestsConfig | Game24Config,
    Field(discriminator="type"),
]
"""Any evaluator config, selected by its ``type`` field."""

EVALUATOR_TYPES = ("numeric", "string", "choice", "llm_match", "code_tests", "game24")
"""The valid ``type`` values of :data:`EvaluatorConfig`."""

_DEFAULTS = {
    "math": NumericConfig,
    "choice": ChoiceConfig,
    "text": StringConfig,
    "web": StringConfig,
    "code": CodeTestsConfig,
}


def default_evaluator_config(kind: str) -> EvaluatorConfig:
    """The evaluator config used for a task kind when the task names none."""
    if kind == "swe":
        raise ConfigError(
            "SWE tasks are judged by the SWE harness (apply the patch, run FAIL_TO_PASS and "
            "PASS_TO_PASS), not by an answer evaluator"
        )
    try:
        return _DEFAULTS[kind]()
    except KeyError:
        valid = ", ".join([*_DEFAULTS, "swe"])
        raise ConfigError(f"unknown task kind {kind!r}; valid kinds: {valid}") from None


def evaluator_for(task: Task) -> Evaluator:
    """The evaluator for ``task``: its own config, else its kind's default."""
    config = task.evaluator or default_evaluator_config(task.kind)
    return config.build()


async def evaluate(task: Task, answer: str | None, context: EvalContext | None = None) -> Verdict:
    """Judge ``answer`` for ``task`` with :func:`evaluator_for`."""
    return await evaluator_for(task).evaluate(task, answer, context)


__all__ = [
    "EVALUATOR_TYPES",
    "ChoiceConfig",
    "ChoiceEvaluator",
    "CodeTestsConfig",
    "CodeTestsEvaluator",
    "EvalContext",
    "Evaluator",
    "EvaluatorConfig",
    "Game24Config",
    "Game24Evaluator",
    "LLMMatchConfig",
    "LLMMatchEvaluator",
    "NumericConfig",
    "NumericEvaluator",
    "StringConfig",
    "StringEvaluator",
    "Verdict",
    "build_program",
    "default_evaluator_config",
    "evaluate",
    "evaluator_for",
    "sandbox_runner",
]
