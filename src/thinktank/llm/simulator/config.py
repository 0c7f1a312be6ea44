"""Configuration of the simulator server (pydantic, ``extra="forbid"``).

A :class:`SimulatorConfig` round-trips through JSON, which is how it reaches a
:class:`~thinktank.llm.simulator.SimulatorProcess` and the CLI (``--config``).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from thinktank._strict import StrictModel
from thinktank.llm.simulator.tasks import TaskSet

FaultKind = Literal[
    "rate_limit",  # 429 with Retry-After / retry-after-ms headers
    "server_error",  # 500
    "unavailable",  # 503
    "timeout",  # hang for ``hang_s`` (longer than any sane client timeout)
    "malformed",  # 200 with a body that is not valid JSON (or a bad SSE chunk)
    "truncated",  # the connection is cut part-way through the body / stream
    "context_length",  # 400 context_length_exceeded, as OpenAI sends it
    "auth",  # 401 invalid_api_key
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


class Latency(StrictModel):
    """Delay before a reply, sampled per request. A bare number means fixed milliseconds."""

    dist: Literal["fixed", "uniform", "normal", "lognormal", "exponential"] = "fixed"
    """Distribution of the per-request delay."""
    ms: float = Field(default=0.0, ge=0)
    """Fixed value; mean for normal/exponential; median for lognormal; centre for uniform."""
    spread_ms: float = Field(default=0.0, ge=0)
    """Half-width for uniform, standard deviation for normal."""
    sigma: float = Field(default=0.5, ge=0)
    """Shape of the lognormal distribution."""
    per_token_ms: float = Field(default=0.0, ge=0)
    """Extra delay per completion token of the longest choice (spread over stream chunks)."""
    min_ms: float = Field(default=0.0, ge=0)
    """Lower clamp of the sampled base delay."""
    max_ms: float | None = None
    """Upper clamp of the sampled base delay."""

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        return {"ms": float(data)} if isinstance(data, int | float) else data

    def sample_s(self, rng: random.Random) -> float:
        """One base delay in seconds (without the per-token part)."""
        if self.dist == "fixed":
            ms = self.ms
        elif self.dist == "uniform":
            ms = rng.uniform(self.ms - self.spread_ms, self.ms + self.spread_ms)
        elif self.dist == "normal":
            ms = rng.gauss(self.ms, self.spread_ms)
        elif self.dist == "lognormal":
            ms = self.ms * math.exp(rng.gauss(0.0, self.sigma)) if self.ms > 0 else 0.0
        else:
            ms = rng.expovariate(1.0 / self.ms) if self.ms > 0 else 0.0
        ms = max(ms, self.min_ms)
        if self.max_ms is not None:
            ms = min(ms, self.max_ms)
        return ms / 1000.0


class Faults(StrictModel):
    """Fault injection: per-request rates, a per-request script, and fault parameters."""

    rate_limit: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 429 (with ``Retry-After`` and ``retry-after-ms``)."""
    server_error: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 500."""
    unavailable: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 503."""
    timeout: float = Field(default=0.0, ge=0, le=1)
    """Probability the request hangs for ``hang_s``."""
    malformed: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 200 whose body is not valid JSON."""
    truncated: float = Field(default=0.0, ge=0, le=1)
    """Probability the body/stream is cut part-way (connection closed)."""
    context_length: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 400 ``context_length_exceeded``."""
    auth: float = Field(default=0.0, ge=0, le=1)
    """Probability of a 401 ``invalid_api_key``."""
    script: list[FaultKind | None] = Field(default_factory=list)
    """Faults for the first requests in arrival order (``None`` = no fault); rates apply after."""
    retry_after_s: float = Field(default=1.0, ge=0)
    """Wait a 429 asks for."""
    send_retry_after: bool = True
    """Send the ``Retry-After`` header (seconds; fractional when not whole)."""
    send_retry_after_ms: bool = True
    """Send the ``retry-after-ms`` header (milliseconds)."""
    hang_s: float = Field(default=60.0, ge=0)
    """How long a ``timeout`` fault hangs before answering normally."""
    cut_fraction: float = Field(default=0.5, ge=0, le=1)
    """Fraction of the body / stream chunks sent before a ``truncated`` cut."""

    @model_validator(mode="after")
    def _check_sum(self) -> Faults:
        if self.total_rate() > 1.0 + 1e-9:
            raise ValueError("fault rates must sum to at most 1")
        return self

    def total_rate(self) -> float:
        return sum(getattr(self, k) for k in FAULT_KINDS)


