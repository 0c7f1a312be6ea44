"""Search collaboration graphs for the best accuracy per dollar on a tiny dev set.

The space: 1-8 solver samples, an optional verifier, vote or verifier selection.
Random search (the baseline) evaluates a few graphs; the best one is written as a
GraphSpec you can run with `thinktank eval --graph best.yaml`. Run with a real
endpoint (THINKTANK_MODEL=openai:gpt-4o-mini and OPENAI_API_KEY) or, with nothing
set, the embedded model (a plumbing check, not a capable model).
"""

import os
import tempfile

from thinktank import Task
from thinktank.optimize import RunnerObjective, SearchSpace, Study, StudyConfig

space = SearchSpace.from_yaml(
    """
name: verified-sampling
nodes:
  - {id: solver, role: solver, n: [1, 4, 8], temperature: [0.8], fields: {max_tokens: 256}}
  - {id: verifier, role: verifier, present: [false, true], fields: {max_tokens: 128}}
edges:
  - {source: solver, target: verifier, optional: false}
selection: [vote, verifier]
"""
)
dev = [
    Task(id="mul", kind="math", prompt="What is 17 * 23?", expected="391"),
    Task(id="sq", kind="math", prompt="What is 12 * 12 - 4?", expected="140"),
]
pool = {"default": os.environ.get("THINKTANK_MODEL") or "local:smollm2"}
evaluator = RunnerObjective(pool, environment_options={"math": {"python": False}})

with tempfile.TemporaryDirectory() as out:
    result = Study(
        space, dev, evaluator, StudyConfig(algo="random", max_evals=4), out_dir=out
    ).run_sync()
    best = result.best
    print(
        f"status={result.stop_reason} evaluations={result.evaluations} spent=${result.spent_usd:.4f}"
    )
    if best is not None:
        print(f"best: accuracy={best.accuracy:.2f} cost/task=${best.cost:.5f} {best.description}")
        print(result.best_spec.to_yaml() if result.best_spec else "")
