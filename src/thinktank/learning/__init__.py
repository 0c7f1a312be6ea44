"""Memory learning: judged runs distilled into what a memory bank keeps.

The store (:mod:`thinktank.memory`) keeps items and sheets; this package writes
them. :mod:`~thinktank.learning.learn` turns an :class:`Attempt` and its
:class:`Judgement` into items (ReasoningBank, MaTTS), :mod:`~thinktank.learning.cheatsheet`
curates and synthesizes Dynamic-Cheatsheet sheets, both with any ChatModel.
:class:`MemoryLearner` wires them into graph runs and the eval runner: it reads
memory into agents before a task and learns from the judged run after it.

See README.md in this folder.
"""

from __future__ import annotations

from thinktank.learning.attempt import Attempt, AttemptStep, Judgement
from thinktank.learning.cheatsheet import (
    CheatsheetResult,
    curate,
    synthesize,
    synthesize_from_bank,
)
from thinktank.learning.learn import (
    LearnResult,
    VerbatimGuard,
    extract_contrastive,
    extract_items,
    extract_sequential,
    learn,
    self_judge,
)
from thinktank.learning.runner_hook import (
    LEARN_MODES,
    LearnerConfig,
    LearnMode,
    MemoryLearner,
    TaskLearning,
)
from thinktank.learning.views import CumulativeSheetView, SynthesisView

__all__ = [
    "LEARN_MODES",
    "Attempt",
    "AttemptStep",
    "CheatsheetResult",
    "CumulativeSheetView",
    "Judgement",
    "LearnMode",
    "LearnResult",
    "LearnerConfig",
    "MemoryLearner",
    "SynthesisView",
    "TaskLearning",
    "VerbatimGuard",
    "curate",
    "extract_contrastive",
    "extract_items",
    "extract_sequential",
    "learn",
    "self_judge",
    "synthesize",
    "synthesize_from_bank",
]