class ToolCallSpec(StrictModel):
    """A scripted tool call; OpenAI wire form ``{"id", "type", "function": {...}}`` also accepted."""

    name: str
    """Function name."""
    arguments: str | dict[str, Any] = "{}"
    """Arguments as JSON text or an object (serialised)."""
    id: str | None = None
    """Call id; generated when omitted."""

    @model_validator(mode="before")
    @classmethod
    def _from_openai(cls, data: Any) -> Any:
        if isinstance(data, dict) and "function" in data:
            fn = data["function"]
            return {
                "name": fn["name"],
                "arguments": fn.get("arguments", "{}"),
                "id": data.get("id"),
            }
        return data


class ScriptStep(StrictModel):
    """One scripted choice (a bare string = ``content``). Consumed one per choice."""

    content: str | None = None
    """Reply text."""
    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    """Tool calls of the reply."""
    finish_reason: str | None = None
    """Defaults to ``tool_calls`` when there are tool calls, else ``stop``."""
    fault: FaultKind | None = None
    """Fail the request with this fault (consumes this step). For ``timeout``, ``malformed``
    and ``truncated`` the step's content (or, without any, the default reply) is what is
    delayed or broken."""
    latency_ms: float | None = None
    """Overrides the base latency for the request that consumes this step."""

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"content": data} if isinstance(data, str) else data


class ModelProfile(StrictModel):
    """How one simulated model name behaves (skill, verifier quality, length, latency)."""

    success_multiplier: float = Field(default=1.0, ge=0)
    """Multiplies a question's base ``p_correct`` (then clipped to [0, 1])."""
    logit_shift: float = 0.0
    """Added to logit(p) after the multiplier (positive = stronger model)."""
    verifier_tpr: float | None = Field(default=None, ge=0, le=1)
    """Overrides ``synthetic.verifier_tpr`` for this model."""
    verifier_fpr: float | None = Field(default=None, ge=0, le=1)
    """Overrides ``synthetic.verifier_fpr`` for this model."""
    judge_accuracy: float | None = Field(default=None, ge=0, le=1)
    """Overrides ``synthetic.judge_accuracy`` for this model."""
    reasoning_tokens: int = Field(default=60, ge=0)
    """Approximate length of the reasoning text of synthetic replies (drives usage/cost)."""
    latency: Latency | None = None
    """Overrides the server latency for this model."""
    context_window: int | None = None
    """When set, prompt + max_tokens above it gets a 400 ``context_length_exceeded``."""
    native_n: bool | None = None
    """Overrides the server's ``native_n`` for this model."""


def _default_models() -> dict[str, ModelProfile]:
    return {
        "sim": ModelProfile(),
        "sim-small": ModelProfile(success_multiplier=0.7, reasoning_tokens=40),
        "sim-large": ModelProfile(logit_shift=1.0, reasoning_tokens=120),
    }


class Revision(StrictModel):
    """How a role that is shown earlier answers revises them (``roles="interact"``).

    A reviser anchors on one answer it was shown (its target, one drawn in proportion
    to the answers' support, or a fuser's pick), then either keeps it or re-derives
    the answer afresh, right with its own success probability ``p``. So a wrong anchor
    is fixed with probability ``redo * p`` and a right one broken with ``redo * (1 - p)``:
    revision without informative feedback is no gain in expectation, and the rates
    depend on what the feedback says about the anchor. See the README for the defaults.
    """

    redo: float = Field(default=0.3, ge=0, le=1)
    """P(re-deriving) when no feedback flags or endorses the anchor."""
    redo_flagged: float = Field(default=0.8, ge=0, le=1)
    """P(re-deriving) when the feedback says the anchor is wrong (a critic's issue, a
    verifier's rejection)."""
    redo_endorsed: float = Field(default=0.1, ge=0, le=1)
    """P(re-deriving) when the feedback says the anchor is right."""
    yield_flagged: float = Field(default=0.2, ge=0, le=1)
    """P(giving up a right anchor that the feedback flags, for a wrong answer) before any
    re-derivation: the reviser defers to a mistaken critic (sycophancy)."""


class CeoPolicy(StrictModel):
    """When a simulated CEO stops the discussion (``roles="interact"``)."""

    stop_agree: float = Field(default=0.9, ge=0, le=1)
    """P(stop) when every answer of the round agrees and no feedback flags it."""
    stop_flagged: float = Field(default=0.3, ge=0, le=1)
    """P(stop) when the answers agree but the feedback flags the agreed answer."""
    stop_disagree: float = Field(default=0.1, ge=0, le=1)
    """P(stop) when the round's answers disagree."""


