"""Test-time-scaling curves on the simulator's synthetic task mode (realistic defaults).

500 synthetic arithmetic questions of mixed difficulty (half easy, p(correct) in
[0.85, 0.99]; 30% medium, [0.5, 0.85]; 20% hard, [0.05, 0.5]; three plausible
wrong answers each, the first — the distractor — taking 60% of wrong samples, so a vote
can settle on it). Accuracy and samples used for: ``single``; SC@{1,2,4,8,16}
(majority vote); adaptive SC (``self_consistency``: waves of 2 until the full
16-sample vote is settled with probability 0.95, at least 4 samples) and, for
comparison, the classic posterior rule (Adaptive-Consistency's Beta criterion,
waves of 4); BoN@8 with a verifier of set TPR/FPR on easy questions (falling toward
chance on hard ones, with a blind spot shared by calls on one answer: the simulator's
``verifier_difficulty`` 0.6 and ``blind_spot`` 0.5). Every strategy runs through
compiled graphs against the simulator in its own process.

SC@k for k < 16 is the vote over the first k samples of the SC@16 run: samples
are seeded by (run seed, task, node, round, index), so an SC@k graph would draw
exactly those samples. Adaptive SC draws the same seeded samples too, so its gap
to SC@16 measures only what stopping early gave up.

The blind-spot curve: multi-agent verification (``mav:n=8,k=3``, the most approvals of
3 aspect verifiers) against best-of-8 with one verifier call per sample, on the same
samples, as the simulator's ``blind_spot`` goes from 0 (independent verifier errors) to
1 (every call on an answer agrees): what the extra verifiers add shrinks as their errors
become shared (``--curve-questions``, 300 by default, 60 with ``--quick`` on 3 points; 0:
skip). What remains at 1 is the approval count letting the vote break ties among
accepted candidates, where best-of-n picks by score.

Transport: the full run talks HTTP to the simulator in its own process
(:class:`SimulatorProcess`); ``--quick`` calls the simulator's decision engine
in-process (:class:`EngineModel`, no HTTP), which returns the same replies for the
same seeded requests, so the figures are identical — only faster (about 20,000
model calls). ``--http`` forces HTTP. The curve always uses the engine.

JSON: ``value`` = accuracy gap (SC@16 minus adaptive, points); ``ratio`` =
adaptive samples / SC@16 samples. Target: gap <= 0.5 points with ratio <= 0.5.
``mav_minus_bon`` gives the curve (points, per blind-spot strength).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from _common import emit, parser

from thinktank.graphs import compile
from thinktank.graphs.answers import vote
from thinktank.graphs.state import NodeOutput
from thinktank.graphs.topologies import best_of_n, mav, self_consistency, single
from thinktank.llm.base import ChatModel
from thinktank.llm.openai import OpenAICompatModel
from thinktank.llm.simulator import (
    Question,
    SimulatorConfig,
    SimulatorEngine,
    SimulatorProcess,
    SyntheticConfig,
    TaskSet,
)
from thinktank.llm.types import ChatRequest, Completion, Usage

N_MAX = 16
TPR, FPR = 0.85, 0.15
TIERS = ((0.5, 0.85, 0.99), (0.3, 0.5, 0.85), (0.2, 0.05, 0.5))  # (share, low, high)


class EngineModel(ChatModel):
    """The simulator's decision engine as an in-process model (no HTTP, no latency)."""

    def __init__(self, config: SimulatorConfig, name: str = "sim") -> None:
        self.engine = SimulatorEngine(config)
        self.name = name
        self.model_id = f"engine:{name}"

    async def _generate(self, request: ChatRequest) -> list[Completion]:
        body = {"model": self.name, **request.model_dump(exclude_none=True)}
        plan = self.engine.plan(json.dumps(body).encode(), {})
        if plan.error is not None:
            raise RuntimeError(f"simulator engine: {plan.error}")
        prompt = int(plan.usage["prompt_tokens"])
        return [
            Completion(
                text=c.text or "",
                finish_reason=c.finish_reason,
                usage=Usage(prompt_tokens=prompt, completion_tokens=c.tokens),
                model=self.name,
            )
            for c in plan.choices
        ]


