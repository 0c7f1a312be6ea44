"""Execution-based scores for code candidates (``hybrid`` and ``test_vote`` selection).

:class:`ExecutionScorer` runs candidate programs in a sandbox and returns one
score per candidate id, which :func:`thinktank.graphs.select.select` ranks by:

* ``test_vote`` (CodeMonkeys, S*): every candidate also wrote tests; every
  candidate runs against every generated test; the score is the share of tests
  passed (ties go to the larger group of equivalent programs).
* ``hybrid`` (R2E-Gym): an execution score — the share of the task's tests passed,
  or of the generated tests when the task has none — combined with the LLM
  verifiers' mean score (or a judge's share of picks) as
  ``exec_weight * exec + (1 - exec_weight) * llm``.

Task tests come from the task's ``metadata``: ``public_tests`` (a string or a list)
and ``test`` (HumanEval-style ``def check(candidate)`` with ``entry_point``, or
MBPP-style asserts; ``code_prompt`` and ``test_setup`` as in the code evaluator).
``test`` is usually the *hidden* evaluation test: selecting with it is an oracle.
Pass ``hidden_tests=False`` when measuring selection honestly.

Generated tests are fenced blocks tagged ``tests`` (or ``test``) in a candidate's
reply, the convention the ``test_vote`` and ``hybrid_verify`` topologies ask for.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from thinktank.graphs.answers.code import canonical_code, code_blocks, extract_code
from thinktank.graphs.select import latest_candidates
from thinktank.graphs.spec import GraphSpec
from thinktank.graphs.state import NodeOutput

_TEST_TAGS = frozenset({"tests", "test", "pytest", "unittest"})


def reply_text(traj: Any) -> str:
    """The last non-empty reply of a trajectory (a ``Trajectory`` or its dict)."""
    steps = traj.get("steps", []) if isinstance(traj, dict) else getattr(traj, "steps", [])
    for step in reversed(steps or []):
        text = step.get("text", "") if isinstance(step, dict) else getattr(step, "text", "")
        if text and text.strip():
            return str(text)
    return ""


def code_answer(traj: Any, fallback: str) -> str:
    """A code candidate's answer: its program as one fenced block, else ``fallback``."""
    code = extract_code(reply_text(traj))
    return f"```python\n{code}```" if code else fallback


def generated_tests(text: str) -> list[str]:
    """The tests a candidate wrote: fenced blocks tagged ``tests``/``test``."""
    return [code for tag, code in code_blocks(text) if tag in _TEST_TAGS and code.strip()]


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Sequence):
        return [str(v) for v in value if str(v).strip()]
    return []


def task_tests(metadata: dict[str, Any], *, hidden: bool = True) -> list[str]:
    """Test snippets from task metadata: ``public_tests``, then ``test`` (when ``hidden``)."""
    tests = _as_list(metadata.get("public_tests"))
    if hidden:
        tests += _as_list(metadata.get("test"))
    return tests


def _imports_of(source: str) -> str:
    return "\n".join(
        ln for ln in source.splitlines() if re.match(r"(?:from\s+\S+\s+)?import\s", ln)
    )


