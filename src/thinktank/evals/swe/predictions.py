"""The official SWE-bench predictions format and evaluation report, both ways.

* :class:`Prediction` is one prediction (``instance_id``, ``model_name_or_path``,
  ``model_patch``) as the official harness (``python -m swebench.harness.run_evaluation
  --predictions_path preds.jsonl``) or a leaderboard submission reads it;
  :func:`write_predictions` writes them. A run directory's patches become predictions
  in ``thinktank.evals.reports.predictions`` (reading a run is a layer above this one).
* :func:`read_predictions` reads predictions made by any system (JSONL, a JSON list,
  or a JSON object keyed by instance id, as the official harness accepts; each with
  ``instance_id``, ``model_name_or_path`` and ``model_patch``) and
  :func:`judge_predictions` judges them with thinktank's harness, writing the
  official report's fields (per instance: ``patch_is_None``, ``patch_exists``,
  ``patch_successfully_applied``, ``resolved``, ``tests_status``; per run:
  ``resolved_ids``, ``unresolved_ids``, ``error_ids``, ``empty_patch_ids`` …), counted
  as the official harness counts them: totals over the whole suite, an empty patch is
  ``""`` or ``null``, a patch that does not apply is an error instance — so the two
  harnesses can be checked against each other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from thinktank.errors import ConfigError


class Prediction(BaseModel):
    """One prediction in the official format."""

    model_config = ConfigDict(extra="allow")

    instance_id: str
    model_name_or_path: str
    model_patch: str | None
    """The patch (``None``: no prediction was made)."""


def read_predictions(path: str | Path) -> list[Prediction]:
    """Predictions from ``path`` (``.jsonl``, a JSON list, or a JSON object by instance id)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read predictions {p}: {exc.strerror or exc}") from None
    rows: list[Any] = []
    stripped = text.lstrip()
    try:
        if p.suffix == ".jsonl" or (stripped and stripped[0] == "{" and "\n{" in stripped.strip()):
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise ConfigError(
                            f"{p}:{n}:{exc.colno}: not JSON ({exc.msg}); one prediction per line"
                        ) from None
        else:
            data = json.loads(text)
            rows = list(data.values()) if isinstance(data, dict) else list(data)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
    if not rows:
        raise ConfigError(f"{p} holds no predictions")
    out: list[Prediction] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        try:
            pred = Prediction.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "row"
            raise ConfigError(f"{p}: prediction {i}: {where}: {first['msg']}") from None
        if pred.instance_id in seen:
            raise ConfigError(f"{p}: instance {pred.instance_id} is predicted twice")
        seen.add(pred.instance_id)
        out.append(pred)
    return out


def write_predictions(predictions: Sequence[Prediction], path: str | Path) -> Path:
    """Write ``predictions`` as JSONL (the format the official harness reads)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "instance_id": x.instance_id,
                "model_name_or_path": x.model_name_or_path,
                "model_patch": x.model_patch,
            }
        )
        for x in predictions
    ]
    p.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return p


def instance_report(
    verdict: Any | None, prediction: Prediction, error: str | None = None
) -> dict[str, Any]:
    """The official per-instance report fields for a judged prediction."""
    entry: dict[str, Any] = {
        "patch_is_None": prediction.model_patch is None,
        "patch_exists": prediction.model_patch is not None,
        "patch_successfully_applied": False,
        "resolved": False,
    }
    if error is not None:
        entry["error"] = error
        return entry
    if verdict is None or prediction.model_patch is None:
        return entry
    d = verdict.details
    entry["patch_successfully_applied"] = d.get("apply_method") is not None and "FAIL_TO_PASS" in d
    if not entry["patch_successfully_applied"]:
        # the official harness stops at a patch that does not apply: an error instance
        entry["error"] = verdict.reason
    entry["resolved"] = bool(verdict.correct)
    if "FAIL_TO_PASS" in d:
        from thinktank.evals.swe.logs import PASSING

        def split(statuses: dict[str, str], maintained: bool) -> dict[str, list[str]]:
            ok = [t for t, s in statuses.items() if s in PASSING or (maintained and s == "SKIPPED")]
            return {"success": ok, "failure": [t for t in statuses if t not in ok]}

        entry["tests_status"] = {
            "FAIL_TO_PASS": split(d["FAIL_TO_PASS"], False),
            "PASS_TO_PASS": split(d["PASS_TO_PASS"], True),
            "FAIL_TO_FAIL": {"success": [], "failure": []},
            "PASS_TO_FAIL": {"success": [], "failure": []},
        }
    return entry


def run_report(
    instances: Sequence[str],
    predictions: Sequence[Prediction],
    per_instance: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The official run report's summary fields."""
    predicted = {p.instance_id: p for p in predictions}
    resolved = sorted(i for i, r in per_instance.items() if r.get("resolved"))
    errors = sorted(i for i, r in per_instance.items() if r.get("error"))
    empty = sorted(i for i, p in predicted.items() if not p.model_patch)  # None or ""
    completed = sorted(i for i in per_instance if i not in errors and i not in empty)
    unresolved = sorted(i for i in completed if i not in resolved)
    return {
        "total_instances": len(instances),
        "submitted_instances": len(predicted),
        "completed_instances": len(completed),
        "resolved_instances": len(resolved),
        "unresolved_instances": len(unresolved),
        "empty_patch_instances": len(empty),
        "error_instances": len(errors),
        "completed_ids": completed,
        "incomplete_ids": sorted(i for i in instances if i not in predicted),
        "empty_patch_ids": empty,
        "submitted_ids": sorted(predicted),
        "resolved_ids": resolved,
        "unresolved_ids": unresolved,
        "error_ids": errors,
        "schema_version": 2,
        "instances": per_instance,
    }


async def judge_predictions(
    predictions: Sequence[Prediction],
    tasks: Sequence[Any],
    harness: Any,
    *,
    concurrency: int = 2,
    on_done: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Judge every prediction with ``harness`` (a :class:`SWEHarness`) against ``tasks``
    (the suite's SWE tasks); the official report (see the module docstring)."""
    by_id = {t.id: t for t in tasks}
    unknown = sorted(p.instance_id for p in predictions if p.instance_id not in by_id)
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise ConfigError(
            f"predictions for instances not in the suite: {shown}; pass the suite they come from"
        )
    gate = asyncio.Semaphore(max(1, concurrency))
    per_instance: dict[str, dict[str, Any]] = {}

    async def one(pred: Prediction) -> None:
        if not pred.model_patch:
            entry = {**instance_report(None, pred), "empty": True}
        else:
            async with gate:
                try:
                    verdict = await harness.evaluate(by_id[pred.instance_id], pred.model_patch)
                    entry = instance_report(verdict, pred)
                except Exception as exc:  # one instance's infrastructure failure: recorded
                    entry = instance_report(None, pred, error=f"{type(exc).__name__}: {exc}")
        per_instance[pred.instance_id] = entry
        if on_done is not None:
            on_done(pred.instance_id, entry)

    await asyncio.gather(*(one(p) for p in predictions))
    return run_report([t.id for t in tasks], predictions, dict(sorted(per_instance.items())))
