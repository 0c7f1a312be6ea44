"""Shared helpers of the benchmark scripts (see DESIGN.md, "Benchmarks").

Every script prints, as its last stdout line, one JSON object:
``{"bench", "metric", "value", "unit", "baseline", "ratio", "target", "ok", ...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="finish in under 45 s on 2 cores")
    return p


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[
        max(0, min(998, round(q * 1000) - 1))
    ]


def emit(
    bench: str,
    *,
    metric: str,
    value: float,
    unit: str,
    baseline: float | None,
    ratio: float | None,
    target: float,
    ok: bool,
    **extra: Any,
) -> None:
    """Print the result line (last line of stdout)."""
    line = {
        "bench": bench,
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 4),
        "ratio": None if ratio is None else round(ratio, 4),
        "target": target,
        "ok": bool(ok),
        **extra,
    }
    print(json.dumps(line), flush=True)


NO_PYTHON = {"math": {"python": False}}
"""Environment options: math tasks without the sandboxed python tool (no Docker)."""


def math_tasks(n: int) -> list[Any]:
    """``t{i}``: "What is i plus i?" (the simulator answers; ``expected`` is a constant)."""
    from thinktank.evals.tasks.task import Task

    return [
        Task(id=f"t{i}", kind="math", prompt=f"What is {i} plus {i}?", expected=42)
        for i in range(n)
    ]


def sim_model(url: str, concurrency: int) -> Any:
    """The model ``sim`` on the simulator at ``url``, its pool sized to ``concurrency``."""
    from thinktank.llm.openai import OpenAICompatModel

    return OpenAICompatModel("sim", base_url=url, api_key="sim-key", concurrency=concurrency)
