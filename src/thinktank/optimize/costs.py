"""Cost estimates of an evaluation, made before it runs (so it can be refused).

A graph's *static* estimate prices every nominal call (:func:`nominal_calls`) at a
prompt of the task plus the inputs the node reads, and a completion of the node's
full ``max_tokens`` — an over-estimate, since replies are rarely that long. Once
evaluations have run, :class:`CostEstimator` scales the static estimate by the
largest ratio of real to estimated cost it has seen (times a safety margin), so
refusals track reality while staying on the safe side. The *worst case* (every
agent using all of its steps) is what a crashed evaluation is charged on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from thinktank.agents.roles import is_function
from thinktank.graphs.spec import ANSWER_ROLES, GraphSpec
from thinktank.llm.pricing import Price

ROLE_PROMPT_TOKENS = 250
"""Tokens of a role's system prompt and framing (generous)."""


@dataclass(frozen=True)
class CallPrice:
    """What one model alias costs per call: its price and its default completion cap."""

    price: Price
    default_max_tokens: int = 1024


class CostEstimator:
    """Per-task cost estimates of graphs for one model pool and one task set.

    Args:
        prices: model alias → :class:`CallPrice` (aliases missing cost nothing).
        prompt_tokens: tokens of a typical task prompt in the dev set.
        margin: safety factor on the observed real/estimated ratio.
    """

    def __init__(
        self, prices: Mapping[str, CallPrice], *, prompt_tokens: int = 200, margin: float = 1.5
    ) -> None:
        self.prices = dict(prices)
        self.prompt_tokens = prompt_tokens
        self.margin = margin
        self.ratio: float | None = None
        """Largest real/static cost ratio seen (``None`` before any evaluation)."""

    @property
    def free(self) -> bool:
        """Every model costs nothing (estimates are all zero)."""
        return all(p.price.input == 0 and p.price.output == 0 for p in self.prices.values())

    def _call(self, alias: str, prompt: int, completion: int) -> float:
        p = self.prices.get(alias)
        return 0.0 if p is None else p.price.cost(prompt, completion)

    def _out(self, spec: GraphSpec, node_id: str) -> int:
        node = spec.node(node_id)
        p = self.prices.get(node.model)
        return node.max_tokens or (p.default_max_tokens if p else 1024)

    def static(self, spec: GraphSpec, *, steps: bool = False) -> float:
        """Static estimate per task; ``steps=True``: every agent uses all of its steps."""
        total = 0.0
        by_id = {n.id: n for n in spec.nodes}
        for r in range(1, spec.rounds.max_rounds + 1):
            for node in spec.nodes:
                if node.first_round > r or (node.last_round is not None and r > node.last_round):
                    continue
                if is_function(node.role):
                    continue  # a function node calls no model (unless it chooses to)
                inputs = [e for e in spec.inputs_of(node.id) if not e.feedback or r > 1]
                read = sum(by_id[e.source].n * self._out(spec, e.source) for e in inputs)
                out = self._out(spec, node.id)
                if node.does == "score":
                    targets = sum(
                        by_id[e.source].n for e in inputs if by_id[e.source].role in ANSWER_ROLES
                    )
                    calls = node.n * max(1, targets)
                    prompt = self.prompt_tokens + ROLE_PROMPT_TOKENS + 2 * out
                else:
                    calls = node.n
                    prompt = self.prompt_tokens + ROLE_PROMPT_TOKENS + read
                k = node.max_steps if steps else 1
                # step i re-reads the i-1 earlier replies of the conversation
                tokens_in = k * prompt + out * k * (k - 1) // 2
                total += calls * self._call(node.model, tokens_in, k * out)
        return total

    def expected(self, spec: GraphSpec) -> float:
        """Predicted cost per task of the graph as specified (static, scaled by what
        evaluations showed), its per-task budget ignored: what
        ``constraints.max_cost_per_task`` is checked against."""
        base = self.static(spec)
        if self.ratio is not None:
            base *= min(1.0, self.ratio * self.margin)
        return base

    def per_task(self, spec: GraphSpec) -> float:
        """Predicted spending per task: :meth:`expected`, capped by the graph's budget."""
        return self._capped(spec, self.expected(spec))

    def worst_per_task(self, spec: GraphSpec) -> float:
        """Cost per task if every agent used all of its steps (capped by the graph's budget)."""
        return self._capped(spec, self.static(spec, steps=True))

    def _capped(self, spec: GraphSpec, value: float) -> float:
        cap = spec.budget.max_usd
        return value if cap is None else min(value, cap)

    def observe(self, spec: GraphSpec, tasks: int, cost: float) -> None:
        """Record that ``tasks`` tasks of ``spec`` really cost ``cost`` in total."""
        est = self.static(spec) * tasks
        if est <= 0 or tasks <= 0:
            return
        r = cost / est
        self.ratio = r if self.ratio is None else max(self.ratio, r)