IDEALISED: dict[str, Any] = {
    "distractor_share": None,
    "blind_spot": 0.0,
    "verifier_difficulty": 0.0,
    "prompt_sensitivity": 0.0,
    "roles": "solve",
}
"""The settings of the simulator before its realistic defaults: wrong answers spread
evenly, independent verifier and judge errors whatever the difficulty, draws that do
not depend on the prompt, and every role other than verifier and judge answering as a
fresh solver (so a CEO's reply is no decision). :meth:`SyntheticConfig.idealised`."""


class SyntheticConfig(StrictModel):
    """Synthetic task mode: answer known questions right with a set probability.

    The defaults are the realistic ones (see the README for each value's reasoning);
    :meth:`idealised` gives the flattering simulator the project started with.
    """

    task_file: Path | None = None
    """YAML / JSON / JSONL task file (see the README for the schema)."""
    tasks: TaskSet | None = None
    """Questions given inline (merged after those of ``task_file``)."""
    verifier_tpr: float = Field(default=0.9, ge=0, le=1)
    """P(verdict correct | the candidate is correct)."""
    verifier_fpr: float = Field(default=0.1, ge=0, le=1)
    """P(verdict correct | the candidate is wrong)."""
    judge_accuracy: float = Field(default=0.8, ge=0, le=1)
    """P(a listwise judge picks a correct candidate | at least one is correct)."""
    answer_format: Literal["both", "answer_line", "boxed"] = "both"
    """How a solver reply states its final answer: ``\\boxed{X}`` and/or ``Answer: X``."""
    p_no_answer: float = Field(default=0.0, ge=0, le=1)
    """Probability a solver reply has no parseable final answer (format failures)."""
    reveal_strategy: bool = True
    """A correct solver reply mentions the question's first boost text (memory experiments)."""
    verifier_pattern: str = r"(?i)\b(verifier|grader|judge)\b"
    """Regex on the system messages that marks a verifier / judge prompt."""
    extractor_pattern: str = r"(?i)\b(memory extractor|extract\w*\s+(?:\w+\s+){0,3}(?:memory|memories|lessons?|strateg\w*))"
    """Regex on the system messages that marks a memory-extraction prompt."""
    curator_pattern: str = r"(?i)\bcheatsheet curator\b"
    """Regex on the system messages that marks a cheatsheet-curator prompt (Dynamic Cheatsheet)."""
    unmatched: Literal["echo", "error"] = "echo"
    """A prompt naming no known question gets the default echo reply, or a 400."""
    distractor_share: float | None = Field(default=0.6, ge=0, le=1)
    """Share of a question's wrong samples that give its first wrong answer (the
    distractor) when the question sets no ``wrong_weights``; the other wrong answers
    share the rest evenly. None: all wrong answers equally likely."""
    blind_spot: float = Field(default=0.5, ge=0, le=1)
    """Strength of the verifiers' shared blind spot: the probability that the verdicts on
    one (question, answer) are one shared draw for every verifier, critic and self-judge
    call (whatever the model or prompt) rather than independent draws; likewise a
    judge's pick on one question. 0: independent errors; 1: every call agrees."""
    verifier_difficulty: float = Field(default=0.6, ge=0, le=1)
    """How much verifiers, critics and judges lose on hard questions: their
    discrimination (TPR - FPR, or a judge's accuracy above chance) is scaled by
    ``1 - verifier_difficulty * (1 - p)``, where ``p`` is the verifying model's own success
    probability on the question. The configured rates hold on an easy question (p = 1)."""
    prompt_sensitivity: float = Field(default=1.0, ge=0, le=1)
    """Probability that a sample's draws depend on the whole prompt (a different prompt,
    e.g. with a memory lesson in it, is a different sample); otherwise they depend only
    on the question, the role inputs and the request seed. 0: prompt-independent draws."""
    roles: Literal["interact", "solve"] = "interact"
    """``interact``: critics flag answers, revisers (refiner, fuser, debater, a solver
    shown earlier answers) anchor on what they read and fix or break it, a CEO returns a
    decision. ``solve``: every such role answers as a fresh solver (a CEO's reply is no
    decision)."""
    revision: Revision = Field(default_factory=Revision)
    """How revisers fix or break the answers they are shown."""
    ceo: CeoPolicy = Field(default_factory=CeoPolicy)
    """When a CEO stops the discussion."""
    critic_pattern: str = r"(?i)\b(critic|reviewer)\b"
    """Regex on the system messages that marks a critic prompt (also recognised by a
    ``Proposed solutions:`` section)."""
    ceo_pattern: str = r"(?i)\bceo\b"
    """Regex on the system messages that marks a CEO prompt (also recognised by a
    ``Discussion of round N:`` section)."""

    @classmethod
    def idealised(cls, **settings: Any) -> SyntheticConfig:
        """The flattering simulator of old (:data:`IDEALISED`), ``settings`` on top.

        Golden runs and tests of one mechanism in isolation use it; measurements of
        algorithms should not.
        """
        return cls.model_validate({**IDEALISED, **settings})

    def load_tasks(self) -> TaskSet:
        """The task set: the file's questions plus the inline ones."""
        base = TaskSet.load(self.task_file) if self.task_file else TaskSet()
        if self.tasks is None:
            return base
        if not self.task_file:
            return self.tasks
        return TaskSet(
            questions=[*base.questions, *self.tasks.questions],
            boosts=[*base.boosts, *self.tasks.boosts],
            wrong_pool=self.tasks.wrong_pool,
        )


