"""Selection: from a run's outputs to one final answer.

Methods (``SelectionSpec.method``):

* ``vote`` — majority over canonical answers of the candidate nodes' latest round.
* ``last`` — vote among the latest candidate node that ran (cascades, ModelSwitch).
* ``verifier`` — the candidate with the highest mean verifier score (best-of-N).
* ``mav`` — the candidate with the most verifier approvals, summed over every verifier
  node (one per aspect) unless ``by`` names one (multi-agent verification).
* ``judge`` — the candidate a listwise judge picked (majority of judge samples).
* ``fuser`` — the fuser's synthesized answer.
* ``first_finish`` / ``short_m_at_k`` — vote over the first m candidates to finish.
* ``ceo`` — the coordinator's final answer, else a vote.
* ``hybrid`` / ``test_vote`` — execution-based scores supplied by an execution scorer
  (see :mod:`thinktank.graphs.execution`), combined with judge scores for hybrid.
* ``module:function`` — your selection function ``fn(candidates, scores)``, given the
  candidates (with their vote counts) and :func:`scores_by_node`; it returns the chosen
  candidate, its id, or ``None`` to keep the vote (called by the compiled graph).

Ties in score are broken by the size of the candidate's answer group, then order.

When the node a method scores with (verifier, judge, fuser) ran but gave nothing
usable for any candidate — every call failed, or no reply could be read — the
answer falls back to the vote and ``detail["degraded"]`` says why; the run then
ends ``degraded`` (see :mod:`thinktank.graphs.compiler`). A scorer that did not run
at all (skipped by a condition, say) is no failure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel, Field

from thinktank.graphs.answers import AnswerKind, answer_kind_for, vote
from thinktank.graphs.spec import SELECT_METHODS, GraphSpec
from thinktank.graphs.state import NodeOutput


class Candidate(BaseModel):
    """A candidate answer with what selection made of it."""

    id: str
    node: str
    round: int
    answer: str | None
    key: str | None = None
    """Canonical voting key."""
    votes: int = 0
    """Size of its answer group among the candidates."""
    score: float | None = None
    """Mean verifier score, judge picks, or execution score, by method."""
    approvals: int = 0
    finished_at: float = 0.0


class SelectionResult(BaseModel):
    answer: str | None
    winner: str | None
    """Id of the winning candidate."""
    method: str
    candidates: list[Candidate] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


_ANSWER_KINDS = frozenset(get_args(AnswerKind))


def answer_kind(
    spec: GraphSpec, task_kind: str | None, metadata: Mapping[str, Any] | None = None
) -> AnswerKind:
    """How answers are compared: the spec's choice, else the task's own
    (``metadata["answer_kind"]``, e.g. ``exact`` for Game-of-24 expressions), else the
    task kind's default."""
    if spec.selection.answer_kind != "auto":
        return spec.selection.answer_kind
    own = (metadata or {}).get("answer_kind")
    if isinstance(own, str) and own in _ANSWER_KINDS:
        return own  # type: ignore[return-value]
    try:
        return answer_kind_for(task_kind or "text")
    except Exception:
        return "text"


def latest_candidates(spec: GraphSpec, outputs: Sequence[NodeOutput]) -> list[NodeOutput]:
    """Outputs of the candidate nodes from the latest round each produced answers in."""
    out: list[NodeOutput] = []
    for nid in spec.candidate_nodes():
        mine = [
            o for o in outputs if o.node == nid and o.answer is not None and o.status != "cancelled"
        ]
        if mine:
            last = max(o.round for o in mine)
            out += [o for o in mine if o.round == last]
    return out


def _candidates(cands: Sequence[NodeOutput], kind: AnswerKind) -> tuple[list[Candidate], Any]:
    result = vote([c.answer for c in cands], kind)
    key_of: dict[int, str] = {i: k for k, idx in result.groups.items() for i in idx}
    out = [
        Candidate(
            id=c.id,
            node=c.node,
            round=c.round,
            answer=c.answer,
            key=key_of.get(i),
            votes=len(result.groups.get(key_of.get(i, ""), [])),
            finished_at=c.finished_at,
        )
        for i, c in enumerate(cands)
    ]
    return out, result


def _by_vote(cands: list[Candidate], result: Any) -> tuple[str | None, str | None]:
    if result.winner is None:
        return None, None
    first = next(c for c in cands if c.key == result.winner)
    return first.answer, first.id


def _by_score(cands: list[Candidate]) -> tuple[str | None, str | None]:
    scored = [c for c in cands if c.score is not None]
    if not scored:
        return None, None
    best = max(scored, key=lambda c: (c.score or 0.0, c.votes, -cands.index(c)))
    return best.answer, best.id


def _failed_scorer(method: str, nodes: set[str], outputs: Sequence[NodeOutput]) -> str | None:
    """Why selection fell back to a vote, when the scorer ``nodes`` ran and all of it failed."""
    ran = [o for o in outputs if o.node in nodes and o.status != "cancelled"]
    if not ran:
        return None
    errors = [o.error for o in ran if o.error]
    names = ", ".join(repr(n) for n in sorted(nodes))
    what = f"{ran[0].role} {names}"
    if errors:
        how = f"{len(errors)} of {len(ran)} calls failed; first: {errors[0]}"
    else:
        how = f"none of its {len(ran)} replies could be used"
    return (
        f"selection {method!r} fell back to a majority vote: {what} gave no usable result ({how})"
    )