def questions(n: int, seed: int = 11) -> TaskSet:
    """``n`` questions whose success probabilities follow :data:`TIERS`."""
    rng = random.Random(seed)
    ps: list[float] = []
    for share, low, high in TIERS:
        ps += [round(rng.uniform(low, high), 4) for _ in range(round(share * n))]
    rng.shuffle(ps)
    base = TaskSet.generate(n, seed=seed)
    return TaskSet(
        questions=[
            Question(id=q.id, question=q.question, answer=q.answer, p_correct=p)
            for q, p in zip(base.questions, ps, strict=False)
        ]
    )


async def run_all(graph: Any, tasks: TaskSet, concurrency: int, seed: int = 0) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(q: Question) -> Any:
        async with sem:
            return await graph.run({"id": q.id, "prompt": q.question, "kind": "math"}, seed=seed)

    return await asyncio.gather(*(one(q) for q in tasks.questions))


def prefix_vote(result: Any, k: int) -> str | None:
    """The SC@k answer: majority over samples 0..k-1 of an SC run."""
    outs = sorted(result.trace.outputs, key=lambda o: o.sample)[:k]
    res = vote([o.answer for o in outs], "number")
    if res.winner is None:
        return None
    return next(o.answer for o, key in zip(outs, _keys(outs), strict=True) if key == res.winner)


def _keys(outs: list[NodeOutput]) -> list[str | None]:
    res = vote([o.answer for o in outs], "number")
    key_of = {i: key for key, idx in res.groups.items() for i in idx}
    return [key_of.get(i) for i in range(len(outs))]


def accuracy(tasks: TaskSet, answers: list[str | None]) -> float:
    return sum(q.is_correct(a) for q, a in zip(tasks.questions, answers, strict=True)) / len(
        answers
    )


async def sweep(
    model: ChatModel, tasks: TaskSet, concurrency: int
) -> list[tuple[str, float, float]]:
    """Run every strategy over ``tasks``; rows of (strategy, accuracy, samples per question)."""

    def run(spec: Any) -> Any:
        return run_all(compile(spec, models=model), tasks, concurrency)

    rows: list[tuple[str, float, float]] = []
    one = await run(single())
    rows.append(("single", accuracy(tasks, [r.answer for r in one]), 1.0))
    full = await run(self_consistency(N_MAX, adaptive=False))
    for k in (1, 2, 4, 8, 16):
        rows.append((f"SC@{k}", accuracy(tasks, [prefix_vote(r, k) for r in full]), k))
    adaptive = await run(self_consistency(N_MAX))
    used = sum(r.samples for r in adaptive) / len(adaptive)
    rows.append(("adaptive SC", accuracy(tasks, [r.answer for r in adaptive]), used))
    classic = await run(self_consistency(N_MAX, rule="posterior", wave=4, min_samples=4))
    used = sum(r.samples for r in classic) / len(classic)
    rows.append(("adaptive (post.)", accuracy(tasks, [r.answer for r in classic]), used))
    bon = await run(best_of_n(8, select="verifier"))
    rows.append(("BoN@8 verifier", accuracy(tasks, [r.answer for r in bon]), 8.0))
    return rows


async def measure(n_questions: int, *, http: bool) -> dict[str, Any]:
    tasks = questions(n_questions)
    cfg = SimulatorConfig(
        synthetic=SyntheticConfig(tasks=tasks, verifier_tpr=TPR, verifier_fpr=FPR), seed=5
    )
    t0 = time.perf_counter()
    if http:
        with SimulatorProcess(cfg) as sim:
            model: ChatModel = OpenAICompatModel("sim", base_url=sim.base_url, concurrency=32)
            try:
                rows = await sweep(model, tasks, 32)
            finally:
                await model.aclose()
    else:
        rows = await sweep(EngineModel(cfg), tasks, 64)
    return {
        "rows": rows,
        "wall": time.perf_counter() - t0,
        "questions": n_questions,
        "transport": "http" if http else "engine",
    }


