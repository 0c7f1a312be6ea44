"""``thinktank optimize``: search collaboration graphs for the best accuracy per dollar.

    thinktank optimize --suite math --tasks 40 --space space.yaml \\
        --model-pool small=openai:gpt-4o-mini,large=openai:gpt-4o \\
        --budget-usd 5 --algo reinforce --out runs/opt

searches on a dev split of the tasks, re-evaluates the top graphs on a confirmation
split before declaring a best (``--confirm``, ``--top-k``) and runs that best once on a
held-out split (``--holdout``); writes ``best.yaml`` (run it with ``thinktank eval
--graph runs/opt/best.yaml``), ``pareto.json``, ``pareto.png``, ``progress.png``,
``search_log.jsonl`` and ``study.json``; running the same command again resumes the
study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape

from thinktank.cli._optimize_io import parse_split, print_result, split_dev


def _fail(message: str, code: int = 1) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def parse_pool(values: list[str]) -> dict[str, str]:
    """``--model-pool`` values: ``ALIAS=MODEL`` (comma-separated or repeated) or a YAML file."""
    from thinktank._configfile import read_mapping
    from thinktank.errors import ConfigError

    out: dict[str, str] = {}
    for value in values:
        p = Path(value)
        if p.suffix in (".yaml", ".yml", ".json") and p.is_file():
            data = read_mapping(p, "model pool (aliases to models)")
            out.update({str(k): str(v) for k, v in data.items()})
            continue
        for item in value.split(","):
            alias, eq, model = item.strip().partition("=")
            if not eq or not alias.isidentifier() or not model:
                raise ConfigError(
                    f"--model-pool takes ALIAS=MODEL (e.g. small=openai:gpt-4o-mini), not {item!r}"
                )
            out[alias] = model
    return out


def _env_options(values: list[str] | None) -> dict[str, dict[str, Any]]:
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for v in values or []:
        key, eq, raw = v.partition("=")
        kind, dot, name = key.partition(".")
        if not eq or not dot:
            _fail(f"--env-opt takes KIND.KEY=VALUE (e.g. math.python=false), not {v!r}")
        out.setdefault(kind, {})[name] = yaml.safe_load(raw)
    return out


def command(
    suite: str = typer.Option(
        ..., "--suite", help="Bundled suite name or a .jsonl/.json (.gz too) or .parquet task file."
    ),
    space: Path = typer.Option(..., "--space", help="Search space YAML (see thinktank.optimize)."),
    model_pool: list[str] = typer.Option(
        ..., "--model-pool", help="ALIAS=MODEL[,ALIAS=MODEL...] (repeatable) or a YAML file."
    ),
    out: Path = typer.Option(..., "--out", help="Output directory (study, cache, results)."),
    algo: str = typer.Option("tpe", "--algo", help="reinforce, tpe, nsga2, random, llm or grid."),
    budget_usd: float | None = typer.Option(
        None, "--budget-usd", min=0, help="Hard limit on everything the search spends."
    ),
    max_evals: int = typer.Option(30, "--max-evals", min=1, help="Distinct graphs to evaluate."),
    tasks: int | None = typer.Option(
        None, "--tasks", min=1, help="Use the first N tasks (before the splits below)."
    ),
    confirm: str = typer.Option(
        "0.2",
        "--confirm",
        help="Confirmation split: a fraction of the tasks (0: none) or a task file. The top "
        "graphs are re-evaluated on it before a best is declared.",
    ),
    holdout: str = typer.Option(
        "0.2",
        "--holdout",
        help="Held-out split: a fraction of the tasks (0: none) or a task file. The best "
        "graph runs it once at the end; never used to choose.",
    ),
    top_k: int = typer.Option(
        3,
        "--top-k",
        min=0,
        help="Graphs re-evaluated on the confirmation split (0: the dev leader is the best).",
    ),
    confirm_all: bool = typer.Option(
        False,
        "--confirm-all",
        help="Re-evaluate all --top-k graphs, not only those whose dev interval reaches "
        "the leader's.",
    ),
    suite_opt: list[str] | None = typer.Option(None, "--suite-opt", help="Suite option key=value."),
    seed: int = typer.Option(0, "--seed", help="Search seed."),
    eval_seed: int = typer.Option(0, "--eval-seed", help="Seed every graph runs with."),
    cost_weight: float = typer.Option(
        0.0, "--cost-weight", min=0, help="Score = accuracy - WEIGHT * dollars per task."
    ),
    prune: bool | None = typer.Option(
        None, "--prune/--no-prune", help="Successive-halving pruning (tpe; default: when possible)."
    ),
    prune_min_tasks: int = typer.Option(4, "--prune-min-tasks", min=1, help="First rung size."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Tasks in parallel."),
    feedback_model: str | None = typer.Option(
        None, "--feedback-model", help="Model of the LLM steps (reinforce feedback, --algo llm)."
    ),
    feedback_every: int = typer.Option(
        0, "--feedback-every", min=0, help="REINFORCE: LLM feedback every K batches (0: off)."
    ),
    batch: int = typer.Option(4, "--batch", min=1, help="REINFORCE: graphs per update."),
    cache: Path | None = typer.Option(None, "--cache", help="Evaluation cache file to share."),
    prices: Path | None = typer.Option(None, "--prices", help="YAML/JSON model price file."),
    env_opt: list[str] | None = typer.Option(
        None, "--env-opt", help="Task environment option KIND.KEY=VALUE (math.python=false)."
    ),
    baseline: int = typer.Option(
        0, "--baseline", min=0, help="Also run N random-search evaluations (OUT/baseline)."
    ),
    name: str = typer.Option("thinktank", "--name", help="Study name."),
    executor: str = typer.Option(
        "local", "--executor", help="Where evaluations run: local or ray (a cluster)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="With --executor ray: auto, ray://HOST:PORT or HOST:PORT."
    ),
    ray_opt: list[str] | None = typer.Option(
        None, "--ray-opt", help="Ray executor option key=value (workers=8, num_cpus=0.5, ...)."
    ),
    memory: Path | None = typer.Option(
        None, "--memory", help="Memory bank database that nodes with memory: true read from."
    ),
    check_models: bool = typer.Option(
        True,
        "--check-models/--no-check-models",
        help="Ask every model's endpoint once before the search starts; stop if one is down.",
    ),
) -> None:
    """Search collaboration graphs on a dev set; write best.yaml, the Pareto front and plots.

    The tasks are split (by --seed) into a dev set the search runs on, a confirmation set the top graphs are re-evaluated on before a best is declared, and a held-out set the best runs once at the end (reported next to its dev accuracy, never used to choose).
    """
    from rich.console import Console

    from thinktank.errors import ThinktankError
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.llm.config import load_model
    from thinktank.llm.pricing import load_env_prices, load_prices
    from thinktank.optimize import ReinforceConfig, SearchSpace, StudyConfig
    from thinktank.optimize.algorithms import check_algo
    from thinktank.optimize.space import SpaceError

    console = Console(soft_wrap=True)
    try:
        check_algo(algo)
        load_env_prices()
        if prices is not None:
            load_prices(prices)
        pool = parse_pool(model_pool)
        the_space = SearchSpace.load(space)
        try:
            the_space.bind(list(pool))  # the study binds it again; fail here, naming the file
        except SpaceError as exc:
            raise SpaceError(f"{space}: {exc}") from exc
        suite_options = {}
        for v in suite_opt or []:
            key, _, raw = v.partition("=")
            import yaml

            suite_options[key] = yaml.safe_load(raw)
        everything = load_suite(suite, **suite_options)
        if tasks is not None:
            everything = everything[:tasks]
        dev, confirm_set, holdout_set = split_dev(
            everything, parse_split(confirm, "--confirm"), parse_split(holdout, "--holdout"), seed
        )
        config = StudyConfig(
            name=name,
            algo=algo,  # type: ignore[arg-type]
            seed=seed,
            eval_seed=eval_seed,
            budget_usd=budget_usd,
            max_evals=max_evals,
            cost_weight=cost_weight,
            prune=prune,
            prune_min_tasks=prune_min_tasks,
            concurrency=concurrency,
            reinforce=ReinforceConfig(batch=batch, feedback_every=feedback_every),
            top_k=top_k,
            confirm_overlap=not confirm_all,
        )
        models = {alias: load_model(spec) for alias, spec in pool.items()}
        feedback = load_model(feedback_model) if feedback_model else None
    except ThinktankError as exc:
        _fail(str(exc))
    bank = None
    if memory is not None:
        from thinktank.memory import SQLiteMemoryBank

        try:
            bank = SQLiteMemoryBank(memory, create=True)
        except ThinktankError as exc:
            _fail(str(exc))
    if check_models:
        from thinktank.llm.preflight import check_models_sync

        try:
            check_models_sync(
                {**models, **({"feedback": feedback} if feedback is not None else {})},
                hint="start the server or fix --model-pool (--no-check-models skips this check)",
            )
        except ThinktankError as exc:
            _fail(str(exc))
    evaluator = _evaluator(
        executor, ray_address, ray_opt, models, pool, _env_options(env_opt), concurrency, bank
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "models.yaml").write_text("".join(f"{a}: {m}\n" for a, m in pool.items()))
    console.print(
        f"optimize: {algo} over {escape(the_space.name)} on {len(dev)} dev tasks of "
        f"{escape(suite)} ({len(confirm_set)} for confirmation, {len(holdout_set)} held out), "
        f"pool {escape(', '.join(pool))}"
        + (f", budget ${budget_usd:g}" if budget_usd is not None else "")
        + f" → {escape(str(out))}"
    )
    models_used = ", ".join(f"{alias}={spec}" for alias, spec in pool.items())
    console.print(escape(f"models: {models_used} (--model-pool)"))
    if feedback_model:
        console.print(escape(f"feedback model: {feedback_model} (--feedback-model)"))
    result = _run(
        console,
        the_space,
        dev,
        evaluator,
        config,
        out,
        cache,
        feedback,
        splits=(confirm_set, holdout_set),
    )
    if baseline and result.stop_reason != "budget":
        left = None if budget_usd is None else max(0.0, budget_usd - result.spent_usd)
        base_cfg = config.model_copy(
            update={"algo": "random", "max_evals": baseline, "budget_usd": left, "prune": None}
        )
        console.print(f"baseline: random search, {baseline} evaluations")
        _run(
            console,
            the_space,
            dev,
            evaluator,
            base_cfg,
            out / "baseline",
            cache or out / "evals.db",
            None,
            quiet=True,
        )
    if executor == "ray":  # stop the workers (and a private cluster) before reporting
        from thinktank._sync import run_sync

        run_sync(evaluator.aclose())
    from thinktank.optimize.report import write_optimize_report

    paths = write_optimize_report(out)
    print_result(console, result, out, suite, pool, paths[0])


def _evaluator(
    executor: str,
    address: str | None,
    values: list[str] | None,
    models: dict[str, Any],
    pool: dict[str, str],
    env_options: dict[str, dict[str, Any]],
    concurrency: int,
    memory: Any = None,
) -> Any:
    """The study's evaluator: this process's task worker, or a Ray cluster's workers."""
    from thinktank.cli.options import executor_options
    from thinktank.optimize import RunnerObjective

    options = executor_options(executor, address, values)
    if executor != "ray":
        return RunnerObjective(models, memory=memory, environment_options=env_options)
    from thinktank.cluster import RayObjective
    from thinktank.errors import ThinktankError

    try:  # model strings travel, so each node loads (and connects to) its own
        return RayObjective(
            pool,
            concurrency=concurrency,
            options=options,
            memory=memory,
            environment_options=env_options,
        )
    except ThinktankError as exc:
        _fail(str(exc))