def program_with(code: str, test: str, metadata: dict[str, Any]) -> str:
    """Setup, the candidate (completing ``code_prompt`` when it only wrote a body), the
    test, and ``check(entry_point)`` when the test defines ``check``."""
    entry = metadata.get("entry_point")
    prompt = str(metadata.get("code_prompt") or "")
    defines = entry and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry)}\s*\(", code, re.M)
    program = (
        prompt + code if entry and prompt and not defines else _imports_of(prompt) + "\n" + code
    )
    parts = [str(metadata.get("test_setup") or ""), program, test]
    if entry and re.search(r"^def\s+check\s*\(", test, re.M):
        parts.append(f"check({entry})")
    return "\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def llm_scores(spec: GraphSpec, outputs: Sequence[NodeOutput]) -> dict[str, float]:
    """Execution-free scores in [0, 1]: mean verifier score, else a judge's share of picks."""
    verifiers = {n.id for n in spec.nodes if n.does == "score"}
    judges = {n.id for n in spec.nodes if n.does == "select"}
    if spec.selection.by:
        verifiers &= {spec.selection.by}
        judges &= {spec.selection.by}
    scores: dict[str, list[float]] = defaultdict(list)
    picks: dict[str, int] = defaultdict(int)
    judged = 0
    for o in outputs:
        if not isinstance(o.output, dict):
            continue
        if o.node in verifiers and o.target:
            scores[o.target].append(float(o.output.get("score", 0.0)))
        elif o.node in judges and o.inputs:
            judged += 1
            for cid in o.inputs:  # shown and not picked: a share of 0
                picks.setdefault(cid, 0)
            best = int(o.output.get("best", 0) or 0)
            if 1 <= best <= len(o.inputs):
                picks[o.inputs[best - 1]] += 1
    out = {cid: sum(v) / len(v) for cid, v in scores.items()}
    for cid, k in picks.items():
        out.setdefault(cid, k / max(1, judged))
    return out


@contextlib.asynccontextmanager
async def sandbox_session(sandbox: Any) -> AsyncIterator[Any]:
    """A started sandbox from what ``compile(..., sandbox=...)`` was given: a started
    sandbox is used as it is (and kept open); a provider or a config makes one that is
    closed when the block ends."""
    sb = sandbox
    if hasattr(sb, "run_python"):
        yield sb
        return
    if not hasattr(sb, "create"):
        from thinktank.sandboxes.provider import provider_from_config

        sb = provider_from_config(sb)
    box = await sb.create()
    try:
        yield box
    finally:
        await box.close()


class ExecutionScorer:
    """Scores code candidates by running tests in a sandbox.

    Args:
        sandbox: a started :class:`~thinktank.sandboxes.base.Sandbox` (kept open), a
            :class:`~thinktank.sandboxes.provider.SandboxProvider` or a sandbox config
            (a sandbox is created per scoring call and closed after).
        timeout_s: wall-clock limit of one test run.
        concurrency: test runs at once.
        hidden_tests: use ``metadata["test"]`` (usually the evaluation's hidden test).
    """

    def __init__(
        self,
        sandbox: Any,
        *,
        timeout_s: float = 10.0,
        concurrency: int = 4,
        hidden_tests: bool = True,
    ) -> None:
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self.hidden_tests = hidden_tests
        self.runs = 0
        """Test programs executed so far (for reports and tests)."""

    def _open(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return sandbox_session(self.sandbox)

    async def scores(
        self, spec: GraphSpec, outputs: Sequence[NodeOutput], task: dict[str, Any]
    ) -> dict[str, float]:
        """One score in [0, 1] per candidate id (see the module docstring)."""
        cands = latest_candidates(spec, outputs)
        meta = dict(task.get("metadata") or {})
        texts = {c.id: reply_text(c.trajectory or {}) or (c.answer or "") for c in cands}
        programs = {c.id: extract_code(texts[c.id]) or extract_code(c.answer or "") for c in cands}
        generated = _dedupe(t for cid in texts for t in generated_tests(texts[cid]))
        given = task_tests(meta, hidden=self.hidden_tests)
        if spec.selection.method == "test_vote":
            tests = generated or given
        else:
            tests = given or generated
        passed = await self._pass_rates(programs, tests, meta)
        if spec.selection.method != "hybrid":
            return passed
        w = spec.selection.exec_weight
        llm = llm_scores(spec, outputs)
        return {
            cid: w * passed[cid] + (1.0 - w) * llm[cid] if cid in llm else passed[cid]
            for cid in passed
        }

    async def _pass_rates(
        self, programs: dict[str, str | None], tests: list[str], meta: dict[str, Any]
    ) -> dict[str, float]:
        if not tests:
            return {cid: 0.0 for cid in programs}
        distinct = {canonical_code(p): p for p in programs.values() if p}
        sem = asyncio.Semaphore(self.concurrency)
        async with self._open() as box:

            async def one(code: str, test: str) -> bool:
                async with sem:
                    self.runs += 1
                    res = await box.run_python(
                        program_with(code, test, meta), timeout=self.timeout_s
                    )
                    return bool(res.exit_code == 0 and not res.timed_out)

            keys = list(distinct)
            jobs = [one(distinct[k], t) for k in keys for t in tests]
            flat = await asyncio.gather(*jobs)
        rate = {
            k: sum(flat[i * len(tests) : (i + 1) * len(tests)]) / len(tests)
            for i, k in enumerate(keys)
        }
        return {cid: rate[canonical_code(p)] if p else 0.0 for cid, p in programs.items()}


def _dedupe(items: Any) -> list[str]:
    seen: dict[str, str] = {}
    for t in items:
        seen.setdefault(canonical_code(t), t)
    return list(seen.values())
