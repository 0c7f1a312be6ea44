"""Task suites: the bundled ones and loaders for public benchmarks.

``load_suite(name)`` returns a list of :class:`~thinktank.evals.tasks.task.Task`:

==========  ==============================================================
``math``    60 word/arithmetic problems with exact answers + 10 Game-of-24 hands
``game24``  Game-of-24 hands from a seeded generator (``n=``, ``seed=``)
``code``    24 HumanEval-format problems with hidden tests
``swe``     7 small Python repositories with a real-looking bug each (SWE-bench schema)
``web``     26 questions (11 multi-hop) over a bundled fictional HTML corpus
==========  ==============================================================

A path to a ``.jsonl``/``.json`` file is loaded with
:func:`~thinktank.evals.tasks.suites.loaders.load_task_file` (Task, SWE-bench, HumanEval,
MBPP, GAIA or AIME/MATH records, recognised from their fields). Suite modules are
imported on first use.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinktank.errors import ConfigError

if TYPE_CHECKING:
    from thinktank.evals.tasks.task import Task


SUITES: dict[str, tuple[str, str]] = {
    "math": ("thinktank.evals.tasks.suites.bundled", "load_math_suite"),
    "game24": ("thinktank.evals.tasks.suites.bundled", "game24_tasks"),
    "code": ("thinktank.evals.tasks.suites.bundled", "load_code_suite"),
    "swe": ("thinktank.evals.swe.suite", "load_swe_suite"),
    "web": ("thinktank.evals.tasks.suites.bundled", "load_web_suite"),
}
"""Bundled suite names → (module, loader function), imported on first use."""


def suite_loader(name: str) -> Callable[..., list[Task]]:
    """The loader function of bundled suite ``name``."""
    try:
        module, attr = SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}") from None
    fn: Callable[..., list[Task]] = getattr(importlib.import_module(module), attr)
    return fn


def suite_names() -> list[str]:
    """Names accepted by :func:`load_suite`."""
    return list(SUITES)


def load_suite(name: str, **options: Any) -> list[Task]:
    """The tasks of bundled suite ``name``, or of a task file at path ``name``.

    ``options`` go to the suite's loader (e.g. ``load_suite("game24", n=50, seed=3)``,
    ``load_suite("math", game24=0)``). Unknown names raise
    :class:`~thinktank.errors.ConfigError` listing the valid ones.
    """
    if name in SUITES:
        loader = suite_loader(name)
        try:
            inspect.signature(loader).bind(**options)
        except TypeError:
            accepted = [
                p.name
                for p in inspect.signature(loader).parameters.values()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            raise ConfigError(
                f"suite {name!r} does not take options {sorted(options)}; "
                f"it accepts: {', '.join(accepted) or 'none'}"
            ) from None
        return loader(**options)
    path = Path(name)
    if path.suffix in (".jsonl", ".json", ".parquet", ".gz") or path.exists():
        from thinktank.evals.tasks.suites.loaders import load_task_file

        if options:
            return load_task_file(path, **options)
        return load_task_file(path)
    raise ConfigError(
        f"unknown suite {name!r}; valid suites: {', '.join(SUITES)} "
        "(or a path to a .jsonl/.json/.parquet task file; .jsonl.gz/.json.gz too)"
    )


__all__ = ["SUITES", "load_suite", "suite_loader", "suite_names"]
