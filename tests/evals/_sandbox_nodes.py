"""A function node for the eval tests: it checks each candidate answer by running
Python in the run's sandbox (imported by path, as a YAML graph names it)."""

from __future__ import annotations

from typing import Any

from thinktank import node


@node(does="score")
async def product_in_sandbox(task: Any, candidates: list[Any], ctx: Any) -> dict[str, float]:
    """1.0 for a candidate whose answer equals 6 * 7 as the sandbox computes it."""
    async with ctx.sandbox() as box:
        res = await box.run_python("print(6 * 7)", timeout=30)
    truth = res.stdout.strip()
    return {c.id: float((c.answer or "").strip() == truth) for c in candidates}
