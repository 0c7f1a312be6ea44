"""The settings of one run: :class:`RunnerConfig`.

    config = RunnerConfig(out_dir="runs/math", concurrency=16, budget_usd=2.0)
    summary = await Runner(tasks, graphs, model, config).run()
    # or, the same: Runner(tasks, graphs, model, out_dir="runs/math", concurrency=16, ...)

What a run is given splits in two. Live objects — the tasks, the graphs, the models,
a memory bank, a judge model, the ``on_task_done`` hook, an executor object — are the
:class:`~thinktank.evals.runs.runner.Runner`'s arguments. Everything else is plain
settings, here, checked when the config is made (unknown names and bad values refused).

Not to be confused with :class:`~thinktank.evals.runs.run_types.RunConfig`: that is
what the run directory records (made from these settings and the live objects) and
checks a resumed run against.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from thinktank._configfile import Document
from thinktank._strict import StrictModel
from thinktank.errors import ConfigError
from thinktank.evals.runs.executors import check_executor_name


class RunnerConfig(StrictModel):
    """How one run runs (see the module docstring)."""

    out_dir: Path
    """The run directory: records, ``run.json``, the report (created when missing)."""
    concurrency: int = 8
    """Jobs (task, graph) in flight at once."""
    budget_usd: float | None = None
    """The run's budget in dollars, across sessions (``None``: unlimited); every model
    call, the hook's and the judge's included, reserves on it."""
    seed: int = 0
    """Seeds every job (a job's seed is derived from it, the task and the graph)."""
    executor: str = "local"
    """Where jobs run: ``local`` or an installed executor plugin (``ray``). An executor
    object given to the runner takes its place."""
    executor_options: dict[str, Any] = Field(default_factory=dict)
    """The executor's options (``ray``: :class:`thinktank.cluster.RayOptions` fields)."""
    resume: bool = False
    """Continue the run recorded in ``out_dir``: finished jobs are skipped."""
    retry_errors: bool = False
    """On resume, run jobs recorded as ``error`` again."""
    stream: bool = False
    """Tasks one at a time in order (graphs of a task in parallel), the hook after each."""
    progress: bool | None = None
    """Show a progress line (``None``: when stderr is a terminal)."""
    suite: str = "custom"
    """The suite's name, as recorded (a resumed run must name the same one)."""
    suite_options: dict[str, Any] = Field(default_factory=dict)
    """The options the suite was loaded with, as recorded."""
    environment_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Options of each task kind's environment, by kind: ``{"swe": {"repos": ...}}``."""
    limit: int | None = None
    """The ``--limit`` the tasks were cut to, as recorded (may change on resume)."""
    repeat: int = Field(default=1, ge=1, le=100)
    """Run every (graph, task) this many times, each repetition with its own seed; the
    report shows the run-to-run spread (``--repeat``)."""
    memory_ablation: bool = False
    """Every graph that reads memory also runs with memory off, on the same tasks with
    the same seeds; the report shows the paired gain and the tasks memory worsened
    (``--ablation``)."""
    memory_split: float | None = Field(default=None, gt=0, lt=1)
    """Learn on this fraction of the tasks (chosen by the seed), then evaluate on the
    rest with memory read-only: the report's accuracy is the held-out part's
    (``--memory-split``; needs an ``on_task_done`` learner)."""
    check_models: bool = True
    """Probe every model endpoint the run will call before anything starts."""
    check_hint: str | None = None
    """What to do when that probe fails (default: a hint about ``THINKTANK_MODEL``)."""

    @field_validator("executor_options", "suite_options", "environment_options", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("concurrency")
    @classmethod
    def _concurrency(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"concurrency must be at least 1, not {value}")
        return value

    @field_validator("budget_usd")
    @classmethod
    def _budget(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError(f"budget_usd must be >= 0, not {value}")
        return value

    @field_validator("executor")
    @classmethod
    def _executor(cls, value: str) -> str:
        check_executor_name(value)  # a ConfigError, which is a ValueError
        return value


def runner_config(config: RunnerConfig | None, settings: Mapping[str, Any]) -> RunnerConfig:
    """``config`` with ``settings`` (the runner's keyword arguments) on top, checked.

    Raises:
        TypeError: a setting that is no field (as for a misspelt keyword argument).
        ConfigError: a value that is refused, naming the field.
    """
    fields = RunnerConfig.model_fields
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise TypeError(
            f"Runner() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"its settings are: {', '.join(fields)}"
        )
    if config is not None and not settings:
        return config
    data = {k: getattr(config, k) for k in fields} if config is not None else {}
    data.update(settings)
    try:
        return RunnerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(Document(data).explain(exc, "Runner settings")) from None
