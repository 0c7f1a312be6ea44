"""``thinktank eval`` and ``thinktank report``.

* ``eval`` runs a suite through one or more graphs (or a sweep) into a run directory
  and writes its report;
* ``report`` (re)writes a run directory's ``report.md`` and ``report.html``.

``thinktank run`` (one question, one graph) is :mod:`thinktank.cli.run`; the options
these commands share are :mod:`thinktank.cli.options`.

Heavy imports happen inside the commands, so ``thinktank --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from thinktank.cli.options import (
    BUDGET_STOPPED,
    CHECK_HINT,
    TASKS_FAILED,
    describe_models,
    describe_reply_cap,
    environment_options,
    executor_options,
    fail,
    key_values,
    parse_models,
    start_tracing,
    stop_tracing,
)
from thinktank.cli.swe_options import SWE_ENV_HELP


def _judge_choice(value: str) -> str:
    if value not in ("self", "oracle"):
        raise typer.BadParameter(f"{value!r}: self (the model judges) or oracle (the labels)")
    return value


def _fraction(value: float | None) -> float | None:
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(
            f"{value:g}: the fraction of tasks to learn on, 0 < F < 1 (e.g. 0.5)"
        )
    return value


def eval_command(
    suite: str = typer.Option(
        ..., "--suite", help="Bundled suite name or a .jsonl/.json (.gz too) or .parquet task file."
    ),
    graph: list[str] = typer.Option(
        ...,
        "--graph",
        help="Topology[:k=v,...] or SPEC.yaml; repeatable; `best_of_n:n=1,2,4,8` is a sweep.",
    ),
    model: list[str] | None = typer.Option(
        None, "--model", help="Model (openai:NAME[@URL], vllm:…, local:smollm2) or ALIAS=MODEL."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory (records, report)."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, help="Tasks in parallel."),
    budget_usd: float | None = typer.Option(
        None,
        "--budget-usd",
        min=0,
        help="The run's budget in dollars, its total over all sessions (with --resume too); "
        "no task starts once it is spent.",
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N tasks."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run: skip finished tasks."),
    retry_errors: bool = typer.Option(
        False, "--retry-errors", help="With --resume: run errored tasks again."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    memory: Path | None = typer.Option(
        None,
        "--memory",
        help="Memory bank (SQLite file) memory nodes read and --learn writes; made if missing.",
    ),
    learn: str | None = typer.Option(
        None,
        "--learn",
        help="With --memory: learn after each task (reasoningbank, matts_parallel, "
        "matts_sequential, cheatsheet_cumulative, cheatsheet_synthesis).",
    ),
    learn_model: str | None = typer.Option(
        None, "--learn-model", help="Model that judges and extracts lessons (default: --model)."
    ),
    learn_judge: str = typer.Option(
        "self",
        "--learn-judge",
        callback=_judge_choice,
        help="With --learn: who decides whether a run succeeded before lessons are written: "
        "self (the model, the default) or oracle (the suite's labels; results marked oracle).",
    ),
    memory_split: float | None = typer.Option(
        None,
        "--memory-split",
        callback=_fraction,
        help="With --learn: learn on this fraction of the tasks first (0 < F < 1), then "
        "evaluate the rest without learning; accuracy is the held-out part's.",
    ),
    ablation: bool = typer.Option(
        False,
        "--ablation",
        help="Also run every graph that reads memory with memory off (same tasks and "
        "seeds); the report shows the paired gain and the tasks memory worsened.",
    ),
    repeat: int = typer.Option(
        1,
        "--repeat",
        min=1,
        max=100,
        help="Run everything K times with different seeds (not with --learn: repetitions "
        "would share the bank).",
    ),
    stream: bool = typer.Option(
        False, "--stream", help="Tasks one at a time, in order (later tasks see earlier lessons)."
    ),
    suite_opt: list[str] | None = typer.Option(
        None, "--suite-opt", help="Suite loader option key=value (e.g. n=50 for game24)."
    ),
    report: bool = typer.Option(True, "--report/--no-report", help="Write the report at the end."),
    trajectories: int = typer.Option(300, "--trajectories", help="Trajectories in report.html."),
    executor: str = typer.Option(
        "local", "--executor", help="Where tasks run: local (this process) or ray (a cluster)."
    ),
    ray_address: str | None = typer.Option(
        None,
        "--ray-address",
        help="With --executor ray: auto, ray://HOST:PORT or HOST:PORT (default: a running "
        "cluster, else a private local one).",
    ),
    ray_opt: list[str] | None = typer.Option(
        None, "--ray-opt", help="Ray executor option key=value (workers=8, num_cpus=0.5, ...)."
    ),
    swe_env: str | None = typer.Option(None, "--swe-env", help=SWE_ENV_HELP),
    repos: Path | None = typer.Option(
        None,
        "--repos",
        help="SWE: folder of local clones (<owner>__<name>); default $THINKTANK_SWE_REPOS.",
    ),
    swe_image: str | None = typer.Option(
        None, "--swe-image", help="SWE official mode: image name template with {id} and {arch}."
    ),
    swe_data: list[str] | None = typer.Option(
        None, "--swe-data", help="SWE: REPO=HOST_DIR:SANDBOX_DIR files tests read (repeatable)."
    ),
    swe_logs: Path | None = typer.Option(
        None, "--swe-logs", help="SWE: write each judged patch's script, logs and report here."
    ),
    swe_judge_candidates: bool = typer.Option(
        False,
        "--swe-judge-candidates",
        help="SWE: judge every distinct candidate patch, not only the selected one "
        "(pass@k and the selection gap; one test run per distinct patch).",
    ),
    sandbox: Path | None = typer.Option(
        None, "--sandbox", help="Sandbox config file (YAML/JSON) for every task's sandboxes."
    ),
    check_models: bool = typer.Option(
        True,
        "--check-models/--no-check-models",
        help="Ask every model's endpoint once before the run starts; stop if one is down.",
    ),
) -> None:
    """Run a task suite through one or more graphs; record every result; write the report.

    Exit codes: 0 every task ran; 1 bad input, or the run could not start
    (a model is unreachable); 2 a command-line usage error; 3 some task
    ended in error or degraded (the causes are printed, grouped by cause);
    4 the run budget stopped the run before every task ran (--resume with a
    larger --budget-usd continues); 130 interrupted (--resume continues).
    """
    from rich.console import Console

    from thinktank.errors import ThinktankError
    from thinktank.evals.runs.config import RunnerConfig
    from thinktank.evals.runs.runner import Runner
    from thinktank.evals.runs.sweep import expand_graphs
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.llm.pricing import load_env_prices

    console = Console()
    options = key_values(suite_opt, "--suite-opt")
    try:
        tasks = load_suite(suite, **options)
        graphs = expand_graphs(graph)
        load_env_prices()
    except ThinktankError as exc:
        fail(str(exc))
    if resume:
        _check_resumable(out)
        budget_usd = _resumed_budget(out, budget_usd, console)
    if limit is not None:
        tasks = tasks[:limit]
    if retry_errors and not resume:
        fail("--retry-errors continues a run: add --resume")
    ray_options = executor_options(executor, ray_address, ray_opt)
    env_options = environment_options(
        swe_env=swe_env, repos=repos, swe_image=swe_image, swe_data=swe_data,
        swe_logs=swe_logs, sandbox=sandbox, swe_judge_candidates=swe_judge_candidates,
    )  # fmt: skip
    if learn is not None:
        from thinktank.learning import LEARN_MODES

        if memory is None:
            fail("--learn writes lessons into a memory bank: add --memory DB")
        if learn not in LEARN_MODES:
            fail(f"unknown --learn mode {learn!r}; valid modes: {', '.join(LEARN_MODES)}")
    if learn_judge != "self" and learn is None:
        fail("--learn-judge says who judges runs before lessons are written: add --learn MODE")
    if memory_split is not None and learn is None:
        fail("--memory-split learns on part of the tasks: add --learn MODE and --memory DB")
    if swe_judge_candidates and not any(t.kind == "swe" for t in tasks):
        console.print("[yellow]note[/yellow]: --swe-judge-candidates: this suite has no SWE task")
    if ablation and memory is None:
        fail("--ablation compares memory on and off: add --memory DB")
    if memory is not None and not any(n.memory for g in graphs for n in g.spec.nodes):
        console.print(
            "[yellow]note[/yellow]: no node of these graphs reads memory; turn it on in the "
            "topology, e.g. --graph 'best_of_n:n=4,memory=true,memory_k=3'"
        )
    bank = learner = None
    if memory is not None:
        from thinktank.memory import SQLiteMemoryBank

        try:
            bank = SQLiteMemoryBank(memory, create=True)
            if learn is not None:
                from thinktank.learning import LearnerConfig, MemoryLearner

                spec = learn_model or _default_model(parse_models(model))
                config = LearnerConfig(judge="oracle" if learn_judge == "oracle" else "self_judge")
                learner = MemoryLearner(spec, bank, mode=learn, config=config)
        except ThinktankError as exc:
            if bank is not None:
                bank.close()
            fail(str(exc))
    suite_name = suite if not Path(suite).exists() else str(Path(suite).resolve())
    settings = RunnerConfig(
        out_dir=out,
        concurrency=concurrency,
        budget_usd=budget_usd,
        seed=seed,
        resume=resume,
        retry_errors=retry_errors,
        stream=stream,
        suite=suite_name,
        suite_options=options,
        limit=limit,
        executor=executor,
        executor_options=ray_options,
        environment_options=env_options or {},
        check_models=check_models,
        check_hint=CHECK_HINT,
        repeat=repeat,
        memory_ablation=ablation,
        memory_split=memory_split,
    )
    memory_bank = learner.memory if learner is not None else bank
    try:
        runner = Runner(
            tasks, graphs, parse_models(model), settings, memory=memory_bank, on_task_done=learner
        )
    except ThinktankError as exc:
        if bank is not None:
            bank.close()
        fail(str(exc))
    console.print(
        f"eval: {len(tasks)} tasks × {len(runner.graphs)} graph(s) "
        f"({escape(', '.join(g.label for g in runner.graphs))}) → {escape(str(out))}"
    )
    if runner.learn_tasks:
        console.print(
            f"memory split: learning on {len(runner.learn_tasks)} tasks first, then "
            f"evaluating {len(tasks) - len(runner.learn_tasks)} with memory read-only"
        )
    console.print(escape(describe_models(parse_models(model))))
    console.print(escape(describe_reply_cap(parse_models(model))))
    interrupted = False
    start_tracing()
    try:
        summary = runner.run_sync()
    except ThinktankError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        interrupted = True
        console.print(
            "[yellow]interrupted[/yellow]: finished tasks are recorded; --resume continues"
        )
    finally:
        stop_tracing()
        if learner is not None:
            from thinktank._sync import run_sync

            run_sync(learner.aclose())
        if bank is not None:
            bank.close()
    if not interrupted:
        from thinktank.cli._eval_summary import print_summary

        print_summary(console, summary, runner)
        if learner is not None:
            st = learner.stats
            judged = (
                "ORACLE: judged with the suite's labels"
                if learner.config.judge == "oracle"
                else "judged by the model"
            )
            console.print(
                f"memory ({learner.mode}, {judged}): learned from {st.tasks} results, "
                f"{st.items} items added, {st.used} item uses recorded, {st.warnings} warnings"
            )
    if report and (out / "records.sqlite").is_file():
        from thinktank.evals.reports.report import write_report

        paths = write_report(out, max_trajectories=trajectories)
        console.print(f"report: {next(p for p in paths if p.name == 'report.html')}")
    if interrupted:
        raise typer.Exit(130)
    if summary.errors or summary.degraded:
        raise typer.Exit(TASKS_FAILED)
    if summary.stop_reason == "budget" and not summary.complete:
        raise typer.Exit(BUDGET_STOPPED)


def _resumed_budget(out: Path, given: float | None, console: Any) -> float | None:
    """The run budget of a resumed run: ``--budget-usd`` if given (the run's new total),
    else the one recorded; says which, and refuses a total the run has already spent."""
    from thinktank.evals.runs.records import RunDatabase

    with RunDatabase.open(out) as db:
        recorded, spent = db.config().budget_usd, db.run_spent_usd()
    budget = given if given is not None else recorded
    if budget is None:
        return None
    if given is None:
        console.print(
            f"budget: ${budget:g} for the run (recorded; --budget-usd sets a new total), "
            f"${spent:.4f} spent so far"
        )
    if spent >= budget:
        fail(
            f"--resume: the run has already spent ${spent:.4f} of its ${budget:g} budget, so "
            "nothing more can run; --budget-usd is the run's total over all sessions: pass a "
            f"larger one (e.g. --budget-usd {max(2 * budget, spent + budget):g})"
        )
    return budget


def _check_resumable(out: Path) -> None:
    """``--resume`` continues a run: a directory holding none is a mistake, not a new run."""
    from thinktank.evals.runs.records import DB_NAME

    if not out.exists():
        fail(
            f"--resume: {out} does not exist, so there is no run to continue; check the path "
            "(the --out of the run), or drop --resume to start a new run there"
        )
    if not (out / DB_NAME).is_file():
        fail(
            f"--resume: {out} holds no run ({DB_NAME} is missing); check the path (the --out "
            "of the run), or drop --resume to start a new run there"
        )


def _default_model(models: dict[str, str] | str | None) -> str | None:
    if isinstance(models, dict):
        return models.get("default") or next(iter(models.values()), None)
    return models


def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory (the --out of `thinktank eval`)."),
    trajectories: int = typer.Option(300, "--trajectories", help="Trajectories in report.html."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html."),
) -> None:
    """Write report.md and a self-contained report.html for a run directory."""
    from thinktank.errors import ThinktankError
    from thinktank.evals.reports.report import run_kind, write_report

    try:
        if run_kind(run_dir) == "optimize":
            import thinktank.optimize.report  # noqa: F401  (registers the optimizer's writer)
        paths = write_report(run_dir, html=html, max_trajectories=trajectories)
    except ThinktankError as exc:
        fail(str(exc))
    for p in paths:
        typer.echo(str(p))
