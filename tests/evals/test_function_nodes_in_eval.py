"""Function nodes named in a YAML graph get the run's sandbox on the paths that compile
graphs for the user: the eval runner (the task kind's ``--sandbox``, else Docker's
secure defaults) and ``thinktank run``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktank.cli.app import app
from thinktank.evals.runs.records import RunDatabase
from thinktank.evals.runs.runner import Runner
from thinktank.evals.tasks.task import Task
from thinktank.llm.simulator import SimulatorServer
from thinktank.llm.testing import FunctionModel
from thinktank.sandboxes.testing import require_docker

pytestmark = [pytest.mark.docker]

GRAPH = """
name: checked
nodes:
  - {id: solver, role: solver, n: 3, temperature: 0.8}
  - {id: check, role: "tests.evals._sandbox_nodes:product_in_sandbox"}
edges: [{source: solver, target: check}]
selection: {method: verifier, by: check}
"""


async def test_the_eval_runner_gives_a_yaml_function_node_a_sandbox(tmp_path: Path) -> None:
    require_docker()
    spec = tmp_path / "checked.yaml"
    spec.write_text(GRAPH)
    answers = iter(["Answer: 41", "Answer: 42", "Answer: 41"] * 3)
    model = FunctionModel(lambda _: next(answers))
    task = Task(id="t", kind="math", prompt="What is 6 times 7?", expected="42")
    out = tmp_path / "run"
    await Runner(
        [task], [str(spec)], model, out_dir=out, progress=False,
        environment_options={"math": {"python": False}},
    ).run()  # fmt: skip
    with RunDatabase.open(out) as db:
        [rec] = db.records(with_result=True)
    assert rec.status == "ok" and rec.error is None, rec.error
    assert rec.result is not None
    checks = [o for o in rec.result.trace.outputs if o.node == "check"]
    assert checks and all(o.error is None for o in checks), [o.error for o in checks]
    # the sandbox computed 42: the minority right answer wins over the vote's 41
    assert rec.answer == "42" and rec.correct


def test_thinktank_run_gives_a_yaml_function_node_a_sandbox(tmp_path: Path) -> None:
    require_docker()
    spec = tmp_path / "checked.yaml"
    spec.write_text(GRAPH)
    with SimulatorServer() as sim:
        res = CliRunner().invoke(
            app,
            ["run", "--graph", str(spec), "--model", f"openai:sim@{sim.base_url}",
             "What is 6 times 7?"],
        )  # fmt: skip
    assert "asked for a sandbox" not in res.output, res.output
    assert "Traceback" not in res.output