def scores_by_node(spec: GraphSpec, outputs: Sequence[NodeOutput]) -> dict[str, dict[str, float]]:
    """Candidate id → {scoring node: its mean score of the candidate}: what every node that
    scores (verifiers, your own scoring roles and function nodes) made of each candidate."""
    scorers = {n.id for n in spec.nodes if n.does == "score"}
    got: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in outputs:
        if o.node in scorers and o.target and isinstance(o.output, dict):
            score = o.output.get("score")
            if score is None and "verdict" in o.output:
                score = 1.0 if o.output["verdict"] else 0.0
            if score is not None:
                got[o.target][o.node].append(float(score))
    return {c: {n: sum(v) / len(v) for n, v in by.items()} for c, by in got.items()}


def select(
    spec: GraphSpec,
    outputs: Sequence[NodeOutput],
    *,
    task_kind: str | None = None,
    decisions: Sequence[dict[str, Any]] = (),
    exec_scores: dict[str, float] | None = None,
    task_metadata: Mapping[str, Any] | None = None,
) -> SelectionResult:
    """Pick the final answer of a run."""
    sel = spec.selection
    kind = answer_kind(spec, task_kind, task_metadata)
    raw = latest_candidates(spec, outputs)
    method = sel.method
    if method == "last" and raw:
        order = spec.order()
        last_node = max({c.node for c in raw}, key=order.index)
        raw = [c for c in raw if c.node == last_node]
    if method in ("first_finish", "short_m_at_k") and raw:
        m = 1 if method == "first_finish" else sel.m
        raw = sorted(raw, key=lambda c: c.finished_at)[:m]
    cands, result = _candidates(raw, kind)
    detail: dict[str, Any] = {"answer_kind": kind, "counts": dict(result.counts)}
    answer, winner = _by_vote(cands, result)

    if method in ("verifier", "mav"):
        # MAV: every verifier node counts (one per aspect) unless ``by`` names one.
        by_nodes = (
            {sel.by}
            if sel.by
            else {n.id for n in spec.nodes if n.does == "score"}
            if method == "mav"
            else {next(n.id for n in spec.nodes if n.does == "score")}
        )
        scores: dict[str, list[float]] = defaultdict(list)
        approvals: dict[str, int] = defaultdict(int)
        for o in outputs:
            if o.node in by_nodes and o.target and isinstance(o.output, dict):
                scores[o.target].append(float(o.output.get("score", 0.0)))
                approvals[o.target] += bool(o.output.get("verdict"))
        degraded = None
        if cands and not any(c.id in scores for c in cands):
            degraded = _failed_scorer(method, by_nodes, outputs)
        if degraded:
            detail["degraded"] = degraded  # no score at all: the vote stands
        else:
            for c in cands:
                c.approvals = approvals.get(c.id, 0)
                if method == "verifier" and scores.get(c.id):
                    c.score = sum(scores[c.id]) / len(scores[c.id])
                elif method == "mav":
                    c.score = float(c.approvals)
            a, w = _by_score(cands)
            if w is not None:
                answer, winner = a, w
    elif method == "judge":
        by = sel.by or next(n.id for n in spec.nodes if n.does == "select")
        picks: dict[str, int] = defaultdict(int)
        for o in outputs:
            if o.node == by and isinstance(o.output, dict) and o.inputs:
                best = int(o.output.get("best", 0))
                if 1 <= best <= len(o.inputs):
                    picks[o.inputs[best - 1]] += 1
        for c in cands:
            c.score = float(picks.get(c.id, 0))
        if picks:
            answer, winner = _by_score(cands)
        elif cands:
            degraded = _failed_scorer(method, {by}, outputs)
            if degraded:
                detail["degraded"] = degraded
        detail["judge_picks"] = dict(picks)
    elif method == "fuser":
        by = sel.by or next(n.id for n in spec.nodes if n.does == "fuse")
        fused = [o for o in outputs if o.node == by and o.answer is not None]
        if fused:
            last = max(o.round for o in fused)
            fr = vote([o.answer for o in fused if o.round == last], kind)
            pick = fr.representative([o.answer for o in fused if o.round == last])
            if pick is not None:
                answer, winner = pick, next(o.id for o in fused if o.answer == pick)
        elif cands:
            degraded = _failed_scorer(method, {by}, outputs)
            if degraded:
                detail["degraded"] = degraded
    elif method == "ceo":
        final = [d for d in decisions if d.get("answer")]
        if final:
            answer, winner = str(final[-1]["answer"]), None
    elif method not in SELECT_METHODS:  # a selection function: it is given these
        detail["scores"] = scores_by_node(spec, outputs)
    elif method in ("hybrid", "test_vote") and exec_scores is not None:
        for c in cands:
            c.score = exec_scores.get(c.id)
        a, w = _by_score(cands)
        if w is not None:
            answer, winner = a, w
    return SelectionResult(
        answer=answer, winner=winner, method=method, candidates=cands, detail=detail
    )