BLIND_SPOTS = (0.0, 0.25, 0.5, 0.75, 1.0)


async def blind_spot_curve(n_questions: int, points: tuple[float, ...]) -> list[dict[str, Any]]:
    """MAV (8 samples x 3 aspect verifiers) vs best-of-8 with one verifier, per blind spot."""
    tasks = questions(n_questions, seed=13)
    rows = []
    for rho in points:
        synth = SyntheticConfig(tasks=tasks, verifier_tpr=TPR, verifier_fpr=FPR, blind_spot=rho)
        model = EngineModel(SimulatorConfig(synthetic=synth, seed=5))
        accs = {}
        for name, spec in (("bon", best_of_n(8, select="verifier")), ("mav", mav(8, 3))):
            results = await run_all(compile(spec, models=model), tasks, 64)
            accs[name] = accuracy(tasks, [r.answer for r in results])
        rows.append({"blind_spot": rho, **accs})
    return rows


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--questions", type=int, default=500)
    p.add_argument("--curve-questions", type=int, default=None)
    p.add_argument("--http", action="store_true", help="use HTTP even with --quick")
    args = p.parse_args()
    out = asyncio.run(measure(args.questions, http=args.http or not args.quick))
    curve_n = (
        args.curve_questions if args.curve_questions is not None else (60 if args.quick else 300)
    )
    points = (0.0, 0.5, 1.0) if args.quick else BLIND_SPOTS
    t0 = time.perf_counter()
    curve = asyncio.run(blind_spot_curve(curve_n, points)) if curve_n else []
    rows = {name: (acc, used) for name, acc, used in out["rows"]}
    print(f"{'strategy':16s} {'accuracy':>9s} {'samples/q':>10s}   ({out['questions']} questions)")
    for name, acc, used in out["rows"]:
        extra = "  + 8 verifier calls" if name.startswith("BoN") else ""
        print(f"{name:16s} {100 * acc:8.1f}% {used:10.2f}{extra}")
    print(
        f"(verifier TPR {TPR}, FPR {FPR}; {out['transport']} transport; wall {out['wall']:.1f} s)"
    )
    if curve:
        print(f"blind spot  BoN@8 verifier   MAV 8x3   MAV - BoN   ({curve_n} questions)")
        for r in curve:
            print(
                f"{r['blind_spot']:10.2f}  {100 * r['bon']:13.1f}%  {100 * r['mav']:7.1f}%  "
                f"{100 * (r['mav'] - r['bon']):+9.1f}"
            )
        print(f"(curve: engine transport, {time.perf_counter() - t0:.1f} s)")
    gap = 100 * (rows[f"SC@{N_MAX}"][0] - rows["adaptive SC"][0])
    ratio = rows["adaptive SC"][1] / N_MAX
    emit(
        "tts_curves",
        metric="adaptive SC accuracy gap to SC@16",
        value=gap,
        unit="points",
        baseline=100 * rows[f"SC@{N_MAX}"][0],
        ratio=ratio,
        target=0.5,
        ok=gap <= 0.5 and ratio <= 0.5,
        accuracy_adaptive=round(100 * rows["adaptive SC"][0], 2),
        samples_adaptive=round(rows["adaptive SC"][1], 3),
        questions=out["questions"],
        transport=out["transport"],
        sc16_accuracy=round(100 * rows[f"SC@{N_MAX}"][0], 2),
        single_accuracy=round(100 * rows["single"][0], 2),
        bon8_verifier_accuracy=round(100 * rows["BoN@8 verifier"][0], 2),
        mav_minus_bon={
            f"{r['blind_spot']:g}": round(100 * (r["mav"] - r["bon"]), 2) for r in curve
        },
        curve_questions=curve_n,
    )


if __name__ == "__main__":
    main()
