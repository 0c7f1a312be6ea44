"""The memory learner: after each task, judge the run and write what it taught into memory.

    bank = SQLiteMemoryBank("memory.sqlite")
    learner = MemoryLearner(model, bank, mode="reasoningbank")
    runner = Runner(tasks, ["best_of_n:n=4,memory=true"], model, out_dir="runs/x",
                    memory=learner.memory, on_task_done=learner, stream=True)

``learner.memory`` is what memory nodes read before a task (the bank, or a
cheatsheet view); ``learner`` itself is the runner's ``on_task_done`` hook. Per
finished task it:

1. **judges**: the model itself (self-judge, the default); with ``judge="oracle"``
   the evaluator's verdict (ground truth) when there is one, else the self-judge;
   the judge is recorded in the provenance of every item written;
2. **records use**: the bank items that were shown to the run's agents (their
   trajectories carry ``memory_ids``) are counted as used in a success or failure;
3. **learns**, by mode (see :data:`LEARN_MODES`):

   * ``reasoningbank`` — up to 3 strategies from a success, 3 pitfalls from a failure,
     distilled from the winning trajectory (ReasoningBank);
   * ``matts_parallel`` — the run's k candidate trajectories, labelled success or
     failure, contrasted into up to 5 items (MaTTS, parallel scaling);
   * ``matts_sequential`` — the chain of refinements that led to the answer (refine,
     debate, PDR rounds), up to 3 items (MaTTS, sequential scaling);
   * ``cheatsheet_cumulative`` — a curator rewrites the bank's one bounded cheatsheet
     (kept in the bank's file, compare-and-set), shown to every later task;
   * ``cheatsheet_synthesis`` — before a task, a sheet is synthesized from the items
     retrieved for it; after it, ReasoningBank items are added for later syntheses.

   The MaTTS modes fall back to ``reasoningbank`` when the run has a single sample
   or no refinement chain (noted in the report's ``method``).

All model calls of a learning step run inside the task's budget (what the graph
left of it) and the optional ``max_tokens`` / ``max_usd`` of :class:`LearnerConfig`;
a refusal stops the step with a warning. Replies that do not parse skip their
items with a warning; the warnings are in the returned :class:`TaskLearning`,
which the runner stores with the task. Endpoint errors propagate (the runner logs
them as a hook error and goes on).
"""

from __future__ import annotations

import time
from typing import Any

from thinktank.errors import BudgetExceeded, ConfigError
from thinktank.graphs.state import NodeOutput
from thinktank.learning import runs
from thinktank.learning._judging import ground_truth, remaining_budget, sample_verdicts
from thinktank.learning._learner_types import (
    LEARN_MODES,
    LearnerConfig,
    LearnerStats,
    LearnMode,
    TaskLearning,
)
from thinktank.learning.attempt import Judgement
from thinktank.learning.cheatsheet import curate
from thinktank.learning.learn import (
    LearnResult,
    extract_contrastive,
    extract_items,
    extract_sequential,
    record_warning,
    self_judge,
)
from thinktank.learning.views import CumulativeSheetView, SynthesisView
from thinktank.llm.base import ChatModel
from thinktank.llm.budget import Budget
from thinktank.llm.ledger import UsageLedger, scope
from thinktank.memory.base import MemoryBank
from thinktank.memory.sheets import SheetStore, sheet_store_for

__all__ = ["LEARN_MODES", "LearnMode", "LearnerConfig", "MemoryLearner", "TaskLearning"]


