"""``thinktank eval``, ``thinktank run`` and ``thinktank report``.

* ``eval`` runs a suite through one or more graphs (or a sweep) into a run directory
  and writes its report;
* ``run`` answers one question with one graph and prints the trace summary;
* ``report`` (re)writes a run directory's ``report.md`` and ``report.html``.

Heavy imports happen inside the commands, so ``thinktank --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape

from thinktank.cli.swe import SWE_ENV_HELP


def _fail(message: str, code: int = 1) -> NoReturn:
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


CHECK_HINT = "start the server or pass --model (--no-check-models skips this check)"
"""What to do when a model's endpoint does not answer before a run."""

TASKS_FAILED = 3
"""Exit code of ``eval`` and ``run`` when a task ended in error or degraded."""
FAILED_STATUSES = ("error", "degraded")


def parse_models(values: list[str] | None) -> dict[str, str] | str | None:
    """``--model`` values: ``SPEC`` (the default model) or ``ALIAS=SPEC`` (repeatable)."""
    if not values:
        return None
    out: dict[str, str] = {}
    for v in values:
        alias, eq, spec = v.partition("=")
        if eq and alias.isidentifier():
            out[alias] = spec
        else:
            out["default"] = v
    return out["default"] if list(out) == ["default"] else out


def _options(values: list[str] | None, flag: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for v in values or []:
        key, eq, raw = v.partition("=")
        if not eq or not key:
            _fail(f"{flag} takes key=value, not {v!r}")
        out[key] = yaml.safe_load(raw)
    return out


def executor_options(
    executor: str, address: str | None, values: list[str] | None
) -> dict[str, Any]:
    """``--executor``, ``--ray-address`` and ``--ray-opt`` → the runner's executor options."""
    from thinktank.evals.runs.executors import executor_names

    if executor not in executor_names():
        _fail(f"unknown executor {executor!r}; valid executors: {', '.join(executor_names())}")
    if executor != "ray":
        if address is not None or values:
            _fail("--ray-address and --ray-opt go with --executor ray")
        return {}
    out = _options(values, "--ray-opt")
    if address is not None:
        out["address"] = address
    return out


def environment_options(
    *,
    swe_env: str | None = None,
    repos: Path | None = None,
    swe_image: str | None = None,
    swe_data: list[str] | None = None,
    swe_logs: Path | None = None,
    sandbox: Path | None = None,
) -> dict[str, dict[str, Any]] | None:
    """The runner's per-kind environment options from the command line (``None``: defaults)."""
    from thinktank.cli.swe import harness_options
    from thinktank.errors import ThinktankError

    try:
        swe = harness_options(
            swe_env=swe_env, repos=repos, swe_image=swe_image, swe_data=swe_data,
            log_dir=swe_logs,
        )  # fmt: skip
        provider = None
        if sandbox is not None:
            from thinktank.sandboxes.config import read_sandbox_config

            provider = read_sandbox_config(sandbox)
    except ThinktankError as exc:
        _fail(str(exc))
    out: dict[str, dict[str, Any]] = {}
    if swe:
        out["swe"] = {"harness": swe}
    if provider is not None:
        for kind in ("swe", "code", "math"):
            out.setdefault(kind, {})["provider"] = provider
    return out or None


def eval_command(
    suite: str = typer.Option(
        ..., "--suite", help="Bundled suite name or a .jsonl/.json task file."
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
    memory: Path | None = typer.Option(None, "--memory", help="Memory bank database to read."),
    learn: str | None = typer.Option(
        None,
        "--learn",
        help="With --memory: learn after each task (reasoningbank, matts_parallel, "
        "matts_sequential, cheatsheet_cumulative, cheatsheet_synthesis).",
    ),
    learn_model: str | None = typer.Option(
        None, "--learn-model", help="Model that judges and extracts lessons (default: --model)."
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
    130 interrupted (--resume continues).
    """
    from rich.console import Console

    from thinktank.errors import ThinktankError
    from thinktank.evals.runs.runner import Runner
    from thinktank.evals.runs.sweep import expand_graphs
    from thinktank.evals.tasks.suites import load_suite
    from thinktank.llm.pricing import load_env_prices

    console = Console()
    options = _options(suite_opt, "--suite-opt")
    try:
        tasks = load_suite(suite, **options)
        graphs = expand_graphs(graph)
        load_env_prices()
    except ThinktankError as exc:
        _fail(str(exc))
    if resume:
        _check_resumable(out)
    if limit is not None:
        tasks = tasks[:limit]
    if retry_errors and not resume:
        _fail("--retry-errors continues a run: add --resume")
    ray_options = executor_options(executor, ray_address, ray_opt)
    env_options = environment_options(
        swe_env=swe_env, repos=repos, swe_image=swe_image, swe_data=swe_data,
        swe_logs=swe_logs, sandbox=sandbox,
    )  # fmt: skip
    if learn is not None:
        from thinktank.memory import LEARN_MODES

        if memory is None:
            _fail("--learn writes lessons into a memory bank: add --memory DB")
        if learn not in LEARN_MODES:
            _fail(f"unknown --learn mode {learn!r}; valid modes: {', '.join(LEARN_MODES)}")
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
                from thinktank.memory import MemoryLearner

                spec = learn_model or _default_model(parse_models(model))
                learner = MemoryLearner(spec, bank, mode=learn)
        except ThinktankError as exc:
            if bank is not None:
                bank.close()
            _fail(str(exc))
    suite_name = suite if not Path(suite).exists() else str(Path(suite).resolve())
    runner = Runner(
        tasks,
        graphs,
        parse_models(model),
        out_dir=out,
        concurrency=concurrency,
        budget_usd=budget_usd,
        seed=seed,
        memory=learner.memory if learner is not None else bank,
        resume=resume,
        retry_errors=retry_errors,
        stream=stream,
        on_task_done=learner,
        suite=suite_name,
        suite_options=options,
        limit=limit,
        executor=executor,
        executor_options=ray_options,
        environment_options=env_options,
        check_models=check_models,
        check_hint=CHECK_HINT,
    )
    console.print(
        f"eval: {len(tasks)} tasks × {len(graphs)} graph(s) "
        f"({escape(', '.join(g.label for g in graphs))}) → {escape(str(out))}"
    )
    console.print(escape(describe_models(parse_models(model))))
    console.print(escape(describe_reply_cap(parse_models(model))))
    interrupted = False
    try:
        summary = runner.run_sync()
    except ThinktankError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        interrupted = True
        console.print(
            "[yellow]interrupted[/yellow]: finished tasks are recorded; --resume continues"
        )
    finally:
        if learner is not None:
            from thinktank._sync import run_sync

            run_sync(learner.aclose())
        if bank is not None:
            bank.close()
    if not interrupted:
        _print_summary(console, summary)
        if learner is not None:
            st = learner.stats
            console.print(
                f"memory ({learner.mode}): learned from {st.tasks} results, {st.items} items "
                f"added, {st.used} item uses recorded, {st.warnings} warnings"
            )
    if report and (out / "records.sqlite").is_file():
        from thinktank.evals.reports.report import write_report

        paths = write_report(out, max_trajectories=trajectories)
        console.print(f"report: {next(p for p in paths if p.name == 'report.html')}")
    if interrupted:
        raise typer.Exit(130)
    if summary.errors or summary.degraded:
        raise typer.Exit(TASKS_FAILED)


def describe_models(models: dict[str, str] | str | None, flag: str = "--model") -> str:
    """``model: SPEC (where it came from)``: the line a command prints before it runs."""
    if models is None:
        import os

        from thinktank.llm.config import default_model_spec

        env = os.environ.get("THINKTANK_MODEL")
        source = "from THINKTANK_MODEL" if env else "THINKTANK_MODEL not set"
        return f"model: {default_model_spec()} ({source}, no {flag})"
    if isinstance(models, str):
        return f"model: {models} ({flag})"
    text = ", ".join(f"{alias}={spec}" for alias, spec in models.items())
    if "default" not in models and models:
        first = next(iter(models))
        return f"models: {text} ({flag}; nodes without a model use {first})"
    return f"models: {text} ({flag})"


def describe_reply_cap(models: dict[str, str] | str | None) -> str:
    """The ``max_tokens`` replies get when a node sets none (budgets reserve it per call)."""
    from thinktank.llm.config import default_model_spec, parse_model

    specs = (
        [models]
        if isinstance(models, str)
        else list(models.values())
        if models
        else [default_model_spec()]
    )
    caps = set()
    for spec in specs:
        try:
            caps.add(parse_model(spec).default_max_tokens)
        except Exception:  # a config file or an odd spec: the loader reports it later
            continue
    shown = "/".join(str(c) for c in sorted(caps)) or "1024"
    return (
        f"replies: max_tokens {shown} unless a node sets it; a budget near its end clips it to "
        "what it can still pay"
    )


def _check_resumable(out: Path) -> None:
    """``--resume`` continues a run: a directory holding none is a mistake, not a new run."""
    from thinktank.evals.runs.records import DB_NAME

    if not out.exists():
        _fail(
            f"--resume: {out} does not exist, so there is no run to continue; check the path "
            "(the --out of the run), or drop --resume to start a new run there"
        )
    if not (out / DB_NAME).is_file():
        _fail(
            f"--resume: {out} holds no run ({DB_NAME} is missing); check the path (the --out "
            "of the run), or drop --resume to start a new run there"
        )


def _default_model(models: dict[str, str] | str | None) -> str | None:
    if isinstance(models, dict):
        return models.get("default") or next(iter(models.values()), None)
    return models


def _print_summary(console: Any, summary: Any) -> None:
    from rich.table import Table

    t = Table(title="results")
    for h in ("graph", "accuracy"):
        t.add_column(h)
    for label, acc in summary.accuracy.items():
        t.add_row(escape(label), "–" if acc is None else f"{acc:.1%}")
    console.print(t)
    line = (
        f"{summary.recorded} recorded, {summary.skipped} already done, {summary.errors} errors, "
        + (f"{summary.degraded} degraded, " if summary.degraded else "")
        + f"spent ${summary.spent_usd:.4f} in {summary.wall_s:.1f}s"
        + (
            f" (the run: ${summary.spent_before_usd + summary.spent_usd:.4f} of its "
            f"${summary.budget_usd:g} budget)"
            if summary.budget_usd is not None and summary.spent_before_usd > 0
            else ""
        )
    )
    console.print(line)
    if summary.truncated:
        console.print(
            f"[yellow]{summary.truncated} task(s) truncated[/yellow] by their graph's budget "
            "(samples refused): their results are not what the graph gives unbounded; "
            "the report marks them"
        )
    if summary.stop_reason == "budget":
        console.print(
            f"[yellow]stopped: the run budget is spent[/yellow] ({summary.not_started} not started, "
            f"{summary.interrupted} interrupted); continue with --resume and a larger "
            "--budget-usd (the run's total over all sessions, not an addition)"
        )
    if summary.errors:
        console.print(f"[yellow]{summary.errors} task(s) errored[/yellow], by cause:")
        _print_causes(console, summary.error_causes)
        console.print("once the cause is fixed, rerun them with --resume --retry-errors")
    if summary.degraded:
        console.print(
            f"[yellow]{summary.degraded} task(s) degraded[/yellow] (selection fell back to a "
            "majority vote), by cause:"
        )
        _print_causes(console, summary.degraded_causes)


def _print_causes(console: Any, causes: dict[str, int]) -> None:
    for cause, n in sorted(causes.items(), key=lambda kv: -kv[1]):
        console.print(f"  {n} task{'s' if n > 1 else ''}: {escape(cause)}", soft_wrap=True)


def run_command(
    question: str = typer.Argument(..., help="The question to answer."),
    graph: str = typer.Option("single", "--graph", help="Topology[:k=v,...] or SPEC.yaml."),
    model: list[str] | None = typer.Option(None, "--model", help="Model or ALIAS=MODEL."),
    kind: str = typer.Option("text", "--kind", help="math, choice, text or code (answer voting)."),
    expected: str | None = typer.Option(None, "--expected", help="Judge the answer against this."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the full RunResult as JSON."),
) -> None:
    """Answer one question with one graph and print the trace summary.

    Exit codes: 0 the run ended ok (or stopped by its budget, rounds or
    CEO); 1 bad input; 2 a command-line usage error; 3 the run ended in
    error or degraded (the failed calls are printed, grouped by cause).
    """
    from thinktank.cli._trace import print_trace
    from thinktank.errors import ThinktankError
    from thinktank.evals.runs.sweep import expand_graph
    from thinktank.evals.tasks.task import TASK_KINDS, Task
    from thinktank.graphs.compiler import RunResult
    from thinktank.llm.budget import Budget
    from thinktank.llm.pricing import load_env_prices

    if kind not in TASK_KINDS:
        _fail(f"unknown kind {kind!r}; valid kinds: {', '.join(TASK_KINDS)}")
    try:
        load_env_prices()
        entries = expand_graph(graph)
        if len(entries) != 1:
            _fail("`thinktank run` takes one graph, not a sweep; use `thinktank eval` for sweeps")
        task = Task(id="question", kind=kind, prompt=question, expected=expected)  # type: ignore[arg-type]
    except (ThinktankError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(describe_models(parse_models(model)), err=True)  # stderr: --json stays JSON
    typer.echo(describe_reply_cap(parse_models(model)), err=True)

    async def go() -> tuple[RunResult, Any]:
        from thinktank.evals.tasks.evaluators import evaluate
        from thinktank.graphs import compile
        from thinktank.llm.config import load_model

        models = parse_models(model)
        loaded = (
            {k: load_model(v) for k, v in models.items()}
            if isinstance(models, dict)
            else load_model(models)
        )
        g = compile(entries[0].spec, models=loaded)
        res = await g.run(task, seed=seed, budget=_spec_budget(entries[0].spec, Budget))
        verdict = await evaluate(task, res.answer) if expected is not None else None
        for m in loaded.values() if isinstance(loaded, dict) else [loaded]:
            await m.aclose()
        return res, verdict

    import asyncio

    try:
        res, verdict = asyncio.run(go())
    except ThinktankError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(res.model_dump_json(indent=2))
    else:
        print_trace(res, label=entries[0].label, verdict=verdict)
    if res.status in FAILED_STATUSES:
        _print_run_failure(res)
        raise typer.Exit(TASKS_FAILED)


def _print_run_failure(res: Any) -> None:
    """Why a run ended ``error`` or ``degraded``, and its failed calls grouped by cause (stderr)."""
    from rich.console import Console

    from thinktank.evals.runs.run_types import group_causes

    console = Console(stderr=True, soft_wrap=True)
    console.print(f"[red]{escape(res.status)}:[/red] {escape(res.error or 'no answer')}")
    failed = [o.get("error") for o in res.trace.get("outputs", []) if o.get("error")]
    if failed:
        console.print("failed calls, by cause:")
        for n, cause in group_causes(failed):
            console.print(f"  {n} sample{'s' if n > 1 else ''}: {escape(cause)}")


def _spec_budget(spec: Any, budget_cls: Any) -> Any:
    b = spec.budget.model_dump()
    return budget_cls(**b, name="task") if any(v is not None for v in b.values()) else None


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
        _fail(str(exc))
    for p in paths:
        typer.echo(str(p))
