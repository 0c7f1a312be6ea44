"""``thinktank optimize`` end to end on the simulator; its best.yaml runs with ``thinktank eval``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.optimize import landscape as L
from thinktank.cli.app import app
from thinktank.evals.tasks.task import dump_tasks
from thinktank.graphs.spec import GraphSpec


def test_optimize_writes_a_runnable_best_graph_the_plots_and_a_report(tmp_path: Path) -> None:
    tasks = dump_tasks(L.tasks(), tmp_path / "dev.jsonl")
    space = tmp_path / "space.yaml"
    space.write_text(L.SPACE_YAML)
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        yaml.safe_dump({m: {"input": i, "output": o} for m, (i, o) in L.PRICES.items()})
    )
    out = tmp_path / "opt"
    cli = CliRunner()
    with L.simulator() as (_, pool):
        models = [f"{alias}={model}" for alias, model in pool.items()]
        res = cli.invoke(
            app,
            [
                "optimize", "--suite", str(tasks), "--space", str(space),
                "--model-pool", ",".join(models), "--budget-usd", "1", "--algo", "tpe",
                "--max-evals", "4", "--prune", "--prune-min-tasks", "2", "--cost-weight", "2",
                "--out", str(out), "--prices", str(prices), "--env-opt", "math.python=false",
                "--baseline", "2",
            ],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "best: acc" in res.output and "thinktank eval --suite" in res.output
        for name in ("best.yaml", "pareto.json", "pareto.png", "progress.png",
                     "search_log.jsonl", "study.json", "report.md", "run.json"):  # fmt: skip
            assert (out / name).is_file(), name
        best = GraphSpec.load(out / "best.yaml")
        assert best.metadata["optimizer"]["algo"] == "tpe"
        pareto = json.loads((out / "pareto.json").read_text())
        assert pareto and all("accuracy" in p and "cost" in p for p in pareto)
        summary = json.loads((out / "study.json").read_text())
        assert summary["kind"] == "optimize" and summary["evaluations"] <= 4
        assert summary["spent_usd"] <= 1.0
        assert (out / "baseline" / "study.json").is_file()

        # the best graph runs as is
        ev = cli.invoke(
            app,
            ["eval", "--suite", str(tasks), "--graph", str(out / "best.yaml"),
             *[x for m in models for x in ("--model", m)], "--out", str(tmp_path / "eval"),
             "--no-report"],
        )  # fmt: skip
        assert ev.exit_code == 0, ev.output

    # `thinktank report` understands optimizer runs
    rep = cli.invoke(app, ["report", str(out)])
    assert rep.exit_code == 0, rep.output
    text = (out / "report.md").read_text()
    assert "## Best graph" in text and "## Pareto front" in text
    assert "Random-search baseline" in text and "random search" in text
    assert (out / "report.html").read_text().startswith("<!doctype html>")