class MemoryLearner:
    """Reads memory into a run's agents and learns from each judged task (see the module doc).

    Args:
        model: the model that judges, extracts and curates: a :class:`ChatModel`, or a
            model string / ``None`` (the configured default), loaded here and closed by
            :meth:`aclose`.
        bank: the memory bank items are read from and written to.
        mode: the learning mode (overrides ``config.mode``).
        config: the remaining settings.
        sheets: where cumulative cheatsheets are kept (default: the bank's own file).
    """

    def __init__(
        self,
        model: ChatModel | str | None,
        bank: MemoryBank,
        *,
        mode: LearnMode | str | None = None,
        config: LearnerConfig | None = None,
        sheets: SheetStore | None = None,
    ) -> None:
        cfg = config or LearnerConfig()
        if mode is not None:
            if mode not in LEARN_MODES:
                raise ConfigError(f"unknown learning mode {mode!r}; valid modes: {', '.join(LEARN_MODES)}")  # fmt: skip
            cfg = cfg.model_copy(update={"mode": mode})
        self.config = cfg
        self._owned: ChatModel | None = None
        if not isinstance(model, ChatModel):
            from thinktank.llm.config import load_model

            model = self._owned = load_model(model)
        self.model = model
        self.bank = bank
        self.sheets = sheets or sheet_store_for(bank)
        self.stats = LearnerStats()
        self._learned: set[str] = set()
        self.memory: Any = bank
        """What memory nodes read: pass it as ``compile(memory=...)`` / ``Runner(memory=...)``."""
        if cfg.mode == "cheatsheet_cumulative":
            self.memory = CumulativeSheetView(
                self.sheets, name=cfg.sheet_name, max_chars=cfg.sheet_chars, bank=bank
            )
        elif cfg.mode == "cheatsheet_synthesis":
            self.memory = SynthesisView(bank, model, k=cfg.synthesis_k, max_chars=cfg.sheet_chars)

    @property
    def mode(self) -> LearnMode:
        return self.config.mode

    def describe(self) -> dict[str, str]:
        """What an eval run records of its learner (reports label oracle learning)."""
        return {"mode": self.config.mode, "judge": self.config.judge}

    async def aclose(self) -> None:
        """Close the model this learner loaded (a model object passed in is the caller's)."""
        if self._owned is not None:
            await self._owned.aclose()

    # --- the runner hook ----------------------------------------------------------------

    async def __call__(self, task: Any, result: Any, verdict: Any) -> dict[str, Any]:
        """``on_task_done``: learn from one judged task; returns the report as JSON data."""
        report = await self.learn_from(task, result, verdict)
        return {"memory": report.model_dump(mode="json")}

    async def learn_from(
        self, task: runs.TaskLike, result: Any, verdict: Any = None
    ) -> TaskLearning:
        """Judge ``result`` (the self-judge; ground truth from ``verdict`` with the oracle
        judge), record the
        use of the items its agents were shown, and learn by :attr:`mode`."""
        t0 = time.perf_counter()
        cfg = self.config
        report = TaskLearning(
            task_id=task.id, graph=str(getattr(result, "graph", "") or ""), mode=cfg.mode,
            method=cfg.mode, shown=runs.shown_ids(result),
        )  # fmt: skip
        if isinstance(self.memory, SynthesisView):
            report.warnings += self.memory.take_notes(task.prompt)
        ledger = UsageLedger()
        task_budget = remaining_budget(result, task.id) if cfg.task_budget else None
        own = None
        if cfg.max_tokens is not None or cfg.max_usd is not None:
            own = Budget(max_tokens=cfg.max_tokens, max_usd=cfg.max_usd, name="memory learning")
        with scope(budget=task_budget, ledger=ledger, task=task.id, node="memory", role="learner"):
            with scope(budget=own):
                try:
                    await self._learn(task, result, verdict, report)
                except BudgetExceeded as exc:
                    record_warning(report.warnings, f"learning stopped by the budget: {exc}")
                    report.budget_stopped = True
        totals = ledger.totals()
        report.tokens, report.calls, report.cost_usd = totals.total_tokens, totals.calls, totals.cost_usd  # fmt: skip
        report.seconds = time.perf_counter() - t0
        self.stats.add(report)
        every = cfg.consolidate_every
        if every and self.stats.tasks % every == 0:
            await self.bank.consolidate()
        return report

    # --- steps --------------------------------------------------------------------------

    async def _learn(
        self, task: runs.TaskLike, result: Any, verdict: Any, report: TaskLearning
    ) -> None:
        if result is None:
            report.skipped = "no run result to learn from"
            return
        v = ground_truth(verdict) if self.config.judge == "oracle" else None
        if v is None:
            judged = await self_judge(self.model, runs.winner_trajectory(task, result))
            report.warnings += judged.warnings
            v = judged.verdict
        if v is None:
            report.skipped = "no verdict: the task has no ground truth and the self-judge did not answer"  # fmt: skip
            return
        report.outcome, report.judge, report.rationale = v.outcome, v.judge, v.rationale
        used = runs.expand_ids(report.shown)
        if used and self.config.record_use:
            report.used_recorded = await self.bank.record_use(used, v.outcome)
        if self.config.once_per_task:
            if task.id in self._learned:
                report.skipped = "already learned from this task (once_per_task)"
                return
            self._learned.add(task.id)
        mode = self.config.mode
        if mode == "cheatsheet_cumulative":
            await self._curate(task, result, v, report)
            return
        got: LearnResult | None = None
        if mode == "matts_parallel":
            got = await self._contrast(task, result, v, report)
        elif mode == "matts_sequential":
            got = await self._sequence(task, result, v, report)
        if got is None:  # reasoningbank, synthesis, or a MaTTS fallback
            got = await extract_items(
                self.model, runs.winner_trajectory(task, result), v,
                max_items=self.config.items_for("reasoningbank"), limits=self.bank.limits,
                verbatim_words=self.config.verbatim_words,
            )  # fmt: skip
        report.warnings += got.warnings
        if got.items:
            report.items = await self.bank.add(got.items)

    async def _labelled(
        self, task: runs.TaskLike, result: Any, samples: list[NodeOutput], v: Judgement,
        report: TaskLearning,
    ) -> list[Judgement | None]:  # fmt: skip
        keys = {c.id: c.key for c in (result.candidates if result is not None else [])}
        labels = await sample_verdicts(
            self.model, task, samples, runs.winner_output(result), v, keys=keys,
            self_judge_unknown=self.config.judge_samples, warnings=report.warnings,
            oracle=self.config.judge == "oracle",
        )  # fmt: skip
        report.samples = len(samples)
        report.sample_outcomes = [x.outcome if x else None for x in labels]
        return labels

    async def _contrast(
        self, task: runs.TaskLike, result: Any, v: Judgement, report: TaskLearning
    ) -> LearnResult | None:
        samples = runs.candidate_outputs(result)[: self.config.max_attempts]
        if len(samples) < 2:
            report.method = "reasoningbank"
            report.notes.append(f"matts_parallel needs 2+ candidates, the run had {len(samples)}")
            return None
        labels = await self._labelled(task, result, samples, v, report)
        attempts = [runs.agent_trajectory(task, s) for s in samples]
        return await extract_contrastive(
            self.model, attempts, labels, max_items=self.config.items_for("matts_parallel"),
            limits=self.bank.limits, verbatim_words=self.config.verbatim_words,
        )  # fmt: skip

    async def _sequence(
        self, task: runs.TaskLike, result: Any, v: Judgement, report: TaskLearning
    ) -> LearnResult | None:
        chain = runs.refinement_chain(result, max_len=self.config.max_attempts)
        if len(chain) < 2:
            report.method = "reasoningbank"
            report.notes.append("matts_sequential needs a refinement chain; the run had one round")
            return None
        labels = await self._labelled(task, result, chain, v, report)
        attempts = [runs.agent_trajectory(task, s) for s in chain]
        return await extract_sequential(
            self.model, attempts, labels, max_items=self.config.items_for("matts_sequential"),
            limits=self.bank.limits, verbatim_words=self.config.verbatim_words,
        )  # fmt: skip

    async def _curate(
        self, task: runs.TaskLike, result: Any, v: Judgement, report: TaskLearning
    ) -> None:
        cfg = self.config
        trajectory = runs.winner_trajectory(task, result)
        for attempt in range(cfg.curate_retries + 1):
            sheet = await self.sheets.load(cfg.sheet_name, max_chars=cfg.sheet_chars)
            res = await curate(self.model, sheet, trajectory, v, verbatim_words=cfg.verbatim_words)
            report.warnings += res.warnings
            if not res.accepted:
                return
            new = res.sheet
            if task.id not in new.sources:
                new = new.model_copy(update={"sources": [*new.sources, task.id]})
            if await self.sheets.save(cfg.sheet_name, new, expected_version=sheet.version):
                report.sheet_version = new.version
                return
            report.notes.append(
                f"the sheet changed during curation (attempt {attempt + 1}); curating again"
            )
        record_warning(
            report.warnings,
            f"cheatsheet not updated: other writers kept changing it ({cfg.curate_retries + 1} tries)",
        )
