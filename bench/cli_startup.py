"""CLI start-up: wall time of ``thinktank --help`` and ``thinktank graph show single``.

Each command runs in a fresh interpreter (the ``thinktank`` console script next to
this Python), spawned from here; the figure is the median wall time from spawn to
exit, nothing subtracted. The baseline, ``python -c pass``, is measured the same way
in the same run, and the three commands take turns in each repetition so that drifts
in machine load hit them alike.

Two settings:

* **cached** (the headline): bytecode cached as Python does by default (a private
  ``PYTHONPYCACHEPREFIX`` in a temporary directory, filled by one warm-up run of
  each command, so nothing is written into the tree or the virtualenv). An
  installed package starts like this from its second run on.
* **as configured**: the caller's environment unchanged. Where it sets
  ``PYTHONDONTWRITEBYTECODE=1`` and the virtualenv holds no ``.pyc`` files, every
  run compiles every third-party module it imports again (typer's help renderer
  alone, ``typer.rich_utils`` with rich's markdown and traceback modules, then
  costs about 0.3 s); reported beside the headline, not judged.

JSON: ``value`` = median of ``graph show single`` (cached), ``baseline`` = median of
``python -c pass`` (cached), ``ratio`` = value / baseline; ``help_s``/``show_s`` and
their targets; ``ok`` = help <= 0.5 s and graph show <= 1.0 s (cached medians).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit, parser

HELP_TARGET_S = 0.5
SHOW_TARGET_S = 1.0


def commands() -> dict[str, list[str]]:
    script = Path(sys.executable).with_name("thinktank")
    if script.exists():
        tt = [str(script)]
    else:  # not installed next to this Python: the same entry point (see environment())
        tt = [sys.executable, "-c", "from thinktank.cli.app import main; main()"]
    return {
        "baseline": [sys.executable, "-c", "pass"],
        "help": [*tt, "--help"],
        "show": [*tt, "graph", "show", "single"],
    }


def environment() -> dict[str, str]:
    """The caller's environment, plus ``src/`` on the path when thinktank is not installed."""
    env = dict(os.environ)
    if not Path(sys.executable).with_name("thinktank").exists():
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        )
    return env


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    return elapsed


def measure(env: dict[str, str], reps: int) -> dict[str, float]:
    """Median wall per command over ``reps`` rounds, rotating which goes first."""
    cmds = commands()
    names = list(cmds)
    walls: dict[str, list[float]] = {n: [] for n in names}
    for i in range(reps):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            walls[name].append(wall(cmds[name], env))
    return {n: statistics.median(w) for n, w in walls.items()}


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    reps = 7 if args.quick else 21
    inherited = environment()
    with tempfile.TemporaryDirectory(prefix="tt-pyc-") as cache_dir:
        cached = {k: v for k, v in inherited.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache_dir
        for cmd in commands().values():  # fill the bytecode cache
            wall(cmd, cached)
        warm = measure(cached, reps)
    as_configured = measure(inherited, reps)

    print(f"median wall over {reps} runs each (s)")
    print(f"  {'':28s} {'cached':>8s} {'as configured':>14s}")
    for name, label in (
        ("baseline", "python -c pass"),
        ("help", "thinktank --help"),
        ("show", "thinktank graph show single"),
    ):
        print(f"  {label:28s} {warm[name]:8.3f} {as_configured[name]:14.3f}")
    dont_write = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    print(f"  as configured: PYTHONDONTWRITEBYTECODE={'1' if dont_write else 'unset'}")
    help_s, show_s, base = warm["help"], warm["show"], warm["baseline"]
    emit(
        "cli_startup",
        metric="thinktank graph show single median wall (help_s: thinktank --help)",
        value=show_s,
        unit="s",
        baseline=base,
        ratio=show_s / base,
        target=SHOW_TARGET_S,
        ok=help_s <= HELP_TARGET_S and show_s <= SHOW_TARGET_S,
        help_s=round(help_s, 4),
        help_target=HELP_TARGET_S,
        show_s=round(show_s, 4),
        show_target=SHOW_TARGET_S,
        runs=reps,
        as_configured={
            "baseline_s": round(as_configured["baseline"], 4),
            "help_s": round(as_configured["help"], 4),
            "show_s": round(as_configured["show"], 4),
            "dont_write_bytecode": dont_write,
        },
    )


if __name__ == "__main__":
    main()
