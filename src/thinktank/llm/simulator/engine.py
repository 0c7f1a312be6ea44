"""The simulator's decisions, apart from HTTP: what one request gets back.

:meth:`SimulatorEngine.plan` turns a raw request body into a :class:`Plan` (a
fault, or choices + usage + delay); the HTTP layer only sleeps and renders. All
state (counters, script cursor, random generators) lives here and is touched
from the server's event loop only.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from thinktank.llm.simulator.config import FAULT_KINDS, ModelProfile, ScriptStep, SimulatorConfig
from thinktank.llm.simulator.faults import error_plan
from thinktank.llm.simulator.schema import render_json
from thinktank.llm.simulator.synthetic import SampleKey, Sampler, SyntheticResponder


def approx_tokens(text: str) -> int:
    """≈4 characters per token, as :mod:`thinktank.llm.testing` estimates."""
    return (len(text) + 3) // 4


@dataclass
class Choice:
    """One rendered choice."""

    text: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    tokens: int = 0


@dataclass
class Plan:
    """What the HTTP layer sends for one request."""

    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    model: str = ""
    request_id: str = ""
    choices: list[Choice] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0
    token_delay_s: float = 0.0
    hang_s: float = 0.0
    stream: bool = False
    include_usage: bool = False


class SimulatorEngine:
    """Decides every reply; see :class:`~thinktank.llm.simulator.SimulatorConfig`."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.synthetic: SyntheticResponder | None = None
        if config.synthetic is not None:
            tasks = config.synthetic.load_tasks()
            self.synthetic = SyntheticResponder(config.synthetic, tasks, config.seed)
        self._default_profile = ModelProfile()
        self._strict = config.synthetic is not None and config.synthetic.unmatched == "error"
        self.in_flight = 0
        self.active = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters, rewind the scripts (to the configured ones), reseed."""
        seed = self.config.seed
        self.sampler = Sampler(seed)
        self.fault_rng = random.Random(f"{seed}:faults")
        self.latency_rng = random.Random(f"{seed}:latency")
        self.script: list[ScriptStep] = list(self.config.script)
        self.fault_script: list[str | None] = list(self.config.faults.script)
        self.script_pos = 0
        self.requests = 0
        # Live gauges survive a reset; their maxima restart from the current value.
        self.max_in_flight = self.in_flight
        self.max_active = self.active
        self.counts: Counter[str] = Counter()
        self.per_model: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.roles: Counter[str] = Counter()
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self.last_reply: float | None = None

    def arrived(self) -> None:
        """Note a chat request's arrival (the monotonic clock, shared by the host's processes)."""
        now = time.monotonic()
        if self.first_arrival is None:
            self.first_arrival = now
        self.last_arrival = now

    async def enter(self, gate: asyncio.Semaphore | None) -> Plan | None:
        """A chat request arrives and waits for a place under the server's concurrency
        limit (``gate``); ``None`` once it holds one, else the rate-limit reply of
        ``over_capacity="reject"`` (the request has left again)."""
        self.arrived()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if gate is not None:
            if self.config.over_capacity == "reject" and gate.locked():
                self.in_flight -= 1
                self.faults["over_capacity"] += 1
                return error_plan(kind="rate_limit", faults=self.config.faults)
            await gate.acquire()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        return None

    def leave(self, gate: asyncio.Semaphore | None) -> None:
        """A request that held a place (:meth:`enter`) is done with it."""
        self.active -= 1
        if gate is not None:
            gate.release()
        self.in_flight -= 1

    async def decide(self, raw: bytes, headers: Mapping[str, str]) -> Plan:
        """The reply's plan, after the hang and delay it asks for; counted."""
        plan = self.plan(raw, headers)
        if plan.hang_s:
            await asyncio.sleep(plan.hang_s)
        if plan.delay_s > 0:
            await asyncio.sleep(plan.delay_s)
        if plan.error is not None:
            self.counts[f"status_{plan.status}"] += 1
        else:
            self.counts["responses"] += 1
            if plan.stream:
                self.counts["streams"] += 1
        return plan

    def set_script(self, script: list[Any] | None, fault_script: list[Any] | None) -> None:
        """Replace the reply script and/or the fault script (cursors rewound)."""
        if script is not None:
            self.script = [ScriptStep.model_validate(s) for s in script]
            self.script_pos = 0
        if fault_script is not None:
            for f in fault_script:
                if f is not None and f not in FAULT_KINDS:
                    raise ValueError(f"unknown fault {f!r}; valid: {', '.join(FAULT_KINDS)}")
            self.fault_script = list(fault_script)

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks (JSON-ready).

        ``first_arrival_s`` / ``last_arrival_s`` / ``last_reply_s``: when the first and
        last chat request since the last reset arrived and when the last reply left,
        on ``time.monotonic()`` (the host's clock, so any local process can compare);
        ``cpu_s``: CPU seconds of the thread serving (its event loop) so far.
        """
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "active": self.active,
            "max_active": self.max_active,
            "per_model": dict(self.per_model),
            "faults": dict(self.faults),
            "roles": dict(self.roles),
            "script_consumed": self.script_pos,
            "script_remaining": max(0, len(self.script) - self.script_pos),
            "first_arrival_s": self.first_arrival,
            "last_arrival_s": self.last_arrival,
            "last_reply_s": self.last_reply,
            "cpu_s": time.thread_time(),
            **dict(self.counts),
        }

    # --- the decision --------------------------------------------------------------

    def plan(self, raw: bytes, headers: Mapping[str, str]) -> Plan:
        """Decide the response to one ``POST /v1/chat/completions``."""
        self.requests += 1
        number = self.requests
        cfg = self.config
        if cfg.api_key is not None and headers.get("authorization") != f"Bearer {cfg.api_key}":
            return self._fault("auth", cfg)
        try:
            body = json.loads(raw)
        except ValueError:
            return error_plan(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return error_plan(400, "'messages' is a required property", param="messages")
        if not all(isinstance(m, dict) for m in body["messages"]):
            return error_plan(400, "every message must be an object", param="messages")
        model = str(body.get("model") or "sim")
        profile = cfg.models.get(model)
        if profile is None:
            if cfg.unknown_models == "reject":
                return error_plan(
                    404,
                    f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found",
                )
            profile = self._default_profile
        n = body.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= cfg.max_n:
            return error_plan(400, f"n must be an integer in [1, {cfg.max_n}]", param="n")
        self.per_model[model] += 1

        fault = headers.get("x-sim-fault")
        if fault is not None and fault not in FAULT_KINDS:
            return error_plan(
                400, f"unknown x-sim-fault {fault!r}; valid: {', '.join(FAULT_KINDS)}"
            )
        if fault is None and number <= len(self.fault_script):
            fault = self.fault_script[number - 1]
        if fault is None and cfg.faults.total_rate() > 0:
            fault = self._draw_fault()
        if fault in ("auth", "rate_limit", "server_error", "unavailable", "context_length"):
            return self._fault(fault, cfg)

        messages = body["messages"]
        prompt = _prompt_tokens(messages, body.get("tools"))
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if profile.context_window and prompt + (max_tokens or 0) > profile.context_window:
            return self._fault("context_length", cfg, window=profile.context_window, used=prompt)

        native = cfg.native_n if profile.native_n is None else profile.native_n
        plan = Plan(model=model, request_id=f"chatcmpl-sim{number}")
        latency_ms: float | None = None
        ctx = self.synthetic.read(messages) if self.synthetic and not self.script else None
        if ctx is None and self.synthetic and not self.script and self._strict:
            return error_plan(400, "the prompt names no known question", code="unknown_question")
        for index in range(n if native else 1):
            step: ScriptStep | None = None
            if self.script:
                if self.script_pos < len(self.script):
                    step = self.script[self.script_pos]
                    self.script_pos += 1
                elif cfg.script_exhausted == "error":
                    return error_plan(
                        400,
                        f"simulator script exhausted: {len(self.script)} replies were scripted",
                        code="script_exhausted",
                    )
                else:
                    ctx = self.synthetic.read(messages) if self.synthetic else None
            if step is not None and step.fault is not None:
                if step.fault not in ("timeout", "malformed", "truncated"):
                    return self._fault(step.fault, cfg)
                fault = step.fault
                if step.content is None and not step.tool_calls:
                    step = None  # the delayed / broken reply is the default one
            if step is not None and step.latency_ms is not None:
                latency_ms = step.latency_ms
            plan.choices.append(self._choice(body, model, profile, index, step, ctx, number))

        self._finish_choices(plan, body, max_tokens)
        completion = sum(c.tokens for c in plan.choices)
        plan.usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        self.counts["choices"] += len(plan.choices)
        self.counts["prompt_tokens"] += prompt
        self.counts["completion_tokens"] += completion
        latency = profile.latency or cfg.latency
        forced = headers.get("x-sim-latency-ms")
        if forced is not None:
            try:
                latency_ms = max(0.0, float(forced))
            except ValueError:
                return error_plan(400, f"x-sim-latency-ms must be a number, not {forced!r}")
        plan.delay_s = (
            latency_ms / 1000 if latency_ms is not None else latency.sample_s(self.latency_rng)
        )
        if latency.per_token_ms:
            plan.token_delay_s = latency.per_token_ms / 1000
            if not body.get("stream"):
                plan.delay_s += plan.token_delay_s * max(c.tokens for c in plan.choices)
        plan.stream = bool(body.get("stream"))
        opts = body.get("stream_options")
        plan.include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
        if fault in ("timeout", "malformed", "truncated"):
            plan.fault = fault
            self.faults[fault] += 1
            if fault == "timeout":
                plan.hang_s = cfg.faults.hang_s
        return plan

    # --- helpers -------------------------------------------------------------------

    def _draw_fault(self) -> str | None:
        u = self.fault_rng.random()
        acc = 0.0
        for kind in FAULT_KINDS:
            acc += getattr(self.config.faults, kind)
            if u < acc:
                return kind
        return None

    def _fault(self, kind: str, cfg: SimulatorConfig, **info: Any) -> Plan:
        self.faults[kind] += 1
        return error_plan(kind=kind, faults=cfg.faults, **info)

    def _choice(
        self,
        body: dict[str, Any],
        model: str,
        profile: ModelProfile,
        index: int,
        step: ScriptStep | None,
        ctx: Any,
        number: int,
    ) -> Choice:
        if step is not None:
            calls = [
                {
                    "id": c.id or f"call_sim{number}_{index}_{k}",
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": c.arguments
                        if isinstance(c.arguments, str)
                        else json.dumps(c.arguments),
                    },
                }
                for k, c in enumerate(step.tool_calls)
            ]
            reason = step.finish_reason or ("tool_calls" if calls else "stop")
            self.roles["scripted"] += 1
            return Choice(text=step.content, tool_calls=calls, finish_reason=reason)
        key = SampleKey(self.config.seed, model, body.get("seed"), body.get("temperature"), index)
        fmt = body.get("response_format")
        fmt = fmt if isinstance(fmt, dict) and fmt.get("type") != "text" else None
        if ctx is not None and self.synthetic is not None:
            self.roles[ctx.role] += 1
            return Choice(text=self.synthetic.reply(ctx, key, profile, self.sampler, fmt))
        self.roles["default"] += 1
        if fmt is not None:
            return Choice(text=render_json({}, fmt))
        if self.config.default_reply is not None:
            return Choice(text=self.config.default_reply)
        tag = int(self.sampler.draws(key, "echo", k=1)[0] * 1_000_000)
        return Choice(text=f"Simulated reply {tag:06d} to: {_last_user(body['messages'])[:80]}")

    def _finish_choices(self, plan: Plan, body: dict[str, Any], max_tokens: Any) -> None:
        stops = body.get("stop")
        stops = [stops] if isinstance(stops, str) else stops or []
        for c in plan.choices:
            text = c.text or ""
            for s in stops:
                cut = text.find(s) if s else -1
                if cut >= 0:
                    text = text[:cut]
            if isinstance(max_tokens, int) and approx_tokens(text) > max_tokens:
                text = text[: max_tokens * 4]
                c.finish_reason = "length"
            if c.text is not None:
                c.text = text
            c.tokens = approx_tokens(text) + sum(
                approx_tokens(t["function"]["name"] + t["function"]["arguments"]) + 3
                for t in c.tool_calls
            )


def _last_user(messages: list[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return " ".join(m["content"].split())
    return ""


def _prompt_tokens(messages: list[Any], tools: Any) -> int:
    total = 3
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, str):
            total += approx_tokens(content) + 4
        else:
            total += approx_tokens(json.dumps(content)) + 4 if content is not None else 4
        if m.get("tool_calls"):
            total += approx_tokens(json.dumps(m["tool_calls"]))
    if tools:
        total += approx_tokens(json.dumps(tools))
    return total
