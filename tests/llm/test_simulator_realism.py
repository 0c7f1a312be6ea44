"""The synthetic mode can say no: a dominant distractor, verifiers with a shared blind spot
that lose discrimination on hard questions, prompt-dependent draws (a relevant lesson
helps, an irrelevant one does nothing, a wrong one hurts), revisers that fix and break
answers at set rates, critics that flag, a CEO that decides.

Simulated runs are checked against the exact values of ``thinktank.llm.simulator.analytic``
within 4 standard errors (the draws are seeded, so each check is deterministic; the margin
keeps it true for other seeds). The statistical checks call the simulator's decision engine
in-process (the same code the HTTP server runs, thousands of requests a second); the
graph-level checks go through HTTP.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from thinktank.graphs import compile
from thinktank.graphs.topologies import topology
from thinktank.llm import load_model
from thinktank.llm.simulator import (
    Boost,
    SimulatorConfig,
    SimulatorEngine,
    SimulatorServer,
    SyntheticConfig,
    TaskSet,
    extract_answer,
    normalize_answer,
)
from thinktank.llm.simulator.analytic import (
    best_of_n_accuracy,
    judge_accuracy,
    verifier_rates,
    vote_accuracy,
    wrong_shares,
)
from thinktank.llm.simulator.config import Revision
from thinktank.llm.simulator.synthetic import discrimination

VERIFIER = "You are the verifier. Check whether the candidate answer is correct."
REFINER = "You are the refiner. Improve the previous answer using the feedback."
JUDGE = "You are the judge. Pick the best of the numbered candidates."
FUSER = "You are the fuser. Synthesize one answer from the candidates."


def engine(tasks: TaskSet, seed: int = 7, **synthetic: Any) -> SimulatorEngine:
    return SimulatorEngine(
        SimulatorConfig(seed=seed, synthetic=SyntheticConfig(tasks=tasks, **synthetic))
    )


def ask(
    eng: SimulatorEngine,
    user: str,
    *,
    system: str | None = None,
    n: int = 1,
    seed: int = 0,
    model: str = "sim",
) -> list[str]:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    body = {"model": model, "messages": messages, "n": n, "seed": seed}
    plan = eng.plan(json.dumps(body).encode(), {})
    assert plan.error is None, plan.error
    return [c.text or "" for c in plan.choices]


def close(measured: float, expected: float, trials: int, sigmas: float = 4.0) -> bool:
    se = math.sqrt(max(expected * (1 - expected), 1e-4) / trials)
    return abs(measured - expected) <= sigmas * se


def split_vote(answers: list[str | None], right: Callable[[str | None], bool]) -> float:
    """1/k when the right answer is one of the k tied leaders of the vote, else 0."""
    counts = Counter(normalize_answer(a) for a in answers if a is not None)
    top = max(counts.values())
    leaders = [a for a, c in counts.items() if c == top]
    return 1.0 / len(leaders) if any(right(a) for a in leaders) else 0.0


# --- selection: the distractor and the verifier's blind spot ---------------------------------


@pytest.mark.parametrize("p", [0.3, 0.55])
def test_majority_vote_with_a_distractor_matches_the_analytic_value(p: float) -> None:
    trials, n = 2500, 5
    tasks = TaskSet.generate(trials, seed=3, p_correct=p)
    eng = engine(tasks)
    got = 0.0
    for q in tasks.questions:
        answers = [extract_answer(t) for t in ask(eng, q.question, n=n)]
        got += split_vote(answers, q.is_correct)
    expected = vote_accuracy(p, wrong_shares(3, 0.6), n)
    assert close(got / trials, expected, trials), (got / trials, expected)
    if p < 0.375:  # the distractor (60% of wrong samples) outpolls the right answer:
        assert vote_accuracy(p, wrong_shares(3, 0.6), 15) < p  # more votes, worse
    # the old simulator spread wrong answers evenly: the vote always helped
    assert (
        vote_accuracy(p, wrong_shares(3, None), 15) > vote_accuracy(p, wrong_shares(3, None), n) > p
    )


def test_the_distractor_takes_its_share_of_wrong_samples() -> None:
    tasks = TaskSet.generate(200, seed=5, p_correct=0.2)
    eng = engine(tasks)
    shares = Counter()
    for q in tasks.questions:
        options, _ = tasks.wrong_choices(q)
        for t in ask(eng, q.question, n=20):
            a = extract_answer(t)
            if not q.is_correct(a):
                shares["distractor" if a == options[0] else "other"] += 1
    wrong = shares["distractor"] + shares["other"]
    assert close(shares["distractor"] / wrong, 0.6, wrong)


@pytest.mark.parametrize("blind_spot", [0.0, 0.5, 1.0])
def test_best_of_n_with_a_correlated_verifier_matches_the_analytic_value(
    blind_spot: float,
) -> None:
    trials, n, p = 1500, 4, 0.4
    tasks = TaskSet.generate(trials, seed=4, p_correct=p)
    eng = engine(tasks, blind_spot=blind_spot)
    hits = 0
    for q in tasks.questions:
        answers = [extract_answer(t) or "" for t in ask(eng, q.question, n=n, seed=1)]
        scores = []
        for i, a in enumerate(answers):
            user = f"Task:\n{q.question}\n\nCandidate answer: {a}"
            [reply] = ask(eng, user, system=VERIFIER, seed=100 + i)
            scores.append(json.loads(reply)["score"])
        hits += q.is_correct(answers[scores.index(max(scores))])
    tpr, fpr = verifier_rates(p, 0.9, 0.1, 0.6)
    expected = best_of_n_accuracy(p, wrong_shares(3, 0.6), n, tpr, fpr, blind_spot)
    assert close(hits / trials, expected, trials), (hits / trials, expected)


def test_a_stronger_blind_spot_lowers_best_of_n_and_narrows_extra_verifiers() -> None:
    """What the blind spot does to verification, analytically: best-of-n falls as the
    shared part of the verifier's errors grows, and the gain of a 3-verifier majority
    over one verifier (what multi-agent verification buys) shrinks to nothing."""
    shares, tpr, fpr = wrong_shares(), *verifier_rates(0.4)
    acc = [best_of_n_accuracy(0.4, shares, 8, tpr, fpr, r) for r in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert acc == sorted(acc, reverse=True) and acc[0] - acc[-1] > 0.015

    def majority(rate: float, rho: float) -> float:  # one candidate, 3 calls
        free = rate**3 + 3 * rate**2 * (1 - rate)
        return rho * rate + (1 - rho) * free

    gains = [
        best_of_n_accuracy(0.4, shares, 8, majority(tpr, r), majority(fpr, r), 0.0)
        - best_of_n_accuracy(0.4, shares, 8, tpr, fpr, 0.0)
        for r in (0.0, 0.5, 1.0)
    ]
    assert gains[0] > gains[1] > gains[2] == pytest.approx(0.0, abs=1e-9)
    # the same through ``calls``: 3 calls per sample, inside the blind spot they agree
    three = best_of_n_accuracy(0.4, shares, 8, tpr, fpr, 1.0, calls=3)
    assert three == pytest.approx(best_of_n_accuracy(0.4, shares, 8, tpr, fpr, 1.0))
    free = best_of_n_accuracy(0.4, shares, 8, majority(tpr, 0.0), majority(fpr, 0.0), 0.0)
    assert best_of_n_accuracy(0.4, shares, 8, tpr, fpr, 0.0, calls=3) == pytest.approx(free)


def test_verifier_calls_share_a_blind_spot_across_calls_and_models() -> None:
    trials, rho = 3000, 0.5
    tasks = TaskSet.generate(trials, seed=6, p_correct=0.5)
    eng = engine(tasks, blind_spot=rho, verifier_difficulty=0.0, verifier_fpr=0.3)
    all_three = cross = 0
    for q in tasks.questions:
        wrong = tasks.wrong_choices(q)[0][0]
        user = f"Task:\n{q.question}\n\nCandidate answer: {wrong}"
        verdicts = [json.loads(t)["verdict"] for t in ask(eng, user, system=VERIFIER, n=3)]
        all_three += all(verdicts)
        [other] = ask(eng, user, system=VERIFIER, seed=50, model="sim-large")
        cross += verdicts[0] and json.loads(other)["verdict"]
    assert close(all_three / trials, rho * 0.3 + (1 - rho) * 0.3**3, trials)
    assert close(cross / trials, rho * 0.3 + (1 - rho) * 0.3**2, trials)  # another model too


def test_verifier_discrimination_falls_with_difficulty() -> None:
    trials = 1500
    for p in (0.95, 0.15):
        tasks = TaskSet.generate(trials, seed=8, p_correct=p, id_prefix=f"d{p}-")
        eng = engine(tasks, blind_spot=0.0)
        accepted = Counter()
        for q in tasks.questions:
            for label, cand in (("right", q.answer), ("wrong", tasks.wrong_choices(q)[0][0])):
                user = f"Task:\n{q.question}\n\nCandidate answer: {cand}"
                accepted[label] += json.loads(ask(eng, user, system=VERIFIER)[0])["verdict"]
        tpr, fpr = verifier_rates(p, 0.9, 0.1, 0.6)
        assert close(accepted["right"] / trials, tpr, trials)
        assert close(accepted["wrong"] / trials, fpr, trials)
    assert verifier_rates(0.15) == pytest.approx((0.696, 0.304))  # g = 1 - 0.6 * 0.85
    assert verifier_rates(1.0) == pytest.approx((0.9, 0.1))


def test_a_judge_moves_toward_chance_on_hard_questions() -> None:
    trials, n, p = 2000, 4, 0.3
    tasks = TaskSet.generate(trials, seed=9, p_correct=p)
    eng = engine(tasks)
    hits = 0
    for q in tasks.questions:
        texts = ask(eng, q.question, n=n, seed=3)
        answers = [extract_answer(t) for t in texts]
        blocks = "\n\n".join(f"Candidate {i}:\nAnswer: {a}" for i, a in enumerate(answers, 1))
        [reply] = ask(eng, f"Task:\n{q.question}\n\n{blocks}", system=JUDGE, seed=9)
        hits += q.is_correct(answers[json.loads(reply)["best"] - 1])
    expected = judge_accuracy(p, n, 0.8, discrimination(p, 0.6))
    assert close(hits / trials, expected, trials), (hits / trials, expected)


# --- prompts matter: lessons ----------------------------------------------------------------


def test_relevant_lessons_help_irrelevant_ones_do_nothing_wrong_ones_hurt() -> None:
    trials, p = 3000, 0.4
    base = TaskSet.generate(trials, seed=10, p_correct=p, families=2, boost_delta=0.25)
    wrong_lesson = "always add the numbers first"
    tasks = TaskSet(questions=base.questions, boosts=[Boost(text=wrong_lesson, delta=-0.2)])
    eng = engine(tasks)
    family = [tasks.questions[0].boosts[0].text, tasks.questions[1].boosts[0].text]
    lessons: dict[str, Callable[[int], str]] = {
        "plain": lambda i: "",
        "relevant": lambda i: family[i % 2],
        "irrelevant": lambda i: family[1 - i % 2],
        "wrong": lambda i: wrong_lesson,
    }
    outcomes: dict[str, list[bool]] = {}
    for name, lesson in lessons.items():
        outcomes[name] = []
        for i, q in enumerate(tasks.questions):
            system = "You are the solver." + (f"\nLessons:\n1. {lesson(i)}" if lesson(i) else "")
            [text] = ask(eng, q.question, system=system, seed=2)
            outcomes[name].append(q.is_correct(extract_answer(text)))
    acc = {k: sum(v) / trials for k, v in outcomes.items()}
    assert close(acc["plain"], p, trials)
    assert close(acc["relevant"], p + 0.25, trials)
    assert close(acc["irrelevant"], p, trials)
    assert close(acc["wrong"], p - 0.2, trials)
    # a different prompt is a different sample: a lesson flips outcomes both ways, so
    # paired comparisons see worsened tasks even when the lesson helps on average
    flips = {}
    for name in ("relevant", "irrelevant", "wrong"):
        pairs = list(zip(outcomes["plain"], outcomes[name], strict=True))
        flips[name] = (sum(b and not a for a, b in pairs), sum(a and not b for a, b in pairs))
    improved, worsened = flips["relevant"]
    assert worsened > 0.1 * trials and improved > 2 * worsened  # p(1-p-d) vs (1-p)(p+d)
    improved, worsened = flips["irrelevant"]
    assert worsened > 0.2 * trials and abs(improved - worsened) < 4 * math.sqrt(0.48 * trials)
    improved, worsened = flips["wrong"]
    assert worsened > 2 * improved


def test_prompt_sensitivity_zero_keeps_samples_paired() -> None:
    tasks = TaskSet.generate(400, seed=11, p_correct=0.5, families=1, boost_delta=0.0)
    eng = engine(tasks, prompt_sensitivity=0.0)
    for q in tasks.questions[:50]:
        a = ask(eng, q.question, system="You are the solver.", seed=4)
        b = ask(eng, q.question, system="You are the solver. Think it through.", seed=4)
        assert extract_answer(a[0]) == extract_answer(b[0])


def test_lures_are_learned_only_from_attempts_presented_as_successes() -> None:
    tasks = TaskSet.generate(4, seed=12, p_correct=0.0, families=1, lure_delta=-0.2)
    q = tasks.questions[0]
    lure = q.boosts[1].text
    eng = engine(tasks)
    [wrong] = ask(eng, q.question)
    assert lure in wrong and q.boosts[0].text not in wrong  # a failed attempt shows its lure
    extractor = "You are a memory extractor. Distil strategies."
    for outcome, learned in (("success", True), ("failure", False)):
        user = f"Task: {q.question}\n[1] answer: {wrong}\n\nOutcome: {outcome} (self_judge)"
        [reply] = ask(eng, user, system=extractor)
        items = [i["content"] for i in json.loads(reply)["items"]]
        assert (lure in items) is learned
    contrast = (
        f"Task: {q.question}\n\n### Attempt 1 (failure)\n{wrong}\n\n### Attempt 2 (success)\nok"
    )
    assert json.loads(ask(eng, contrast, system=extractor)[0])["items"] == []
    # in a prompt, the lure lowers success
    tasks2 = TaskSet.generate(2000, seed=12, p_correct=0.5, families=1, lure_delta=-0.2)
    eng2 = engine(tasks2)
    lure2 = tasks2.questions[0].boosts[1].text
    hits = sum(
        q2.is_correct(extract_answer(ask(eng2, q2.question, system=f"Lesson: {lure2}")[0]))
        for q2 in tasks2.questions
    )
    assert close(hits / 2000, 0.3, 2000)


# --- interaction: revisers, critics, the CEO --------------------------------------------------


def _refine_prompt(question: str, previous: str, feedback: str | None) -> str:
    parts = [f"Task:\n{question}", f"Previous answer:\nI worked it out.\nAnswer: {previous}"]
    if feedback:
        parts.append(f"Feedback:\nIssues:\n- Candidate 1: the candidate {feedback}")
    return "\n\n".join(parts)


@pytest.mark.parametrize("state", ["none", "flagged", "endorsed"])
def test_revisers_fix_and_break_at_set_rates(state: str) -> None:
    trials, p = 2500, 0.6
    tasks = TaskSet.generate(trials, seed=13, p_correct=p)
    eng = engine(tasks)
    rv = Revision()
    redo = {"none": rv.redo, "flagged": rv.redo_flagged, "endorsed": rv.redo_endorsed}[state]
    kept_right = fixed = 0
    for q in tasks.questions:
        wrong = tasks.wrong_choices(q)[0][0]
        for anchor in (q.answer, wrong):
            verdict = {"flagged": "does not match", "endorsed": "matches"}.get(state)
            fb = f"{anchor!r} {verdict} my own derivation." if verdict else None
            [text] = ask(eng, _refine_prompt(q.question, anchor, fb), system=REFINER, seed=5)
            ok = q.is_correct(extract_answer(text))
            if anchor == q.answer:
                kept_right += ok
            else:
                fixed += ok
    keep = 1 - redo * (1 - p)
    if state == "flagged":
        keep *= 1 - rv.yield_flagged
    assert close(kept_right / trials, keep, trials), (state, kept_right / trials, keep)
    assert close(fixed / trials, redo * p, trials), (state, fixed / trials, redo * p)


def test_a_fuser_anchors_on_a_judged_pick() -> None:
    trials, n, p = 2000, 3, 0.4
    tasks = TaskSet.generate(trials, seed=14, p_correct=p)
    eng = engine(tasks)
    hits = 0
    for q in tasks.questions:
        answers = [extract_answer(t) for t in ask(eng, q.question, n=n, seed=6)]
        blocks = "\n\n".join(f"Candidate {i}:\nAnswer: {a}" for i, a in enumerate(answers, 1))
        [text] = ask(eng, f"Task:\n{q.question}\n\n{blocks}", system=FUSER, seed=8)
        hits += q.is_correct(extract_answer(text))
    # the pick is right with the judge's accuracy; then kept or re-derived (redo 0.3)
    pick = judge_accuracy(p, n, 0.8, discrimination(p, 0.6))
    expected = pick * (1 - 0.3 * (1 - p)) + (1 - pick) * 0.3 * p
    assert close(hits / trials, expected, trials), (hits / trials, expected)


def test_a_critic_flags_wrong_answers_and_endorses_right_ones() -> None:
    tasks = TaskSet.generate(1, seed=15, p_correct=0.9)
    q = tasks.questions[0]
    eng = engine(tasks, blind_spot=0.0)
    wrong = tasks.wrong_choices(q)[0][0]
    user = (
        f"Task:\n{q.question}\n\nProposed solutions:\n\nCandidate 1:\nAnswer: {q.answer}"
        f"\n\nCandidate 2:\nAnswer: {wrong}"
    )
    replies = [
        json.loads(t)
        for s in range(0, 400, 100)
        for t in ask(eng, user, system="You are the critic.", n=100, seed=s)
    ]
    flagged_right = sum(any(i.startswith("Candidate 1:") for i in r["issues"]) for r in replies)
    flagged_wrong = sum(any(i.startswith("Candidate 2:") for i in r["issues"]) for r in replies)
    tpr, fpr = verifier_rates(0.9)
    assert close(flagged_right / 400, 1 - tpr, 400)
    assert close(flagged_wrong / 400, 1 - fpr, 400)


def test_the_ceo_decides_and_the_graph_obeys() -> None:
    import asyncio

    tasks = TaskSet.generate(30, seed=16, p_correct=(0.2, 0.9))
    with SimulatorServer(SimulatorConfig(seed=3, synthetic=SyntheticConfig(tasks=tasks))) as sim:
        model = load_model(f"openai:sim@{sim.base_url}")
        graph = compile(topology("ceo:solvers=2,critics=2,rounds=3"), models=model)

        async def run_all() -> list[Any]:
            return [
                await graph.run({"id": q.id, "prompt": q.question, "kind": "math"}, seed=1)
                for q in tasks.questions
            ]

        results = asyncio.run(run_all())
        roles = sim.stats()["roles"]
    events = [e.kind for r in results for e in r.trace.events]
    assert "decision_missing" not in events
    assert all(r.decisions for r in results)
    statuses = Counter(r.status.value for r in results)
    assert statuses["stopped_by_ceo"] > 0 and statuses["max_rounds"] > 0, statuses
    recruited = {d.recruit for r in results for d in r.decisions if d.action == "continue"}
    assert recruited and max(recruited) >= 2  # disagreement or a flag recruits more critics
    assert roles.get("ceo", 0) > 0 and roles.get("critic", 0) > 0 and roles.get("reviser", 0) > 0


def test_realistic_draws_are_deterministic_per_seed() -> None:
    tasks = TaskSet.generate(20, seed=17, p_correct=0.5)
    prompts = []
    for q in tasks.questions:
        prompts.append((None, q.question))
        prompts.append((VERIFIER, f"Task:\n{q.question}\n\nCandidate answer: {q.answer}"))
        prompts.append((REFINER, _refine_prompt(q.question, q.answer, None)))
    order = list(range(len(prompts)))
    random.Random(1).shuffle(order)
    first = {i: ask(engine(tasks), prompts[i][1], system=prompts[i][0], n=3) for i in order}
    eng = engine(tasks)
    again = {i: ask(eng, u, system=s, n=3) for i, (s, u) in enumerate(prompts)}
    assert first == again
    other = {i: ask(engine(tasks, seed=8), u, system=s, n=3) for i, (s, u) in enumerate(prompts)}
    assert other != first


def test_a_self_judge_asked_for_words_answers_with_its_verdict() -> None:
    """A judge whose schema wants ``"success" | "failure"`` gets the verdict in those words
    (not the schema's first value), so a self-judging learner is as fallible as a verifier."""
    tasks = TaskSet.generate(600, seed=18, p_correct=0.9)
    eng = engine(tasks, blind_spot=0.0)
    schema = {
        "type": "object",
        "properties": {
            "outcome": {"enum": ["success", "failure"], "type": "string"},
            "rationale": {"type": "string"},
        },
        "required": ["outcome", "rationale"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "judge", "schema": schema}}
    said = Counter()
    for q in tasks.questions:
        wrong = tasks.wrong_choices(q)[0][0]
        for label, answer in (("right", q.answer), ("wrong", wrong)):
            messages = [
                {"role": "system", "content": "You judge whether an agent solved its task."},
                {
                    "role": "user",
                    "content": f"Task: {q.question}\nFinal answer: \\boxed{{{answer}}}",
                },
            ]
            body = {"model": "sim", "messages": messages, "seed": 1, "response_format": fmt}
            plan = eng.plan(json.dumps(body).encode(), {})
            said[label, json.loads(plan.choices[0].text or "")["outcome"]] += 1
    tpr, fpr = verifier_rates(0.9)
    assert close(said["right", "success"] / 600, tpr, 600)
    assert close(said["wrong", "success"] / 600, fpr, 600)
