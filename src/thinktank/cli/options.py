"""Command-line options shared by ``thinktank eval``, ``run`` and ``optimize``: models,
executors, environments, and how a command fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.markup import escape


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


CHECK_HINT = "start the server or pass --model (--no-check-models skips this check)"
"""What to do when a model's endpoint does not answer before a run."""

TASKS_FAILED = 3
"""Exit code of ``eval`` and ``run`` when a task ended in error or degraded."""
BUDGET_STOPPED = 4
"""Exit code of ``eval`` when the run budget stopped it before every task ran."""
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


def key_values(values: list[str] | None, flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` options (values read as YAML) → a mapping; a malformed one fails."""
    import yaml

    out: dict[str, Any] = {}
    for v in values or []:
        key, eq, raw = v.partition("=")
        if not eq or not key:
            fail(f"{flag} takes key=value, not {v!r}")
        out[key] = yaml.safe_load(raw)
    return out


def executor_options(
    executor: str, address: str | None, values: list[str] | None
) -> dict[str, Any]:
    """``--executor``, ``--ray-address`` and ``--ray-opt`` → the runner's executor options."""
    from thinktank.evals.runs.executors import executor_names

    if executor not in executor_names():
        fail(f"unknown executor {executor!r}; valid executors: {', '.join(executor_names())}")
    if executor != "ray":
        if address is not None or values:
            fail("--ray-address and --ray-opt go with --executor ray")
        return {}
    out = key_values(values, "--ray-opt")
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
    swe_judge_candidates: bool = False,
) -> dict[str, dict[str, Any]] | None:
    """The runner's per-kind environment options from the command line (``None``: defaults)."""
    from thinktank.cli.swe_options import harness_options
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
        fail(str(exc))
    out: dict[str, dict[str, Any]] = {}
    if swe:
        out["swe"] = {"harness": swe}
    if swe_judge_candidates:
        out.setdefault("swe", {})["judge_candidates"] = True
    if provider is not None:
        for kind in ("swe", "code", "math"):
            out.setdefault(kind, {})["provider"] = provider
    return out or None


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


def start_tracing() -> None:
    """OpenTelemetry export of the command's runs when the ``OTEL_*`` variables ask for it
    (:mod:`thinktank.telemetry`): one line on stderr says where spans go; a value it cannot
    use is a usage error. :func:`stop_tracing` flushes."""
    from thinktank import telemetry
    from thinktank.errors import ThinktankError

    try:
        if telemetry.configure_from_env():
            typer.echo(f"tracing: spans go to {telemetry.destination()}", err=True)
    except ThinktankError as exc:
        fail(f"tracing: {exc}")


def stop_tracing() -> None:
    """Export the spans still batched and stop tracing (nothing when it was off)."""
    from thinktank import telemetry

    telemetry.shutdown()
