"""A study killed mid-way (SIGKILL) resumes: no cached evaluation repeated, same search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.optimize import landscape as L
from thinktank.optimize import EvalStore, RunnerObjective, Study, StudyConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG = StudyConfig(algo="tpe", seed=7, max_evals=7, startup_trials=3, prune=False, concurrency=2)


def study(out: str | Path, pool: dict[str, str]) -> Study:
    """The study both processes run (same settings, so the second resumes the first)."""
    evaluator = RunnerObjective(pool, environment_options=L.NO_TOOLS)
    return Study(L.space(), L.tasks(), evaluator, CONFIG, out_dir=out, plots=False)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_a_killed_study_resumes_without_repeating_cached_evaluations(tmp_path: Path) -> None:
    out, ref = tmp_path / "killed", tmp_path / "reference"
    with L.simulator() as (sim, pool):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.optimize._child", str(out), sim.base_url],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        log = out / "search_log.jsonl"
        deadline = time.monotonic() + 90
        while _lines(log) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.15)  # into the next evaluation
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        before = EvalStore(out / "evals.db").computed_counts()
        done_before = _lines(log)
        assert 3 <= done_before < 7

        stale = [t.number for t in _optuna(out).trials if t.state.name == "RUNNING"]
        resumed = study(out, pool).run_sync()
        reference = study(ref, pool).run_sync()

    counts = EvalStore(out / "evals.db").computed_counts()
    assert set(counts.values()) == {1}, "a cached evaluation ran again"
    assert set(before) <= set(counts)
    assert resumed.sessions == 2 and resumed.evaluations == 7
    # seeds make the search reproducible: the resumed study proposed what an
    # uninterrupted one proposes, and found the same best graph
    keys = [t.key for t in resumed.trials if t.evaluation is not None]
    assert keys == [t.key for t in reference.trials if t.evaluation is not None], _show(
        resumed, reference
    )
    assert resumed.best is not None and reference.best is not None
    assert resumed.best.key == reference.best.key
    assert resumed.best.score == reference.best.score
    # the crash is on record: trials before it kept, the cut-short one proposed again
    lines = [json.loads(x) for x in (out / "search_log.jsonl").read_text().splitlines()]
    assert len(lines) == len(resumed.trials)
    if stale:  # killed mid-evaluation (the usual case): that trial was failed and re-proposed
        trials = _optuna(out).trials
        assert trials[stale[0]].state.name == "FAIL"
        assert any(t.user_attrs.get("resumed_from") == stale[0] for t in trials)


def test_a_crash_between_a_trials_record_and_its_tell_does_not_shift_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The narrow window the kill above hits now and then on a loaded machine: the
    trial's record is stored, its tell is not. Resumed, the search is the uninterrupted
    one, trial for trial (the cut-short trial proposed again, its evaluation cached)."""

    class Crash(Exception):
        pass

    tell, told = optuna.Study.tell, []

    def crashing_tell(self: optuna.Study, trial: Any, *args: Any, **kwargs: Any) -> Any:
        told.append(trial)
        if len(told) == 4:  # the fourth trial (index 3): recorded, never told
            raise Crash
        return tell(self, trial, *args, **kwargs)

    out, ref = tmp_path / "crashed", tmp_path / "reference"
    with L.simulator() as (_, pool):
        monkeypatch.setattr(optuna.Study, "tell", crashing_tell)
        with pytest.raises(Crash):
            study(out, pool).run_sync()
        monkeypatch.undo()
        cut = [t for t in _optuna(out).trials if t.state.name == "RUNNING"]
        assert len(cut) == 1 and "record" in cut[0].user_attrs  # the window, reproduced
        resumed = study(out, pool).run_sync()
        reference = study(ref, pool).run_sync()

    def search(result: Any) -> list[tuple[int, str | None, str]]:
        return [(t.index, t.key, t.status) for t in result.trials]

    assert search(resumed) == search(reference), _show(resumed, reference)
    assert [t.index for t in resumed.trials] == list(range(len(resumed.trials)))
    assert resumed.evaluations == reference.evaluations == 7
    assert resumed.best is not None and reference.best is not None
    assert resumed.best.key == reference.best.key


def _show(resumed: Any, reference: Any) -> str:
    """Both searches, trial by trial (what differs is the clue when the keys do)."""
    return "\n".join(
        f"{name} {t.index} {t.status} {t.key} acc={t.accuracy} cost={t.cost} {t.reason}"
        for name, r in (("resumed", resumed), ("reference", reference))
        for t in r.trials
    )


def _optuna(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=CONFIG.name, storage=f"sqlite:///{out / 'study.db'}")
