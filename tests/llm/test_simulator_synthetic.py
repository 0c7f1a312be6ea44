"""Synthetic task mode over real HTTP: accuracy statistics, verifiers, judges, boosts,
model skill, determinism, task files."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import openai
import pytest

from thinktank.llm.simulator import (
    IDEALISED,
    SimulatorConfig,
    SimulatorServer,
    TaskSet,
    extract_answer,
    load_config,
)

Sim = Callable[..., SimulatorServer]

QUESTIONS: list[dict[str, Any]] = [
    {"id": "q1", "question": "What is 6 times 7?", "answer": "42", "p_correct": 0.7,
     "wrong_answers": ["41", "48"], "wrong_weights": [3, 1]},
    {"id": "q2", "question": "Which planet is known as the red planet?", "answer": "Mars",
     "p_correct": 0.3, "wrong_answers": ["Venus", "Jupiter"],
     "boosts": [{"text": "recall planet colours", "delta": 0.4, "name": "planet colours"}]},
    {"id": "q3", "question": "Compute 120 divided by 8.", "answer": "15", "p_correct": 0.5},
]  # fmt: skip
VERIFIER = "You are a strict verifier. Judge whether the candidate answer is correct."
JUDGE = "You are a judge. Pick the best of the numbered candidates."


def synth(*, idealised: bool = False, **extra: Any) -> SimulatorConfig:
    """A config over QUESTIONS; ``idealised``: independent verifier and judge errors whatever
    the difficulty (the rates are then exactly the configured ones, call by call)."""
    synthetic = {"tasks": {"questions": QUESTIONS}, **extra.pop("synthetic", {})}
    if idealised:
        synthetic = {**IDEALISED, **synthetic}
    return SimulatorConfig.model_validate({"seed": 11, "synthetic": synthetic, **extra})


async def sample(client: openai.AsyncOpenAI, user: str, *, system: str | None = None,
                 n: int = 100, seed: int | None = 0, model: str = "sim", **kw: Any) -> list[str]:  # fmt: skip
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    r = await client.chat.completions.create(model=model, messages=messages, n=n, seed=seed, **kw)
    return [c.message.content or "" for c in r.choices]


async def answers(
    client: openai.AsyncOpenAI, user: str, total: int = 2000, **kw: Any
) -> list[str | None]:
    """``total`` sampled final answers, n=100 per request. Seeds are spaced by n:
    choice i of a request with seed s draws like an n=1 request with seed s+i."""
    seeds = range(0, total, 100)
    batches = await asyncio.gather(*(sample(client, user, seed=s, **kw) for s in seeds))
    return [extract_answer(t) for batch in batches for t in batch]


async def test_accuracy_matches_p_correct(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    got = await answers(client, "Please solve: What is 6 times 7? Think step by step.")
    counts = Counter(got)
    assert abs(counts["42"] / 2000 - 0.7) <= 0.03
    assert set(counts) == {"42", "41", "48"}  # wrong answers from the configured list
    assert abs(counts["41"] / (counts["41"] + counts["48"]) - 0.75) < 0.06  # by wrong_weights


async def test_reply_format_and_perturbed_wrong_answers(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    texts = await sample(client, "Compute 120 divided by 8.", n=100)
    assert all("\\boxed{" in t and t.splitlines()[-1].startswith("Answer: ") for t in texts)
    wrong = {extract_answer(t) for t in texts} - {"15"}
    assert wrong and all(w is not None and w.lstrip("-").isdigit() for w in wrong)
    assert len(wrong) <= 3  # wrong_pool perturbations


async def test_verifier_true_and_false_positive_rates(simulator: Sim, openai_client) -> None:
    rates = {"verifier_tpr": 0.85, "verifier_fpr": 0.2}
    client = openai_client(simulator(synth(idealised=True, synthetic=rates)))

    async def positive_rate(candidate: str) -> float:
        prompt = f"Question: What is 6 times 7?\nCandidate answer: {candidate}"
        texts = [
            t
            for s in range(0, 1000, 100)
            for t in await sample(client, prompt, system=VERIFIER, seed=s)
        ]
        verdicts = [json.loads(t) for t in texts]  # the reply is one JSON object
        assert all(0 <= v["score"] <= 1 and v["verdict"] == (v["score"] >= 0.5) for v in verdicts)
        return sum(v["verdict"] for v in verdicts) / len(verdicts)

    assert abs(await positive_rate("42") - 0.85) <= 0.035
    assert abs(await positive_rate("\\boxed{41}") - 0.2) <= 0.035


async def test_verifier_without_candidate_and_json_schema(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    texts = await sample(client, "What is 6 times 7?", system=VERIFIER, n=1)
    assert json.loads(texts[0])["verdict"] is False
    schema = {
        "type": "object",
        "properties": {"approved": {"type": "boolean"}, "confidence": {"type": "number"}},
        "required": ["approved", "confidence"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}}
    prompt = "What is 6 times 7?\nProposed answer: 42"
    out = [
        json.loads(t) for t in await sample(client, prompt, system=VERIFIER, response_format=fmt)
    ]
    assert set(out[0]) == {"approved", "confidence"}
    assert 0.8 < sum(o["approved"] for o in out) / len(out) <= 1.0


async def test_listwise_judge(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth(idealised=True, synthetic={"judge_accuracy": 0.8})))
    prompt = (
        "Question: What is 6 times 7?\n"
        "Candidate 1: I think it is 41.\nAnswer: 41\n"
        "Candidate 2: 6*7 = \\boxed{42}\n"
        "Candidate 3: Answer: 48\n"
    )
    seeds = range(0, 1000, 100)
    texts = [t for s in seeds for t in await sample(client, prompt, system=JUDGE, seed=s)]
    best = Counter(json.loads(t)["best"] for t in texts)
    assert set(best) <= {1, 2, 3}
    assert abs(best[2] / 1000 - 0.8) <= 0.04


async def test_framework_prompt_shapes_and_equivalence(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth(idealised=True)))
    verifier = (
        "Task:\nWhat is 6 times 7?\n\nCandidate solution:\nSix sevens.\nAnswer: 42\n\n"
        "Candidate answer: 42"
    )
    out = [json.loads(t) for t in await sample(client, verifier, system=VERIFIER)]
    assert set(out[0]) == {"verdict", "correct", "score", "rationale"}
    assert sum(o["verdict"] for o in out) > 80
    empty = "Task:\nWhat is 6 times 7?\n\nCandidate answer: "
    assert json.loads((await sample(client, empty, system=VERIFIER, n=1))[0])["verdict"] is False
    for a, b, same in (("42", "\\boxed{42.0}", True), ("42", "41", False)):
        prompt = (
            f"Grade it.\nQuestion: What is 6 times 7?\nReference answer: {a}\nCandidate answer: {b}"
        )
        assert json.loads((await sample(client, prompt, n=1))[0])["equivalent"] is same
        pair = f"Are these the same?\nAnswer 1: {a}\nAnswer 2: {b}"
        assert json.loads((await sample(client, pair, n=1))[0])["equivalent"] is same


async def test_boost_raises_success_when_strategy_is_in_prompt(
    simulator: Sim, openai_client
) -> None:
    client = openai_client(simulator(synth()))
    q = "Which planet is known as the red planet?"
    plain = Counter(await answers(client, q))
    boosted = Counter(await answers(client, q, system="Memory: recall planet colours first."))
    assert abs(plain["Mars"] / 2000 - 0.3) <= 0.03
    assert abs(boosted["Mars"] / 2000 - 0.7) <= 0.03


async def test_model_profiles_give_a_skill_landscape(simulator: Sim, openai_client) -> None:
    models = {"weak": {"success_multiplier": 0.5}, "strong": {"logit_shift": 2.0}, "sim": {}}
    client = openai_client(simulator(synth(models=models)))
    q = "What is 6 times 7?"
    acc = {m: Counter(await answers(client, q, model=m))["42"] / 2000 for m in models}
    assert abs(acc["sim"] - 0.7) < 0.03 and abs(acc["weak"] - 0.35) < 0.03
    assert abs(acc["strong"] - 0.945) < 0.02  # sigmoid(logit(0.7) + 2)


async def test_per_model_p_correct_and_reasoning_length(simulator: Sim, openai_client) -> None:
    qs = [{"id": "m", "question": "Name the capital of France.", "answer": "Paris",
           "p_correct": {"sim-small": 0.2, "default": 0.9}}]  # fmt: skip
    cfg = SimulatorConfig.model_validate({"synthetic": {"tasks": {"questions": qs}}})
    client = openai_client(simulator(cfg))
    q = "Name the capital of France."
    small_acc = Counter(await answers(client, q, model="sim-small"))["Paris"] / 2000
    assert abs(small_acc - 0.2 * 0.7) < 0.03  # sim-small's default success_multiplier is 0.7
    assert abs(Counter(await answers(client, q, model="sim"))["Paris"] / 2000 - 0.9) < 0.03
    small = await client.chat.completions.create(
        model="sim-small", messages=[{"role": "user", "content": q}]
    )
    large = await client.chat.completions.create(
        model="sim-large", messages=[{"role": "user", "content": q}]
    )
    assert large.usage.completion_tokens > 2 * small.usage.completion_tokens


async def test_seeded_outcomes_are_reproducible_and_order_free(
    simulator: Sim, openai_client
) -> None:
    a = openai_client(simulator(synth()))
    b = openai_client(simulator(synth()))
    other = openai_client(simulator(synth(seed=12)))
    q = "Compute 120 divided by 8."
    seeds = list(range(40))

    async def by_seed(client: openai.AsyncOpenAI, order: list[int]) -> dict[int, str]:
        texts = await asyncio.gather(*(sample(client, q, n=1, seed=s) for s in order))
        return {s: t[0] for s, t in zip(order, texts, strict=True)}

    shuffled = seeds[:]
    random.Random(5).shuffle(shuffled)
    first = await by_seed(a, seeds)
    assert await by_seed(b, shuffled) == first
    assert await by_seed(other, seeds) != first
    assert len({extract_answer(t) for t in first.values()}) > 1


async def test_unseeded_requests_use_the_server_rng(simulator: Sim, openai_client) -> None:
    async def run() -> list[str]:
        client = openai_client(simulator(synth()))
        return [
            t for _ in range(5) for t in await sample(client, "What is 6 times 7?", n=3, seed=None)
        ]

    first = await run()
    assert await run() == first
    assert len(set(first)) > 1


async def test_temperature_zero_is_greedy(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    texts = await sample(client, "What is 6 times 7?", n=8, seed=None, temperature=0)
    assert len(set(texts)) == 1


async def test_task_id_marker_and_unmatched_prompts(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    got = Counter(await answers(client, "[task: q2] (question text omitted)"))
    assert got["Mars"] > 400 and set(got) <= {"Mars", "Venus", "Jupiter"}
    echo = await sample(client, "An unrelated prompt", n=1)
    assert echo[0].startswith("Simulated reply")
    strict = openai_client(simulator(synth(synthetic={"unmatched": "error"})))
    with pytest.raises(openai.BadRequestError) as info:
        await sample(strict, "An unrelated prompt", n=1)
    assert info.value.code == "unknown_question"


async def test_memory_extraction_finds_revealed_strategies(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth()))
    q = "Which planet is known as the red planet?"
    texts = await sample(client, q, n=50)
    solved = next(t for t in texts if extract_answer(t) == "Mars")
    failed = next(t for t in texts if extract_answer(t) != "Mars")
    assert "recall planet colours" in solved and "recall planet colours" not in failed
    system = "You are a memory extractor. Extract up to 3 reusable strategy items as JSON."
    extracted = {}
    for name, trajectory in (("solved", solved), ("failed", failed)):
        reply = await sample(client, f"Task: {q}\nTrajectory:\n{trajectory}", system=system, n=1)
        extracted[name] = json.loads(reply[0])["items"]
    assert extracted["failed"] == []
    assert extracted["solved"] == [
        {
            "title": "planet colours",
            "description": "Use for planet colours.",
            "content": "recall planet colours",
            "kind": "strategy",
        }
    ]


async def test_json_schema_solver_and_no_answer_rate(simulator: Sim, openai_client) -> None:
    client = openai_client(simulator(synth(synthetic={"p_no_answer": 0.25})))
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    outs = [
        t
        for s in range(0, 400, 100)
        for t in await sample(client, "What is 6 times 7?", seed=s, response_format=fmt)
    ]
    parsed = [json.loads(t) for t in outs if t.startswith("{")]
    assert parsed and all(set(p) == {"answer"} for p in parsed)
    assert abs((400 - len(parsed)) / 400 - 0.25) < 0.06


def test_task_files_in_every_format(tmp_path) -> None:
    ts = TaskSet.model_validate({"questions": QUESTIONS})
    for name in ("t.yaml", "t.json", "t.jsonl"):
        assert TaskSet.load(ts.dump(tmp_path / name)) == ts
    (tmp_path / "sim.json").write_text(json.dumps({"synthetic": {"task_file": "t.jsonl"}}))
    cfg = load_config(tmp_path / "sim.json", seed=4, latency_ms=5)
    assert cfg.seed == 4 and cfg.latency.ms == 5
    assert cfg.synthetic is not None and len(cfg.synthetic.load_tasks().questions) == 3


def test_generated_task_sets_with_families() -> None:
    ts = TaskSet.generate(12, seed=1, p_correct=[0.9, 0.5, 0.1], families=3, boost_delta=0.25)
    assert [q.p_correct for q in ts.questions[:3]] == [0.9, 0.5, 0.1]
    fam0 = [q for q in ts.questions if "family-0" in q.tags]
    assert len(fam0) == 4 and len({q.boosts[0].text for q in fam0}) == 1
    assert len(ts.all_boosts()) == 3
    q = ts.questions[5]
    a, rest = q.question.split("compute ")[1].rstrip(".").split(" + ")
    b, c = rest.split(" * ")
    assert q.answer == str(int(a) + int(b) * int(c))
    assert ts.find(f"Solve this: {q.question}") is q
    assert TaskSet.generate(12, seed=1) == TaskSet.generate(12, seed=1)


async def test_native_n_equals_fan_out_with_consecutive_seeds(
    simulator: Sim, openai_client
) -> None:
    from thinktank.llm.base import Capabilities

    sim = simulator(synth())
    client = openai_client(sim)
    q = "Compute 120 divided by 8."
    native = await sample(client, q, n=6, seed=10)
    fanned = [(await sample(client, q, n=1, seed=10 + i))[0] for i in range(6)]
    assert native == fanned
    async with sim.model(capabilities=Capabilities(native_n=False)) as model:
        out = await model.generate([{"role": "user", "content": q}], n=6, seed=10)
    assert [c.text for c in out] == native


async def test_majority_vote_beats_one_sample_and_verifier_helps(
    simulator: Sim, openai_client
) -> None:
    """The mode supports test-time-scaling curves: SC@16 > single sample; BoN with a
    good verifier > single sample."""
    ts = TaskSet.generate(80, seed=3, p_correct=(0.3, 0.9))
    cfg = SimulatorConfig.model_validate(
        {
            "seed": 2,
            "synthetic": {"tasks": ts.model_dump(), "verifier_tpr": 0.9, "verifier_fpr": 0.1},
        }
    )
    client = openai_client(simulator(cfg))

    async def one(q: Any) -> tuple[bool, bool, bool]:
        outs = [extract_answer(t) for t in await sample(client, q.question, n=16, seed=0)]
        vote = Counter(a for a in outs if a).most_common(1)[0][0]
        verdicts = await asyncio.gather(
            *(
                sample(client, f"{q.question}\nCandidate answer: {a}", system=VERIFIER, n=1, seed=i)
                for i, a in enumerate(outs[:4])
            )
        )
        scores = [json.loads(v[0])["score"] for v in verdicts]
        best = outs[scores.index(max(scores))]
        return q.is_correct(outs[0]), q.is_correct(vote), q.is_correct(best)

    gate = asyncio.Semaphore(16)

    async def gated(q: Any) -> tuple[bool, bool, bool]:
        async with gate:
            return await one(q)

    results = await asyncio.gather(*(gated(q) for q in ts.questions))
    single, sc16, bon4 = (sum(r[i] for r in results) / len(results) for i in range(3))
    assert sc16 > single + 0.1, (single, sc16, bon4)
    assert bon4 > single + 0.05, (single, sc16, bon4)
