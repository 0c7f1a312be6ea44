"""A run directory's SWE patches as official SWE-bench predictions.

:func:`run_predictions` turns a run's SWE records into predictions, one per instance
and graph (the format itself: ``thinktank.evals.swe.predictions``).
"""

from __future__ import annotations

from pathlib import Path

from thinktank.errors import ConfigError
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.swe.predictions import Prediction


def run_predictions(
    run_dir: str | Path, *, graph: str | None = None, model_name: str | None = None
) -> list[Prediction]:
    """Predictions from a run's SWE records (the judged patch of each instance).

    With several graphs in the run, ``graph`` picks one (each graph's predictions are
    a separate submission); ``model_name`` defaults to ``thinktank/<graph>``.
    """
    folder = Path(run_dir)
    if not (folder / "records.sqlite").is_file():
        raise ConfigError(f"{folder} is not a run directory (no records.sqlite)")
    with RunDatabase.open(folder) as db:
        records = [r for r in db.records() if r.kind == "swe"]
    if not records:
        raise ConfigError(f"{folder} holds no SWE records")
    graphs = sorted({r.graph for r in records})
    if graph is None and len(graphs) > 1:
        raise ConfigError(
            f"{folder} holds {len(graphs)} graphs ({', '.join(graphs)}); pick one with --graph"
        )
    chosen = graph or graphs[0]
    if chosen not in graphs:
        raise ConfigError(f"no graph {chosen!r} in {folder}; it holds: {', '.join(graphs)}")
    out = []
    for r in sorted((r for r in records if r.graph == chosen), key=lambda r: r.task_index):
        patch = r.verdict.answer if r.verdict else None
        out.append(
            Prediction(
                instance_id=r.task_id,
                model_name_or_path=model_name or f"thinktank/{chosen}",
                model_patch=patch if isinstance(patch, str) else None,
            )
        )
    return out
