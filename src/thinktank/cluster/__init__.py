"""Scale out on Ray: the eval runner's ``ray`` executor and the optimizer's objective.

    thinktank eval ... --executor ray --ray-address auto
    Runner(tasks, graphs, models, out_dir="runs/x", executor="ray",
           executor_options={"address": "auto"})
    RayObjective(pool, concurrency=32)          # for thinktank.optimize.Study

| module | what |
|---|---|
| ``connect.py`` | connect to a cluster, or start a private one on loopback |
| ``actor.py`` | ``TaskActor``: a worker process running jobs with its own ``TaskWorker`` |
| ``shared.py`` | cluster-wide run budget and per-endpoint request limit (actors + clients) |
| ``pool.py`` | ``WorkerPool``, ``RayOptions``: actors by resource profile, dispatch, failures |
| ``executor.py`` | ``RayExecutor``: the runner's ``ray`` executor |
| ``objective.py`` | ``RayObjective``: the optimizer's objective on the cluster |

Ray is an optional dependency (the ``ray`` extra) imported only when a cluster is
used, and this package is imported only by who asks for it: importing it costs
nothing, and the budget and limiter actors (``shared.py``) start without the eval
stack. How to run a cluster: ``thinktank/evals/README.md``, "Scale out on Ray".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinktank.cluster.executor import RayExecutor
    from thinktank.cluster.objective import RayObjective
    from thinktank.cluster.pool import RayOptions

__all__ = ["RayExecutor", "RayObjective", "RayOptions"]


def __getattr__(name: str) -> Any:
    # lazy, so that worker processes importing one module (the limiter's, say) load
    # only what it needs, and RayObjective's optimizer import stays with its users
    if name == "RayExecutor":
        from thinktank.cluster.executor import RayExecutor

        return RayExecutor
    if name == "RayObjective":
        from thinktank.cluster.objective import RayObjective

        return RayObjective
    if name == "RayOptions":
        from thinktank.cluster.pool import RayOptions

        return RayOptions
    raise AttributeError(name)