class SimulatorConfig(StrictModel):
    """Everything the simulator server does."""

    seed: int = 0
    """Seeds every random choice; equal seeds give equal outcomes (see the README)."""
    host: str = "127.0.0.1"
    """Bind address (loopback)."""
    port: int = Field(default=0, ge=0, le=65535)
    """Port; 0 picks a free one."""
    latency: Latency = Field(default_factory=Latency)
    """Per-request delay (a bare number = fixed milliseconds)."""
    faults: Faults = Field(default_factory=Faults)
    """Fault injection by rate and by script."""
    script: list[ScriptStep] = Field(default_factory=list)
    """Replies consumed in arrival order, one per choice; takes precedence over synthetic mode."""
    script_exhausted: Literal["error", "fallback"] = "error"
    """When a non-empty script runs out: a 400 ``script_exhausted`` error, or fall back."""
    models: dict[str, ModelProfile] = Field(default_factory=_default_models)
    """Model names served (``GET /v1/models``) and their profiles."""
    unknown_models: Literal["accept", "reject"] = "accept"
    """Requests naming another model: served with a default profile, or 404 model_not_found."""
    native_n: bool = True
    """Honour ``n`` natively; when false every response carries one choice (clients fan out)."""
    max_n: int = Field(default=128, ge=1)
    """Largest ``n`` accepted (400 above)."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """Requests processed at once; the rest queue or are rejected (``over_capacity``)."""
    over_capacity: Literal["queue", "reject"] = "queue"
    """What happens to requests over ``max_concurrency``: wait, or 429 immediately."""
    api_key: str | None = None
    """When set, requests must send ``Authorization: Bearer <api_key>`` (else 401)."""
    synthetic: SyntheticConfig | None = None
    """Synthetic task mode; off when None."""
    default_reply: str | None = None
    """Reply when nothing else applies; None = a short echo of the last user message."""
    stream_chunk_chars: int = Field(default=24, ge=1)
    """Characters of content per streamed chunk."""
    http: Literal["full", "lean"] = "full"
    """The HTTP server: ``full`` is uvicorn + Starlette; ``lean`` a minimal HTTP/1.1 server
    on asyncio with the same endpoints, decisions and bodies at a small part of the CPU
    per request, for benchmarks of a client on the server's own cores (request bodies
    need a Content-Length)."""


def load_config(
    path: str | Path | None = None,
    *,
    port: int | None = None,
    latency_ms: float | None = None,
    seed: int | None = None,
) -> SimulatorConfig:
    """A config from a JSON/YAML file (or defaults), with command-line overrides applied.

    A relative ``synthetic.task_file`` is resolved against the config file's folder.
    """
    import json

    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        data = yaml.safe_load(text) if p.suffix in (".yaml", ".yml") else json.loads(text)
        synth = data.get("synthetic") if isinstance(data, dict) else None
        if isinstance(synth, dict) and synth.get("task_file"):
            synth["task_file"] = str(p.parent / synth["task_file"])
    if port is not None:
        data["port"] = port
    if latency_ms is not None:
        data["latency"] = {"ms": latency_ms}
    if seed is not None:
        data["seed"] = seed
    return SimulatorConfig.model_validate(data)