def _run(
    console: Any,
    space: Any,
    dev: Any,
    evaluator: Any,
    config: Any,
    out: Path,
    cache: Path | None,
    feedback: Any,
    *,
    quiet: bool = False,
    splits: tuple[list[Any], list[Any]] = ([], []),
) -> Any:
    from thinktank.errors import ThinktankError
    from thinktank.optimize import Study

    def show(t: Any) -> None:
        if quiet or t.status == "cached":  # repeats of a graph already shown
            return
        acc = "" if t.accuracy is None else f" acc {t.accuracy:.3f} ${t.cost:.5f}/task"
        what = t.description or t.reason or ""
        line = f"  #{t.number} {t.status}{acc} (spent ${t.total_spent:.4f}) {what[:110]}"
        console.print(escape(line))
        if t.status == "truncated":
            console.print(escape(f"      not ranked: {t.reason}"))

    study = Study(
        space,
        dev,
        evaluator,
        config,
        confirm_tasks=splits[0],
        holdout_tasks=splits[1],
        out_dir=out,
        cache_path=cache,
        feedback_model=feedback,
        on_trial=show,
        on_step=None if quiet else lambda line: console.print(escape(line)),
    )
    try:
        return study.run_sync()
    except ThinktankError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: run the same command again to resume")
        raise typer.Exit(130) from None
