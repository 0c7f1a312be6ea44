"""REINFORCE: the update, replay, convergence on an analytic landscape, LLM feedback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import optuna

from thinktank.evals.tasks.task import Task
from thinktank.graphs.spec import GraphSpec
from thinktank.llm.testing import ScriptedModel
from thinktank.optimize import (
    FunctionObjective,
    Policy,
    ReinforceConfig,
    SearchSpace,
    Study,
    StudyConfig,
    TaskOutcome,
)
from thinktank.optimize.reinforce import EDITS_ATTR, replay

SPACE = SearchSpace.from_yaml(
    """
name: analytic
nodes:
  - {id: solver, role: solver, n: [1, 2, 4, 8], temperature: [0.2, 0.7, 1.0]}
  - {id: verifier, role: verifier, present: [false, true]}
edges: [{source: solver, target: verifier, optional: false}]
selection: [vote, verifier]
"""
)
TASKS = [Task(id=f"t{i}", kind="math", prompt=f"question {i}", expected="1") for i in range(20)]


def accuracy(spec: GraphSpec) -> float:
    s = spec.node("solver")
    acc = 0.2 + 0.06 * s.n.bit_length() + (0.1 if s.model == "large" else 0.0)
    acc += 0.25 if spec.selection.method == "verifier" else 0.0
    acc -= 0.1 * abs((s.temperature or 0.7) - 0.7)
    return min(acc, 1.0)


def outcome(spec: GraphSpec, task: Task, seed: int) -> TaskOutcome:
    u = int(hashlib.sha256(f"{spec.description}|{task.id}|{seed}".encode()).hexdigest()[:8], 16)
    correct = u / 2**32 < accuracy(spec)
    return TaskOutcome(task_id=task.id, status="ok", correct=correct, cost=0.0)


def evaluator() -> FunctionObjective:
    return FunctionObjective(outcome, aliases=["small", "large"])


def test_an_update_moves_probability_toward_rewarded_options() -> None:
    policy = Policy({"n": [1, 2, 4], "edge": [False, True]})
    cfg = ReinforceConfig(lr=1.0, batch=3)
    batch = [({"n": 4, "edge": True}, 1.0), ({"n": 1, "edge": False}, 0.0), ({"n": 2}, 0.2)]
    policy.update(batch, cfg)
    assert policy.probs("n")[2] > 1 / 3 > policy.probs("n")[0]
    assert policy.probs("edge")[1] > 0.5
    assert policy.baseline is not None and 0 < policy.baseline < 1


def test_replay_is_deterministic_and_applies_edits_after_their_batch() -> None:
    dims = {"n": [1, 2, 4]}
    past = [({"n": 4}, 1.0), ({"n": 1}, 0.0)] * 3
    cfg = ReinforceConfig(batch=2)
    a = replay(dims, past, {}, cfg)
    b = replay(dims, past, {}, cfg)
    assert a.logits == b.logits and a.batches == 3
    edited = replay(dims, past, {"1": [{"dimension": "n", "option": "2", "delta": 5.0}]}, cfg)
    assert edited.probs("n")[1] > a.probs("n")[1]  # the edit is clipped to max_edit, still up


def test_reinforce_concentrates_on_the_best_options() -> None:
    cfg = StudyConfig(algo="reinforce", seed=3, max_evals=30, reinforce=ReinforceConfig(batch=4))
    result = Study(SPACE, TASKS, evaluator(), cfg).run_sync()  # in memory
    past = [(t.params, t.score or 0.0) for t in result.trials if t.status in ("complete", "cached")]
    policy = replay({"selection": ["vote", "verifier"]}, past, {}, cfg.reinforce)
    assert policy.probs("selection")[1] > 0.6  # verifier selection is worth +0.25
    assert result.best is not None and result.best_spec is not None
    assert result.best_spec.selection.method == "verifier"


def test_llm_feedback_edits_the_distribution(tmp_path: Path) -> None:
    reply = json.dumps(
        {
            "rationale": "verifier selection wins; more samples help",
            "changes": [
                {"dimension": "selection", "option": "verifier", "delta": 1.5},
                {"dimension": "solver.n", "option": "8", "delta": 9.0},
                {"dimension": "solver.wings", "option": "2", "delta": 1.0},
                {"dimension": "solver.n", "option": "16", "delta": 1.0},
            ],
        }
    )
    model = ScriptedModel([reply] * 10)
    cfg = StudyConfig(
        algo="reinforce",
        seed=4,
        max_evals=12,
        reinforce=ReinforceConfig(batch=4, feedback_every=1, max_edit=2.0),
    )
    result = Study(
        SPACE, TASKS, evaluator(), cfg, out_dir=tmp_path, feedback_model=model, plots=False
    ).run_sync()
    assert result.evaluations >= 8
    study = optuna.load_study(study_name=cfg.name, storage=f"sqlite:///{tmp_path / 'study.db'}")
    edits = study.user_attrs[EDITS_ATTR]
    assert edits["1"] == [
        {"dimension": "selection", "option": "verifier", "delta": 1.5},
        {"dimension": "solver.n", "option": "8", "delta": 2.0},  # clipped to max_edit
    ]
    notes = study.user_attrs["feedback_1"]
    assert "verifier selection wins" in notes["rationale"]
    assert any("solver.wings" in d for d in notes["dropped"])
    assert any("'16'" in d for d in notes["dropped"])
    # the model saw the distribution and the results
    prompt = str(model.requests[0].messages[-1]["content"])
    assert "solver.n" in prompt and "accuracy" in prompt
