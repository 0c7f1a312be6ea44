"""The round scheduler: which nodes run next, with what inputs, and when a run ends.

Pure functions over the run's records; the compiler calls :func:`plan` from its
``schedule`` node and dispatches the returned work items with ``Send``. The
coordinator's decisions are applied here, so they are enforced by the graph and
not left to the agents: ``stop`` ends the run, ``recruit`` sets how many critics
are active next round, ``token_budget`` becomes the next round's ``max_tokens``
and ``direction`` is shown to every agent next round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinktank.agents.roles import is_function
from thinktank.graphs.answers import vote
from thinktank.graphs.render import render
from thinktank.graphs.select import answer_kind
from thinktank.graphs.spec import GraphSpec, NodeSpec
from thinktank.graphs.state import NodeOutput, WorkItem
from thinktank.graphs.stopping import settled, settled_probability

__all__ = ["Plan", "Scheduler", "settled_probability"]


@dataclass
class Plan:
    """What the scheduler decided this step."""

    items: list[WorkItem] = field(default_factory=list)
    progress: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    control: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    next_round: int | None = None
    finish: str | None = None
    """Set when the run should go to selection: the run status."""


class Scheduler:
    """Plans the next step of one run of ``spec``."""

    def __init__(self, spec: GraphSpec) -> None:
        self.spec = spec
        self.functions = {n.id for n in spec.nodes if is_function(n.role)}
        """Ids of the function nodes (they read records, not a prompt)."""
        self.order = spec.order()
        ctrl = spec.rounds.controller
        if ctrl is not None:
            self.order = [n for n in self.order if n != ctrl] + [ctrl]

    # --- helpers ------------------------------------------------------------------------

    def _runs_in(self, node: NodeSpec, r: int) -> bool:
        return node.first_round <= r and (node.last_round is None or r <= node.last_round)

    def _latest(self, outs: list[NodeOutput], node: str, upto: int) -> list[NodeOutput]:
        mine = [o for o in outs if o.node == node and o.round <= upto and o.status != "cancelled"]
        if not mine:
            return []
        last = max(o.round for o in mine)
        return [o for o in mine if o.round == last]

    def inputs(self, node: NodeSpec, outs: list[NodeOutput], r: int) -> list[NodeOutput]:
        if node.id == self.spec.rounds.controller:
            return [o for o in outs if o.round == r and o.node != node.id]
        got: list[NodeOutput] = []
        for e in self.spec.inputs_of(node.id):
            got += self._latest(outs, e.source, r - 1 if e.feedback else r)
        return got

    def _agrees(self, answers: list[str | None], kind: Any, threshold: float) -> bool:
        res = vote(answers, kind)
        return res.winner is not None and res.counts[res.winner] / max(1, len(answers)) >= threshold

    # --- planning -----------------------------------------------------------------------

    def plan(
        self,
        state: dict[str, Any],
        *,
        budget_exhausted: bool = False,
        outputs: list[NodeOutput] | None = None,
    ) -> Plan:
        """The next step; ``outputs``: the state's outputs already read as records."""
        spec = self.spec
        r = int(state.get("round") or 1)
        progress: dict[str, str] = dict(state.get("progress") or {})
        control: dict[str, Any] = dict(state.get("control") or {})
        outs = (
            outputs
            if outputs is not None
            else [NodeOutput.model_validate(o) for o in state.get("outputs") or []]
        )
        task = state.get("task") or {}
        kind = answer_kind(spec, task.get("kind"), task.get("metadata"))
        p = Plan()

        if budget_exhausted or any(o.status == "budget_exhausted" for o in outs):
            p.finish = "budget_exhausted"
            p.events.append({"kind": "budget_exhausted", "round": r})
            return p

        # 1. close nodes dispatched last step (adaptive nodes may need another wave)
        for key, status in list(progress.items()):
            if status != "running" or not key.startswith(f"{r}:"):
                continue
            nid = key.split(":", 1)[1]
            node = spec.node(nid)
            if node.sampling.mode == "adaptive":
                mine = [o for o in outs if o.node == nid and o.round == r]
                res = vote([o.answer for o in mine], kind)
                limit = self._active(node, control)
                done, prob = settled(node.sampling, list(res.counts.values()), len(mine), limit)
                if len(mine) < limit and not done:
                    start = len(mine)
                    wave = list(range(start, min(limit, start + node.sampling.wave)))
                    p.items += self._items(node, outs, r, control, wave, state)
                    p.events.append(
                        {
                            "kind": "wave",
                            "round": r,
                            "node": nid,
                            "samples": len(wave),
                            "settled": round(prob, 4),
                        }
                    )
                    continue
                p.events.append(
                    {
                        "kind": "settled",
                        "round": r,
                        "node": nid,
                        "samples": len(mine),
                        "settled": round(prob, 4),
                    }
                )
            progress[key] = p.progress[key] = "done"
        if p.items:
            return p

        # 2. dispatch every node whose inputs are complete
        for nid in self.order:
            key = f"{r}:{nid}"
            if key in progress:
                continue
            node = spec.node(nid)
            if not self._runs_in(node, r):
                progress[key] = p.progress[key] = "skipped"
                continue
            if nid == spec.rounds.controller:
                others = [f"{r}:{o}" for o in self.order if o != nid]
                if any(progress.get(k) in (None, "running") for k in others):
                    continue
            edges = [e for e in spec.inputs_of(nid) if not e.feedback]
            if any(progress.get(f"{r}:{e.source}") in (None, "running") for e in edges):
                continue
            reason = self._skip_reason(node, outs, r, progress, control, kind)
            if reason:
                progress[key] = p.progress[key] = "skipped"
                p.events.append({"kind": "skip", "round": r, "node": nid, "reason": reason})
                continue
            n = self._active(node, control)
            first = (
                list(range(min(n, node.sampling.wave)))
                if node.sampling.mode == "adaptive"
                else list(range(n))
            )
            items = self._items(node, outs, r, control, first, state)
            if not items:
                progress[key] = p.progress[key] = "skipped"
                p.events.append(
                    {"kind": "skip", "round": r, "node": nid, "reason": "no inputs to work on"}
                )
                continue
            progress[key] = p.progress[key] = "running"
            p.items += items
            p.events.append(
                {"kind": "dispatch", "round": r, "node": nid, "tasks": len(items), "active": n}
            )
        if p.items:
            return p
        if any(v == "running" for k, v in progress.items() if k.startswith(f"{r}:")):
            return p  # waiting (cannot happen with superstep barriers, kept for safety)

        # 3. the round is complete
        return self._end_round(p, outs, r, control, kind, state)

    def _active(self, node: NodeSpec, control: dict[str, Any]) -> int:
        active = (control.get("active") or {}).get(node.id)
        if active is None:
            active = node.active if node.active is not None else node.n
        return max(0, min(int(active), node.n))

    def _skip_reason(
        self,
        node: NodeSpec,
        outs: list[NodeOutput],
        r: int,
        progress: dict[str, str],
        control: dict[str, Any],
        kind: Any,
    ) -> str | None:
        if self._active(node, control) == 0:
            return "no active instances (coordinator recruited none)"
        same = [e for e in self.spec.inputs_of(node.id) if not e.feedback]
        if same and all(progress.get(f"{r}:{e.source}") == "skipped" for e in same):
            return "all inputs skipped"
        for e in self.spec.inputs_of(node.id):
            if e.when == "always":
                continue
            src = self._latest(outs, e.source, r - 1 if e.feedback else r)
            agree = self._agrees([o.answer for o in src], kind, e.agreement)
            if e.when == "disagree" and agree:
                return f"{e.source}'s answers agree"
            if e.when == "agree" and not agree:
                return f"{e.source}'s answers disagree"
        return None

    def _items(
        self,
        node: NodeSpec,
        outs: list[NodeOutput],
        r: int,
        control: dict[str, Any],
        samples: list[int],
        state: dict[str, Any],
    ) -> list[WorkItem]:
        task = str((state.get("task") or {}).get("prompt", ""))
        inputs = self.inputs(node, outs, r)
        direction = str(control.get("direction") or "")
        max_tokens = control.get("max_tokens") or node.max_tokens
        base: WorkItem = {"node": node.id, "round": r, "max_tokens": max_tokens}
        if node.id in self.functions:
            return self._function_items(node, base, inputs, outs, samples)
        if node.does == "score":
            # a same-round edge from a node that did not run this round shows its last
            # outputs again; a verifier checks each candidate once
            checked = {o.target for o in outs if o.node == node.id and o.round < r}
            targets = [o for o in inputs if o.answer is not None and o.id not in checked]
            return [
                {
                    **base,
                    "samples": [s],
                    "target": t.id,
                    "inputs": [t.id],
                    "prompt": render(
                        node.role, task, inputs, direction=direction, target=t, aspect=node.aspect
                    ),
                }
                for t in targets
                for s in samples
            ]
        answers = [o for o in inputs if o.answer is not None]
        if node.does == "refine" and answers:
            fb = [o for o in inputs if o.answer is None]
            return [
                {
                    **base,
                    "samples": [s],
                    "target": answers[s % len(answers)].id,
                    "inputs": [answers[s % len(answers)].id, *(f.id for f in fb)],
                    "prompt": render(
                        node.role, task, fb, direction=direction, target=answers[s % len(answers)]
                    ),
                }
                for s in samples
            ]
        if node.does in ("select", "fuse", "critique") and not answers:
            return []
        prompt = render(node.role, task, inputs, direction=direction, round_no=r)
        shown = (
            [o.id for o in inputs if o.answer is not None]
            if node.does in ("select", "fuse")
            else [o.id for o in inputs]
        )
        if node.sampling.mode == "first_m":
            return [
                {
                    **base,
                    "samples": samples,
                    "keep": node.sampling.m,
                    "prompt": prompt,
                    "inputs": shown,
                }
            ]
        return [{**base, "samples": [s], "prompt": prompt, "inputs": shown} for s in samples]

    def _function_items(
        self,
        node: NodeSpec,
        base: WorkItem,
        inputs: list[NodeOutput],
        outs: list[NodeOutput],
        samples: list[int],
    ) -> list[WorkItem]:
        """A function node's work: it reads its inputs as records (no prompt). One that
        scores gets every candidate not scored yet in one call; one that refines, one
        candidate per sample; one that works on answers is skipped without any."""
        answers = [o for o in inputs if o.answer is not None]
        if node.does == "score":
            checked = {o.target for o in outs if o.node == node.id and o.round < base["round"]}
            inputs = [o for o in answers if o.id not in checked]
        elif node.does in ("select", "fuse", "critique"):
            inputs = answers
        if not inputs and node.does in ("score", "select", "fuse", "critique", "refine"):
            return []
        items: list[WorkItem] = []
        for s in samples:
            shown = inputs
            item: WorkItem = {**base, "samples": [s], "prompt": ""}
            if node.does == "refine" and answers:
                target = answers[s % len(answers)]
                shown = [target, *(o for o in inputs if o.answer is None)]
                item["target"] = target.id
            item["inputs"] = [o.id for o in shown]
            item["records"] = [o.model_dump(mode="json") for o in shown]
            items.append(item)
        return items

    def _end_round(
        self,
        p: Plan,
        outs: list[NodeOutput],
        r: int,
        control: dict[str, Any],
        kind: Any,
        state: dict[str, Any],
    ) -> Plan:
        spec = self.spec
        p.events.append({"kind": "round_end", "round": r})
        looped = spec.rounds.controller is not None or spec.rounds.stop_on_agreement is not None
        ctrl = spec.rounds.controller
        if ctrl is not None:
            dec_out = [
                o for o in outs if o.node == ctrl and o.round == r and isinstance(o.output, dict)
            ]
            decision = dec_out[-1].output if dec_out else None
            if decision is None:
                p.events.append({"kind": "decision_missing", "round": r, "node": ctrl})
            else:
                enforced = self._apply(decision, r)
                p.decisions.append({"round": r, **decision, "enforced": enforced})
                p.events.append({"kind": "decision", "round": r, **decision, "enforced": enforced})
                if decision.get("action") == "stop":
                    p.finish = "stopped_by_ceo"
                    return p
                p.control = enforced["control"]
        thr = spec.rounds.stop_on_agreement
        if thr is not None:
            answers = [o.answer for o in outs if o.round == r and o.node in spec.candidate_nodes()]
            if answers and self._agrees(answers, kind, thr):
                p.events.append({"kind": "agreement", "round": r, "threshold": thr})
                p.finish = "ok"
                return p
        if r >= spec.rounds.max_rounds:
            p.finish = "max_rounds" if looped else "ok"
            return p
        p.next_round = r + 1
        return p

    def _apply(self, decision: dict[str, Any], r: int) -> dict[str, Any]:
        """Turn a Decision into next round's controls (what is enforced)."""
        control: dict[str, Any] = {"direction": str(decision.get("direction") or "")}
        critics = [n for n in self.spec.nodes if n.does == "critique"]
        active: dict[str, int] = {}
        recruit = int(decision.get("recruit") or 0)
        for c in critics:
            active[c.id] = min(recruit, c.n)
        control["active"] = active
        budget = int(decision.get("token_budget") or 0)
        control["max_tokens"] = budget if budget > 0 else None
        stop = decision.get("action") == "stop"
        return {"stop": stop, "control": control, "for_round": r + 1}
